import { expect } from "chai";
import { network } from "hardhat";
import { defaults, deployPodl, localWindows, overridesFromEnv, withOverrides } from "../../scripts/demo/deployment.js";
import { Settlement__factory, TaskMarket__factory, ValidatorRegistry__factory } from "../../types/index.js";

describe("deployPodl and its parameter overrides", () => {
  it("applies overrides field by field and leaves the rest at the defaults", () => {
    const p = withOverrides(defaults, localWindows, { market: { minerBondBps: "250" } });
    expect(p.market.keyWindow).to.equal(30n);
    expect(p.market.minerBondBps).to.equal(250n);
    expect(p.market.maxQueue).to.equal(defaults.market.maxQueue);
    expect(p.settlement.attestCommitWindow).to.equal(180n);
    expect(defaults.market.keyWindow).to.equal(600n);
  });

  it("refuses an unknown group, an unknown field and a value that is not an integer", async () => {
    expect(() => withOverrides(defaults, { markets: {} } as never)).to.throw(/unknown parameter group "markets"/);
    expect(() => withOverrides(defaults, { market: { keyWindowSeconds: 1 } } as never)).to.throw(/unknown parameter market.keyWindowSeconds/);
    expect(() => withOverrides(defaults, { market: { keyWindow: "ten" } })).to.throw(/market.keyWindow must be an integer/);
    expect(await overridesFromEnv('{"market":{"revealWindow":20}}')).to.deep.equal({ market: { revealWindow: 20 } });
    expect(await overridesFromEnv("local")).to.equal(localWindows);
    expect(await overridesFromEnv(undefined)).to.deep.equal({});
  });

  it("deploys, wires the settlement module into market and registry, and records the parameters", async () => {
    const { ethers } = await network.create();
    const [deployer] = await ethers.getSigners();
    const params = withOverrides(defaults, localWindows);
    const record = await deployPodl(deployer!, params, "test");
    const market = TaskMarket__factory.connect(record.contracts.TaskMarket, ethers.provider);
    expect(await market.settlement()).to.equal(record.contracts.Settlement);
    expect(await ValidatorRegistry__factory.connect(record.contracts.ValidatorRegistry, ethers.provider).settlement()).to.equal(record.contracts.Settlement);
    expect((await market.params()).keyWindow).to.equal(30n);
    expect((await Settlement__factory.connect(record.contracts.Settlement, ethers.provider).params()).attestCommitWindow).to.equal(180n);
    expect(record.params.market.revealWindow).to.equal("30");
    expect(record.block).to.equal(await ethers.provider.getBlockNumber());
  });
});
