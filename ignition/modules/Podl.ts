/**
 * The production deployment of PoDL as Hardhat Ignition modules: resumable (Ignition journals every
 * transaction under ignition/deployments/<id>/ and picks up where a failed run stopped), with every
 * field of `DeployParams` a module parameter of the same name (defaults: DESIGN.md §3, in
 * devnet/deployment.ts), set per network in ignition/parameters/<network>.json.
 *
 * `Podl` deploys the Ethereum L1 randomness (BlockhashRandomness); `PodlL2` takes the chain's
 * VrfRandomness as the parameter `randomnessSource` (docs/settlement.md, "Committee draw").
 * `npm run deploy` (scripts/deploy.ts) runs them and writes the address book the agents read.
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { ArgumentType } from "@nomicfoundation/ignition-core";
import { defaults, type DeployParams } from "../../devnet/deployment.js";

const ONE = 10n ** 18n;
const ETH = "0x0000000000000000000000000000000000000000";
/** ETH tasks mint at most 1,000 PODL per ETH of reward (issue 9 finding 4). */
const ETH_MINT_RATE = 1000n * ONE;

type ModuleBuilder = Parameters<Parameters<typeof buildModule>[1]>[0];

/** The fields of one parameter group, each read from the module parameter of its name. */
function parameters(m: ModuleBuilder, group: keyof DeployParams): Record<string, ArgumentType> {
  return Object.fromEntries(Object.entries(defaults[group]).map(([field, value]) => [field, m.getParameter(field, value)]));
}

/** ValidatorRegistry, TaskMarket, QueueLens, RewardToken and Settlement on `randomness`, wired as deployPodl wires them. */
function podl(m: ModuleBuilder, randomness: ArgumentType) {
  const owner = m.getAccount(0);
  const { ethMinReward, ...marketParams } = parameters(m, "market");
  const registry = m.contract("ValidatorRegistry", [owner, ETH, randomness, parameters(m, "registry")]);
  const market = m.contract("TaskMarket", [owner, registry, marketParams]);
  const queueLens = m.contract("QueueLens", [market]);
  const rewardToken = m.contract("RewardToken", [owner]);
  // Settlement calls the payout rules in the Payouts library (linked, to stay under 24 KiB)
  const payouts = m.library("Payouts");
  const settlement = m.contract("Settlement", [owner, market, registry, rewardToken, parameters(m, "settlement")], {
    libraries: { Payouts: payouts },
  });
  // The settlement module is set once on each contract it drives; ETH is the reference unit.
  m.call(market, "setSettlement", [settlement]);
  m.call(registry, "setSettlement", [settlement]);
  m.call(rewardToken, "setMinter", [settlement]);
  m.call(market, "setRewardToken", [ETH, ethMinReward!, ONE]);
  m.call(settlement, "setMintRate", [ETH, ETH_MINT_RATE]);
  return { registry, market, queueLens, rewardToken, settlement };
}

export const PodlModule = buildModule("Podl", (m) => {
  const randomness = m.contract("BlockhashRandomness", [m.getParameter("drawDelay", defaults.randomness.drawDelay)]);
  return { randomness, ...podl(m, randomness) };
});

export const PodlL2Module = buildModule("PodlL2", (m) => {
  const randomness = m.contractAt("VrfRandomness", m.getParameter<string>("randomnessSource"));
  return { randomness, ...podl(m, randomness) };
});

export default PodlModule;
