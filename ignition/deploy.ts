import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { NetworkConnection } from "hardhat/types/network";
import { defaults, type DeployParams, type DeploymentRecord, type ParamOverrides } from "../devnet/deployment.js";
import { VrfRandomness__factory } from "../types/index.js";
import { addressBook } from "./address-book.js";
import { PodlL2Module, PodlModule } from "./modules/Podl.js";

/**
 * Overrides from ignition/parameters/<network>.json (Ignition's own format: `{"Podl": {"keyWindow":
 * "600n", ...}}`, read for the module `moduleId`); none when the network has no file.
 */
export async function networkOverrides(file: string, moduleId: string): Promise<ParamOverrides> {
  if (!existsSync(file)) return {};
  const json = JSON.parse(await readFile(file, "utf8")) as Record<string, Record<string, unknown>>;
  const out: Record<string, Record<string, string>> = {};
  for (const [field, value] of Object.entries(json[moduleId] ?? {})) {
    if (field === "randomnessSource") continue;
    const group = (Object.keys(defaults) as (keyof DeployParams)[]).find((g) => field in defaults[g]);
    if (group === undefined) throw new Error(`${file}: unknown parameter ${moduleId}.${field} (known: drawDelay and the fields of ${Object.keys(defaults).join(", ")})`);
    (out[group] ??= {})[field] = String(value).replace(/n$/, "");
  }
  return out as ParamOverrides;
}

/**
 * Deploys PoDL through its Ignition module (`Podl` on L1, `PodlL2` on a VRF source) with `params`,
 * allows the registry and the market as the VRF source's consumers when the deployer owns it, and
 * returns the address book. Ignition resumes a deployment a failed run left half done.
 */
export async function deployWithIgnition(conn: NetworkConnection, params: DeployParams, options: { randomnessSource?: string } = {}): Promise<DeploymentRecord> {
  const [deployer] = await conn.ethers.getSigners();
  if (deployer === undefined) throw new Error(`network ${conn.networkName} has no account to deploy from`);
  const fields = Object.fromEntries(Object.values(params).flatMap((group: Record<string, bigint>) => Object.entries(group)));
  const { randomnessSource } = options;
  const deployed =
    randomnessSource === undefined
      ? await conn.ignition.deploy(PodlModule, { parameters: { Podl: fields }, displayUi: false })
      : await conn.ignition.deploy(PodlL2Module, { parameters: { PodlL2: { ...fields, randomnessSource } }, displayUi: false });
  if (options.randomnessSource !== undefined) {
    // A VRF source spends its subscription only for the consumers its owner allows; its owner does it otherwise.
    const vrf = VrfRandomness__factory.connect(options.randomnessSource, deployer);
    if ((await vrf.owner()) === deployer.address) {
      for (const consumer of [deployed.registry, deployed.market]) {
        const address = await consumer.getAddress();
        if (!(await vrf.isConsumer(address))) await (await vrf.setConsumer(address, true)).wait();
      }
    }
  }
  return await addressBook(deployed, params, { network: conn.networkName, deployer: deployer.address, provider: conn.ethers.provider });
}
