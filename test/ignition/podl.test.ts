import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { network } from "hardhat";
import { defaults, localWindows, withOverrides } from "../../devnet/deployment.js";
import { deployWithIgnition, networkOverrides } from "../../ignition/deploy.js";
import { RewardToken__factory, Settlement__factory, TaskMarket__factory, ValidatorRegistry__factory } from "../../types/index.js";

describe("ignition/modules/Podl: the production deployment", () => {
  it("deploys and wires what deployPodl does, and writes an address book whose start block is the head after it", async () => {
    const conn = await network.create();
    const params = withOverrides(defaults, localWindows, { market: { minerBondBps: 250 } });
    const record = await deployWithIgnition(conn, params);
    const { provider } = conn.ethers;
    const market = TaskMarket__factory.connect(record.contracts.TaskMarket, provider);
    expect(await market.settlement()).to.equal(record.contracts.Settlement);
    expect(await ValidatorRegistry__factory.connect(record.contracts.ValidatorRegistry, provider).settlement()).to.equal(record.contracts.Settlement);
    expect(await RewardToken__factory.connect(record.contracts.RewardToken, provider).minter()).to.equal(record.contracts.Settlement);
    expect((await market.params()).keyWindow).to.equal(30n);
    expect((await market.params()).minerBondBps).to.equal(250n);
    expect(await market.rewardToken("0x0000000000000000000000000000000000000000")).to.deep.equal([10n ** 12n, 10n ** 18n]);
    expect((await Settlement__factory.connect(record.contracts.Settlement, provider).params()).attestCommitWindow).to.equal(180n);
    expect(record.block).to.equal(await provider.getBlockNumber());
    expect(record.params.market.minerBondBps).to.equal("250");
    expect(record.chainId).to.equal("31337");
  });

  it("reads a network's parameter file in Ignition's format and names an unknown field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "podl-ignition-"));
    const file = join(dir, "net.json");
    await writeFile(file, JSON.stringify({ Podl: { keyWindow: "45n", committeeSize: 7, drawDelay: "3n" } }));
    expect(await networkOverrides(file, "Podl")).to.deep.equal({ market: { keyWindow: "45" }, settlement: { committeeSize: "7" }, randomness: { drawDelay: "3" } });
    expect(await networkOverrides(join(dir, "absent.json"), "Podl")).to.deep.equal({});
    await writeFile(file, JSON.stringify({ Podl: { keyWindowSeconds: "45n" } }));
    const error = await networkOverrides(file, "Podl").then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).to.match(/unknown parameter Podl\.keyWindowSeconds \(known: drawDelay and the fields of registry, randomness, market, settlement\)/);
  });
});
