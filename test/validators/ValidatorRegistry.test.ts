import { expect } from "chai";
import { network } from "hardhat";

const { ethers, networkHelpers } = await network.create();

const ZERO = ethers.ZeroAddress;
const ONE = 10n ** 18n;
const params = { minStake: ONE, unbondingPeriod: 3600n, drawDelay: 2n, maxValidators: 64n };

/**
 * Registry alone. The "settlement" here is a plain account the owner names as the settlement module,
 * to reach the restricted functions directly; the real Settlement contract is exercised in
 * Settlement.test.ts.
 */
async function deploy() {
  const [owner, settlement, outsider, ...validators] = await ethers.getSigners();
  const registry = await ethers.deployContract("ValidatorRegistry", [owner!.address, ZERO, params]);
  await registry.setSettlement(settlement!.address);
  return { registry, owner: owner!, settlement: settlement!, outsider: outsider!, validators };
}

async function deployStaked() {
  const f = await deploy();
  const stakes = [1n, 2n, 3n, 4n].map((x) => x * ONE);
  for (let i = 0; i < stakes.length; i++) {
    await f.registry.connect(f.validators[i]!).stake(stakes[i]!, { value: stakes[i]! });
  }
  return { ...f, stakes, staked: f.validators.slice(0, 4) };
}

describe("ValidatorRegistry", () => {
  describe("stake", () => {
    it("counts validators with stake >= minStake as bonded and holds their ETH", async () => {
      const { registry, staked, stakes } = await networkHelpers.loadFixture(deployStaked);
      expect(await registry.bondedCount()).to.equal(4n);
      const total = stakes.reduce((a, b) => a + b, 0n);
      expect(await registry.totalOwed()).to.equal(total);
      expect(await ethers.provider.getBalance(await registry.getAddress())).to.equal(total);
      expect((await registry.getValidator(staked[2]!.address)).stake).to.equal(3n * ONE);
    });

    it("tops up an existing stake without counting the validator twice", async () => {
      const { registry, staked } = await networkHelpers.loadFixture(deployStaked);
      await expect(registry.connect(staked[0]!).stake(ONE, { value: ONE }))
        .to.emit(registry, "Staked")
        .withArgs(staked[0]!.address, ONE, 2n * ONE);
      expect(await registry.bondedCount()).to.equal(4n);
    });

    it("rejects a zero stake", async () => {
      const { registry, validators } = await networkHelpers.loadFixture(deploy);
      await expect(registry.connect(validators[0]!).stake(0n)).to.be.revertedWithCustomError(registry, "StakeZero");
    });

    it("rejects ETH that does not match the amount", async () => {
      const { registry, validators } = await networkHelpers.loadFixture(deploy);
      await expect(registry.connect(validators[0]!).stake(ONE, { value: ONE - 1n }))
        .to.be.revertedWithCustomError(registry, "StakeValueMismatch")
        .withArgs(ONE, ONE - 1n);
    });

    it("rejects a first stake below minStake", async () => {
      const { registry, validators } = await networkHelpers.loadFixture(deploy);
      await expect(registry.connect(validators[0]!).stake(ONE / 2n, { value: ONE / 2n }))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(ONE / 2n, ONE);
    });

    it("rejects a validator beyond maxValidators", async () => {
      const { registry, owner, validators } = await networkHelpers.loadFixture(deploy);
      await registry.connect(owner).setParams({ ...params, maxValidators: 1n });
      await registry.connect(validators[0]!).stake(ONE, { value: ONE });
      await expect(registry.connect(validators[1]!).stake(ONE, { value: ONE }))
        .to.be.revertedWithCustomError(registry, "RegistryFull")
        .withArgs(1n);
    });
  });

  describe("ERC20 stake", () => {
    async function erc20() {
      const [owner, , , v] = await ethers.getSigners();
      const token = await ethers.deployContract("PlainTokenDouble");
      const registry = await ethers.deployContract("ValidatorRegistry", [owner!.address, await token.getAddress(), params]);
      await token.mint(v!.address, 10n * ONE);
      await token.connect(v!).approve(await registry.getAddress(), 10n * ONE);
      return { token, registry, v: v! };
    }

    it("pulls the token on stake and pays it back after unbonding", async () => {
      const { token, registry, v } = await networkHelpers.loadFixture(erc20);
      await expect(registry.connect(v).stake(3n * ONE)).to.changeTokenBalances(ethers, token, [v, registry], [-3n * ONE, 3n * ONE]);
      expect(await registry.bondedCount()).to.equal(1n);
      await registry.connect(v).requestUnbond();
      await networkHelpers.time.increase(3600);
      await expect(registry.connect(v).withdraw()).to.changeTokenBalances(ethers, token, [v, registry], [3n * ONE, -3n * ONE]);
    });

    it("rejects ETH sent with an ERC20 stake", async () => {
      const { registry, v } = await networkHelpers.loadFixture(erc20);
      await expect(registry.connect(v).stake(ONE, { value: 1n }))
        .to.be.revertedWithCustomError(registry, "StakeValueMismatch")
        .withArgs(ONE, 1n);
    });

    it("rejects a token that delivers less than the amount (fee on transfer)", async () => {
      const [owner, , , v] = await ethers.getSigners();
      const token = await ethers.deployContract("FeeOnTransferTokenDouble");
      const registry = await ethers.deployContract("ValidatorRegistry", [owner!.address, await token.getAddress(), params]);
      await token.mint(v!.address, 10n * ONE);
      await token.connect(v!).approve(await registry.getAddress(), 10n * ONE);
      await expect(registry.connect(v!).stake(2n * ONE)).to.be.revertedWithCustomError(registry, "StakeTransferShort");
      expect(await registry.bondedCount()).to.equal(0n);
    });
  });

  describe("unbonding", () => {
    it("leaves the bonded set at once and pays the stake after unbondingPeriod, to the wei", async () => {
      const { registry, staked } = await networkHelpers.loadFixture(deployStaked);
      const v = staked[1]!;
      await expect(registry.connect(v).requestUnbond()).to.emit(registry, "UnbondRequested");
      expect(await registry.bondedCount()).to.equal(3n);
      await expect(registry.connect(v).stake(ONE, { value: ONE }))
        .to.be.revertedWithCustomError(registry, "ValidatorUnbonding")
        .withArgs(v.address);
      await expect(registry.connect(v).withdraw()).to.be.revertedWithCustomError(registry, "UnbondingNotOver");
      await networkHelpers.time.increase(3600);
      await expect(registry.connect(v).withdraw()).to.changeEtherBalances(ethers, [v, registry], [2n * ONE, -2n * ONE]);
      expect(await registry.validators()).to.not.include(v.address);
      expect(await registry.totalOwed()).to.equal(8n * ONE);
    });

    it("rejects withdraw without an unbonding request", async () => {
      const { registry, staked } = await networkHelpers.loadFixture(deployStaked);
      await expect(registry.connect(staked[0]!).withdraw())
        .to.be.revertedWithCustomError(registry, "UnbondNotRequested")
        .withArgs(staked[0]!.address);
    });

    it("rejects requestUnbond from an account with no stake", async () => {
      const { registry, outsider } = await networkHelpers.loadFixture(deployStaked);
      await expect(registry.connect(outsider).requestUnbond()).to.be.revertedWithCustomError(
        registry,
        "ValidatorNotStaked",
      );
    });

    it("keeps a validator on an open committee from completing unbonding until released", async () => {
      const { registry, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      const start = await ethers.provider.getBlockNumber();
      await networkHelpers.mine(2);
      await registry.connect(settlement).drawCommittee(1n, 0n, start, ethers.ZeroHash, 4n, 3n, []);
      const v = staked[0]!;
      await registry.connect(v).requestUnbond();
      await networkHelpers.time.increase(3600);
      await expect(registry.connect(v).withdraw())
        .to.be.revertedWithCustomError(registry, "ValidatorOnCommittee")
        .withArgs(v.address, 1n);
      await registry.connect(settlement).releaseCommittee(1n, 0n, staked.map((s) => s.address));
      await expect(registry.connect(v).withdraw()).to.emit(registry, "Withdrawn").withArgs(v.address, ONE);
    });
  });

  describe("committee draw", () => {
    it("draws distinct bonded members, none of them excluded, and locks them", async () => {
      const { registry, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      const start = await ethers.provider.getBlockNumber();
      await networkHelpers.mine(2);
      const exclude = [staked[3]!.address];
      const tx = await registry.connect(settlement).drawCommittee(7n, 0n, start, ethers.id("seed"), 3n, 3n, exclude);
      const receipt = await tx.wait();
      const log = receipt!.logs.map((l) => registry.interface.parseLog(l)).find((l) => l?.name === "CommitteeDrawn");
      const members = log!.args.members as string[];
      expect(members).to.have.length(3);
      expect(new Set(members).size).to.equal(3);
      expect(members).to.not.include(staked[3]!.address);
      for (const m of members) {
        expect((await registry.getValidator(m)).openCommittees).to.equal(1n);
      }
    });

    it("rejects a draw fewer than drawDelay blocks after the request", async () => {
      const { registry, settlement } = await networkHelpers.loadFixture(deployStaked);
      const now = BigInt(await ethers.provider.getBlockNumber());
      await expect(registry.connect(settlement).drawCommittee(1n, 0n, now, ethers.ZeroHash, 3n, 3n, []))
        .to.be.revertedWithCustomError(registry, "DrawTooEarly")
        .withArgs(now, now + 2n);
    });

    it("rejects a draw with fewer eligible validators than the minimum committee", async () => {
      const { registry, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      await networkHelpers.mine(2);
      const exclude = [staked[0]!.address, staked[1]!.address];
      await expect(registry.connect(settlement).drawCommittee(1n, 0n, 0n, ethers.ZeroHash, 5n, 3n, exclude))
        .to.be.revertedWithCustomError(registry, "CommitteeTooSmall")
        .withArgs(2n, 3n);
    });

    it("draws each validator at its stake share over 1,000 seeds (within 5 percentage points)", async () => {
      const { registry, staked, stakes } = await networkHelpers.loadFixture(deployStaked);
      // a fifth validator with a large stake widens the spread of shares
      const big = (await ethers.getSigners())[12]!;
      await registry.connect(big).stake(10n * ONE, { value: 10n * ONE });
      const weights = new Map<string, bigint>(staked.map((s, i) => [s.address, stakes[i]!]));
      weights.set(big.address, 10n * ONE);
      const total = [...weights.values()].reduce((a, b) => a + b, 0n);
      const [accounts, hits] = await registry.drawFrequencies(ethers.id("frequency"), 1000n, 1n);
      expect(hits.reduce((a, b) => a + b, 0n)).to.equal(1000n);
      accounts.forEach((account, i) => {
        const share = Number(weights.get(account)!) / Number(total);
        const rate = Number(hits[i]!) / 1000;
        expect(Math.abs(rate - share), `${account}: rate ${rate}, share ${share}`).to.be.at.most(0.05);
      });
    });
  });

  describe("slashing", () => {
    it("moves bps of the stake to the recipients' credits and withdrawCredit pays it", async () => {
      const { registry, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      const [a, b, c] = staked;
      await expect(registry.connect(settlement).slash(1n, c!.address, 1000n, [a!.address, b!.address]))
        .to.emit(registry, "Slashed")
        .withArgs(1n, c!.address, (3n * ONE) / 10n, [a!.address, b!.address]);
      expect((await registry.getValidator(c!.address)).stake).to.equal(3n * ONE - (3n * ONE) / 10n);
      expect(await registry.creditOf(a!.address)).to.equal((3n * ONE) / 20n);
      expect(await registry.creditOf(b!.address)).to.equal((3n * ONE) / 20n);
      await expect(registry.connect(a!).withdrawCredit()).to.changeEtherBalance(ethers, a!, (3n * ONE) / 20n);
      await expect(registry.connect(a!).withdrawCredit())
        .to.be.revertedWithCustomError(registry, "NoCredit")
        .withArgs(a!.address);
    });

    it("slashes at most once per validator and task", async () => {
      const { registry, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      const [a, , c] = staked;
      await registry.connect(settlement).slash(1n, c!.address, 1000n, [a!.address]);
      const after = (await registry.getValidator(c!.address)).stake;
      await expect(registry.connect(settlement).slash(1n, c!.address, 1000n, [a!.address])).to.not.emit(
        registry,
        "Slashed",
      );
      expect((await registry.getValidator(c!.address)).stake).to.equal(after);
      expect(await registry.wasSlashed(1n, c!.address)).to.equal(true);
      // another task may slash again
      await expect(registry.connect(settlement).slash(2n, c!.address, 1000n, [a!.address])).to.emit(registry, "Slashed");
    });

    it("rejects slashing more than the whole stake", async () => {
      const { registry, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      await expect(registry.connect(settlement).slash(1n, staked[0]!.address, 10_001n, [staked[1]!.address]))
        .to.be.revertedWithCustomError(registry, "SlashFractionTooLarge")
        .withArgs(10_001n);
    });

    it("drops a validator slashed below minStake from the bonded set", async () => {
      const { registry, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      await registry.connect(settlement).slash(1n, staked[0]!.address, 1n, [staked[1]!.address]);
      expect(await registry.bondedCount()).to.equal(3n);
      expect(await registry.totalOwed()).to.equal(10n * ONE);
    });
  });

  describe("access control and parameters", () => {
    it("lets only the settlement module draw, release and slash", async () => {
      const { registry, outsider, staked } = await networkHelpers.loadFixture(deployStaked);
      const r = registry.connect(outsider);
      await expect(r.drawCommittee(1n, 0n, 0n, ethers.ZeroHash, 3n, 3n, []))
        .to.be.revertedWithCustomError(registry, "CallerNotSettlement")
        .withArgs(outsider.address);
      await expect(r.releaseCommittee(1n, 0n, [])).to.be.revertedWithCustomError(registry, "CallerNotSettlement");
      await expect(r.slash(1n, staked[0]!.address, 1n, [outsider.address])).to.be.revertedWithCustomError(
        registry,
        "CallerNotSettlement",
      );
    });

    it("sets the settlement module once, by the owner only", async () => {
      const { registry, owner, outsider } = await networkHelpers.loadFixture(deploy);
      await expect(registry.connect(owner).setSettlement(outsider.address)).to.be.revertedWithCustomError(
        registry,
        "SettlementAlreadySet",
      );
      const fresh = await ethers.deployContract("ValidatorRegistry", [owner.address, ZERO, params]);
      await expect(fresh.connect(outsider).setSettlement(outsider.address)).to.be.revertedWithCustomError(
        fresh,
        "OwnableUnauthorizedAccount",
      );
      await expect(fresh.connect(owner).setSettlement(outsider.address))
        .to.emit(fresh, "SettlementSet")
        .withArgs(outsider.address);
    });

    it("rejects every parameter out of bounds and emits each change", async () => {
      const { registry, owner, outsider } = await networkHelpers.loadFixture(deploy);
      const bad: [string, typeof params][] = [
        ["minStake", { ...params, minStake: 0n }],
        ["unbondingPeriod", { ...params, unbondingPeriod: 60n * 86400n + 1n }],
        ["drawDelay", { ...params, drawDelay: 0n }],
        ["drawDelay", { ...params, drawDelay: 257n }],
        ["maxValidators", { ...params, maxValidators: 0n }],
        ["maxValidators", { ...params, maxValidators: 513n }],
      ];
      for (const [name, p] of bad) {
        await expect(registry.connect(owner).setParams(p))
          .to.be.revertedWithCustomError(registry, "RegistryParamOutOfBounds")
          .withArgs(name, (p as Record<string, bigint>)[name]!);
      }
      await expect(registry.connect(outsider).setParams(params)).to.be.revertedWithCustomError(
        registry,
        "OwnableUnauthorizedAccount",
      );
      await expect(registry.connect(owner).setParams({ ...params, drawDelay: 5n })).to.emit(
        registry,
        "RegistryParamsSet",
      );
      expect((await registry.params()).drawDelay).to.equal(5n);
    });

    it("recounts bonded validators when minStake changes", async () => {
      const { registry, owner } = await networkHelpers.loadFixture(deployStaked);
      await registry.connect(owner).setParams({ ...params, minStake: 3n * ONE });
      expect(await registry.bondedCount()).to.equal(2n);
    });
  });
});
