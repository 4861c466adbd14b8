import { expect } from "chai";
import { network } from "hardhat";
import { defaults, deployPodl, handOverToTimelock, localWindows, overridesFromEnv, withOverrides } from "../../devnet/deployment.js";
import { Interface, ZeroHash, keccak256, toUtf8Bytes } from "ethers";
import { PodlTimelock__factory, Settlement__factory, TaskMarket__factory, ValidatorRegistry__factory } from "../../types/index.js";

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
    // ETH is the reference unit, listed with the deployment's minimum (issue 9 finding 13).
    expect(await market.rewardToken("0x0000000000000000000000000000000000000000")).to.deep.equal([10n ** 12n, 10n ** 18n]);
    expect(record.params.market.ethMinReward).to.equal("1000000000000");
    expect((await Settlement__factory.connect(record.contracts.Settlement, ethers.provider).params()).attestCommitWindow).to.equal(180n);
    expect(record.params.market.revealWindow).to.equal("30");
    expect(record.block).to.equal(await ethers.provider.getBlockNumber());
  });

  it("hands every contract's ownership to a timelock: owner calls then go through its queue only", async () => {
    const { ethers, networkHelpers } = await network.create();
    const [deployer, outsider] = await ethers.getSigners();
    const params = withOverrides(defaults, localWindows);
    const record = await deployPodl(deployer!, params, "test");
    const { ValidatorRegistry, TaskMarket, RewardToken, Settlement } = record.contracts;
    const delay = 3600n;
    const { timelock, accepted } = await handOverToTimelock(deployer!, [ValidatorRegistry, TaskMarket, RewardToken, Settlement], delay);
    expect(accepted).to.equal(false);
    const market = TaskMarket__factory.connect(TaskMarket, deployer!);
    // Ownable2Step: pending until the timelock accepts, which it can only do after the delay.
    expect(await market.pendingOwner()).to.equal(timelock);
    const lock = PodlTimelock__factory.connect(timelock, deployer!);
    const ownable = new Interface(["function acceptOwnership()"]);
    const targets = [ValidatorRegistry, TaskMarket, RewardToken, Settlement];
    const calls = targets.map(() => ownable.encodeFunctionData("acceptOwnership"));
    const salt = keccak256(toUtf8Bytes("podl: accept ownership"));
    await expect(lock.executeBatch(targets, targets.map(() => 0n), calls, ZeroHash, salt)).to.be.revertedWithCustomError(lock, "TimelockUnexpectedOperationState");
    await networkHelpers.time.increase(delay);
    await lock.executeBatch(targets, targets.map(() => 0n), calls, ZeroHash, salt);
    for (const target of targets) expect(await TaskMarket__factory.connect(target, ethers.provider).owner()).to.equal(timelock);
    // The deployer alone can no longer change parameters.
    await expect(market.setParams(params.market)).to.be.revertedWithCustomError(market, "OwnableUnauthorizedAccount");
    await expect(lock.connect(outsider!).schedule(TaskMarket, 0n, market.interface.encodeFunctionData("setParams", [params.market]), ZeroHash, salt, delay))
      .to.be.revertedWithCustomError(lock, "AccessControlUnauthorizedAccount");
  });
});

