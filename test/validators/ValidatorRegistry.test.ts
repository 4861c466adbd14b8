import { expect } from "chai";
import { network } from "hardhat";

const { ethers, networkHelpers } = await network.create();

const ZERO = ethers.ZeroAddress;
const ONE = 10n ** 18n;
const params = { minStake: ONE, unbondingPeriod: 3600n, warmupBlocks: 1n, maxValidators: 64n };
/** The L1 randomness source's delay: a draw reads the hash of the block two blocks after its request. */
const DRAW_DELAY = 2;

/**
 * Registry alone. The "settlement" here is a plain account the owner names as the settlement module,
 * to reach the restricted functions directly; the real Settlement contract is exercised in
 * Settlement.test.ts.
 */
async function deploy() {
  const [owner, settlement, outsider, ...validators] = await ethers.getSigners();
  const source = await ethers.deployContract("BlockhashRandomness", [BigInt(DRAW_DELAY)]);
  const registry = await ethers.deployContract("ValidatorRegistry", [owner!.address, ZERO, await source.getAddress(), params]);
  await registry.setSettlement(settlement!.address);
  return { registry, source, owner: owner!, settlement: settlement!, outsider: outsider!, validators };
}

type Registry = Awaited<ReturnType<typeof deploy>>["registry"];
type Signer = Awaited<ReturnType<typeof deploy>>["settlement"];

/** Requests a draw, mines past the randomness delay and draws; returns the members in draw order. */
async function requestAndDraw(registry: Registry, settlement: Signer, taskId: bigint, size: bigint, minSize: bigint, exclude: string[] = []) {
  await registry.connect(settlement).requestDraw(taskId, 0n);
  await networkHelpers.mine(DRAW_DELAY);
  return drawn(registry, settlement, taskId, size, minSize, exclude);
}

/** Draws a requested committee; returns the members in draw order. */
async function drawn(registry: Registry, settlement: Signer, taskId: bigint, size: bigint, minSize: bigint, exclude: string[] = []) {
  const receipt = await (await registry.connect(settlement).drawCommittee(taskId, 0n, size, minSize, exclude)).wait();
  const log = receipt!.logs.map((l) => registry.interface.parseLog(l)).find((l) => l?.name === "CommitteeDrawn");
  return [...(log!.args.members as string[])];
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

    it("test_stake_whenTheListIsFullOfUnbondingSquatters_admitsANewValidator", async () => {
      // The attack: refundable capital fills the draw list (stake, then requestUnbond and never withdraw)
      // so that honest validators get RegistryFull. An unbonding validator now leaves the list at once.
      const { registry, owner, validators } = await networkHelpers.loadFixture(deploy);
      await registry.connect(owner).setParams({ ...params, maxValidators: 3n });
      const squatters = validators.slice(0, 3);
      for (const s of squatters) await registry.connect(s).stake(ONE, { value: ONE });
      for (const s of squatters) await registry.connect(s).requestUnbond();
      expect(await registry.validators()).to.deep.equal([]);
      const honest = validators.slice(3, 6);
      for (const h of honest) await registry.connect(h).stake(ONE, { value: ONE });
      expect(await registry.validators()).to.have.members(honest.map((h) => h.address));
      // the squatters still get their stake back, and come back in by bonding again after withdrawing
      await networkHelpers.time.increase(3600);
      await registry.connect(squatters[0]!).withdraw();
      await expect(registry.connect(squatters[0]!).stake(ONE, { value: ONE }))
        .to.be.revertedWithCustomError(registry, "RegistryFull")
        .withArgs(3n);
      await registry.connect(honest[0]!).requestUnbond();
      await registry.connect(squatters[0]!).stake(ONE, { value: ONE });
      expect(await registry.validators()).to.include(squatters[0]!.address);
    });
  });

  describe("ERC20 stake", () => {
    async function erc20() {
      const [owner, , , v] = await ethers.getSigners();
      const token = await ethers.deployContract("PlainTokenDouble");
      const source = await ethers.deployContract("BlockhashRandomness", [BigInt(DRAW_DELAY)]);
      const registry = await ethers.deployContract("ValidatorRegistry", [owner!.address, await token.getAddress(), await source.getAddress(), params]);
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
      const source = await ethers.deployContract("BlockhashRandomness", [BigInt(DRAW_DELAY)]);
      const registry = await ethers.deployContract("ValidatorRegistry", [owner!.address, await token.getAddress(), await source.getAddress(), params]);
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
      await requestAndDraw(registry, settlement, 1n, 4n, 3n);
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
      const exclude = [staked[3]!.address];
      const members = await requestAndDraw(registry, settlement, 7n, 3n, 3n, exclude);
      expect(members).to.have.length(3);
      expect(new Set(members).size).to.equal(3);
      expect(members).to.not.include(staked[3]!.address);
      for (const m of members) {
        expect((await registry.getValidator(m)).openCommittees).to.equal(1n);
      }
    });

    it("test_drawCommittee_beforeTheRandomnessIsThere_reverts", async () => {
      const { registry, source, settlement } = await networkHelpers.loadFixture(deployStaked);
      await expect(registry.connect(settlement).drawCommittee(1n, 0n, 3n, 3n, []))
        .to.be.revertedWithCustomError(registry, "DrawNotRequested")
        .withArgs(1n, 0n);
      await registry.connect(settlement).requestDraw(1n, 0n);
      const target = BigInt(await ethers.provider.getBlockNumber()) + BigInt(DRAW_DELAY);
      expect((await registry.drawRequest(1n, 0n)).randomnessId).to.equal(target);
      expect((await source.randomness(target))[0]).to.equal(0n); // Pending
      // the next block is the target itself: its hash is not known inside it
      await networkHelpers.mine(DRAW_DELAY - 1);
      await expect(registry.connect(settlement).drawCommittee(1n, 0n, 3n, 3n, []))
        .to.be.revertedWithCustomError(registry, "DrawTooEarly")
        .withArgs(1n, 0n, target);
      await expect(registry.connect(settlement).requestDraw(1n, 0n))
        .to.be.revertedWithCustomError(registry, "DrawAlreadyRequested")
        .withArgs(1n, 0n);
      await networkHelpers.mine(1);
      await expect(registry.connect(settlement).drawCommittee(1n, 0n, 3n, 3n, [])).to.emit(registry, "CommitteeDrawn");
    });

    it("test_drawCommittee_whenTheBlockhashExpired_renewsTheRandomnessAndKeepsTheSnapshot", async () => {
      const { registry, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      await registry.connect(settlement).requestDraw(1n, 0n);
      const first = await registry.drawRequest(1n, 0n);
      await networkHelpers.mine(300);
      expect(await registry.drawStatus(1n, 0n)).to.equal(2n); // Expired
      // a validator staked after the request stays out of the renewed draw
      const late = (await ethers.getSigners())[12]!;
      await registry.connect(late).stake(50n * ONE, { value: 50n * ONE });
      await expect(registry.connect(settlement).drawCommittee(1n, 0n, 4n, 3n, [])).to.emit(registry, "DrawRequested").and.not.to.emit(registry, "CommitteeDrawn");
      const renewed = await registry.drawRequest(1n, 0n);
      expect(renewed.requestBlock).to.equal(first.requestBlock);
      expect(renewed.randomnessId).to.be.greaterThan(first.randomnessId);
      await networkHelpers.mine(DRAW_DELAY);
      const members = await drawn(registry, settlement, 1n, 5n, 3n);
      expect(members).to.have.members(staked.map((v) => v.address));
    });

    it("test_drawCommittee_stakeWithinTheWarmup_hasNoWeight", async () => {
      const { registry, owner, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      await registry.connect(owner).setParams({ ...params, warmupBlocks: 10n });
      await networkHelpers.mine(10);
      const sybil = (await ethers.getSigners())[12]!;
      // a huge stake and a top-up of a listed validator, both inside the warm-up of the request
      await registry.connect(sybil).stake(1000n * ONE, { value: 1000n * ONE });
      await registry.connect(staked[0]!).stake(1000n * ONE, { value: 1000n * ONE });
      await networkHelpers.mine(3);
      await registry.connect(settlement).requestDraw(1n, 0n);
      const requestBlock = (await registry.drawRequest(1n, 0n)).requestBlock;
      expect(await registry.weightAt(sybil.address, requestBlock - 10n)).to.equal(0n);
      expect(await registry.weightAt(staked[0]!.address, requestBlock - 10n)).to.equal(ONE);
      await networkHelpers.mine(DRAW_DELAY);
      // all five seats asked for: the sybil is not even eligible, the top-up weighs its old stake
      const members = await drawn(registry, settlement, 1n, 5n, 3n);
      expect(members).to.have.members(staked.map((v) => v.address));
      expect(members).to.not.include(sybil.address);
    });

    it("test_drawCommittee_aMemberUnbondingAfterTheRequest_losesOnlyItsOwnSeat", async () => {
      // The attack: once the randomness is known, a sybil drops out (requestUnbond) to reshuffle the
      // committee. With the weighted clocks the others keep their seats and order; one more is seated.
      const { registry, settlement } = await networkHelpers.loadFixture(deploy);
      const signers = (await ethers.getSigners()).slice(3, 13);
      for (const v of signers) await registry.connect(v).stake(ONE, { value: ONE });
      await networkHelpers.mine(2);
      await registry.connect(settlement).requestDraw(1n, 0n);
      await networkHelpers.mine(DRAW_DELAY);
      const before = await networkHelpers.takeSnapshot();
      const honest = await drawn(registry, settlement, 1n, 5n, 3n);
      await before.restore();
      const dropped = honest[1]!;
      await registry.connect(signers.find((v) => v.address === dropped)!).requestUnbond();
      const after = await drawn(registry, settlement, 1n, 5n, 3n);
      expect(after.slice(0, 4)).to.deep.equal(honest.filter((m) => m !== dropped));
      expect(after).to.not.include(dropped);
      expect(honest).to.not.include(after[4]);
    });

    it("rejects a draw with fewer eligible validators than the minimum committee", async () => {
      const { registry, settlement, staked } = await networkHelpers.loadFixture(deployStaked);
      await registry.connect(settlement).requestDraw(1n, 0n);
      await networkHelpers.mine(DRAW_DELAY);
      const exclude = [staked[0]!.address, staked[1]!.address];
      await expect(registry.connect(settlement).drawCommittee(1n, 0n, 5n, 3n, exclude))
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
      // four calls of 250 seeds each: one call of 1,000 passes the per-transaction gas cap of eth_call
      const counts = new Map<string, bigint>();
      let accounts: string[] = [];
      for (let part = 0; part < 4; part++) {
        const [listed, partHits] = await registry.drawFrequencies(ethers.id(`frequency ${part}`), 250n, 1n);
        accounts = [...listed];
        listed.forEach((a, i) => counts.set(a, (counts.get(a) ?? 0n) + partHits[i]!));
      }
      const hits = accounts.map((a) => counts.get(a)!);
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
      await expect(r.requestDraw(1n, 0n))
        .to.be.revertedWithCustomError(registry, "CallerNotSettlement")
        .withArgs(outsider.address);
      await expect(r.drawCommittee(1n, 0n, 3n, 3n, []))
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
      const source = await ethers.deployContract("BlockhashRandomness", [BigInt(DRAW_DELAY)]);
      const fresh = await ethers.deployContract("ValidatorRegistry", [owner.address, ZERO, await source.getAddress(), params]);
      await expect(ethers.deployContract("ValidatorRegistry", [owner.address, ZERO, ZERO, params])).to.be.revertedWithCustomError(
        fresh,
        "RandomnessSourceZero",
      );
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
        ["warmupBlocks", { ...params, warmupBlocks: 0n }],
        ["warmupBlocks", { ...params, warmupBlocks: 50_401n }],
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
      await expect(registry.connect(owner).setParams({ ...params, warmupBlocks: 5n })).to.emit(
        registry,
        "RegistryParamsSet",
      );
      expect((await registry.params()).warmupBlocks).to.equal(5n);
    });

    it("recounts bonded validators when minStake changes", async () => {
      const { registry, owner } = await networkHelpers.loadFixture(deployStaked);
      await registry.connect(owner).setParams({ ...params, minStake: 3n * ONE });
      expect(await registry.bondedCount()).to.equal(2n);
    });
  });
});
