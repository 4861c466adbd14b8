import { expect } from "chai";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { network } from "hardhat";
import {
  attest,
  bySigner,
  deployWorld,
  draw,
  drawDelay,
  ETH_MINT_RATE,
  NONE,
  ONE,
  saltOf,
  settlementParams,
  stakeAll,
  taskToAttesting,
  type World,
} from "./helpers/world.js";
import { claimAllPosted } from "./helpers/world.js";

const conn = await network.create();
const { ethers, networkHelpers } = conn;

// accounts: 0 publisher, 1..4 miners, 5..9 validators, 10..12 spare validators, 13 outsider
async function world(): Promise<World> {
  const w = await deployWorld(conn);
  await stakeAll(w, w.accounts.slice(5, 10), Array(5).fill(2n * ONE));
  return w;
}

/** A task with three revealed miners (and a fourth that committed and stayed silent), at attestation. */
async function attesting() {
  const w = await networkHelpers.loadFixture(world);
  const a = w.accounts;
  const run = await taskToAttesting(w, a[0]!, [
    { signer: a[1]!, reveal: true },
    { signer: a[2]!, reveal: true },
    { signer: a[3]!, reveal: true },
    { signer: a[4]!, reveal: false },
  ]);
  return { w, run, a, publisher: a[0]!, miners: a.slice(1, 5), validators: a.slice(5, 10), outsider: a[13]! };
}

/** The same task with its committee drawn (all five validators). */
async function drawn() {
  const f = await attesting();
  const members = await draw(f.w, f.run.taskId);
  return { ...f, members: bySigner(f.a, members) };
}

const honest = [9000n, 8800n, 7000n];

describe("Settlement", () => {
  describe("committee draw", () => {
    it("seats a committee of distinct bonded validators, none of them publisher or miner", async () => {
      const { w, run, members, publisher, miners } = await drawn();
      expect(members).to.have.length(5);
      const addresses = members.map((m) => m.address);
      expect(new Set(addresses).size).to.equal(5);
      for (const x of [publisher, ...miners]) expect(addresses).to.not.include(x.address);
      const r = await w.settlement.getRound(run.taskId, 0n);
      expect(r.size).to.equal(5n);
      expect(r.submissions).to.equal(3n);
      expect(r.revealDeadline - r.commitDeadline).to.equal(settlementParams.attestRevealWindow);
    });

    it("excludes a validator who is also a miner of the task", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      await stakeAll(w, [a[10]!], [2n * ONE]);
      // a[5], a validator, also mines this task
      const run = await taskToAttesting(w, a[0]!, [
        { signer: a[5]!, reveal: true },
        { signer: a[1]!, reveal: true },
      ]);
      const members = await draw(w, run.taskId);
      expect(members).to.have.length(5);
      expect(members).to.not.include(a[5]!.address);
      expect(members).to.include(a[10]!.address);
    });

    it("seats at least the market's minCommittee even when committeeSize is smaller", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      await w.settlement.setParams({ ...settlementParams, committeeSize: 1n });
      const run = await taskToAttesting(w, a[0]!, [{ signer: a[1]!, reveal: true }]);
      expect(await draw(w, run.taskId)).to.have.length(3);
    });

    it("rejects a draw with too few eligible validators", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      // three of the five validators mine the task: two remain, minCommittee is 3
      const run = await taskToAttesting(w, a[0]!, [
        { signer: a[5]!, reveal: true },
        { signer: a[6]!, reveal: true },
        { signer: a[7]!, reveal: false },
      ]);
      await w.settlement.drawCommittee(run.taskId); // requests the draw
      await networkHelpers.mine(Number(drawDelay));
      await expect(w.settlement.drawCommittee(run.taskId))
        .to.be.revertedWithCustomError(w.registry, "CommitteeTooSmall")
        .withArgs(2n, 3n);
    });

    it("rejects a draw before the reveal window is over", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      const run = await taskToAttesting(w, a[0]!, [{ signer: a[1]!, reveal: true }], { stopInRevealWindow: true });
      await networkHelpers.mine(2);
      await expect(w.settlement.drawCommittee(run.taskId))
        .to.be.revertedWithCustomError(w.settlement, "TaskNotAwaitingAttestation")
        .withArgs(run.taskId);
    });

    it("requests the draw with the first call and rejects a draw before its randomness is there", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      const run = await taskToAttesting(w, a[0]!, [{ signer: a[1]!, reveal: true }]);
      await expect(w.settlement.drawCommittee(run.taskId))
        .to.emit(w.settlement, "CommitteeRequested")
        .and.to.emit(w.registry, "DrawRequested")
        .and.not.to.emit(w.settlement, "CommitteeSeated");
      const requestBlock = (await w.settlement.getRound(run.taskId, 0n)).requestBlock;
      await expect(w.settlement.drawCommittee(run.taskId))
        .to.be.revertedWithCustomError(w.registry, "DrawTooEarly")
        .withArgs(run.taskId, 0n, requestBlock + drawDelay);
    });

    it("rejects a second draw in the same round", async () => {
      const { w, run } = await drawn();
      await expect(w.settlement.drawCommittee(run.taskId))
        .to.be.revertedWithCustomError(w.settlement, "CommitteeAlreadyDrawn")
        .withArgs(run.taskId, 0n);
    });
  });

  describe("attestation: bad input and hostile callers", () => {
    it("rejects a commitment from a non-member", async () => {
      const { w, run, outsider } = await drawn();
      await expect(w.settlement.connect(outsider).commitScores(run.taskId, ethers.id("x")))
        .to.be.revertedWithCustomError(w.settlement, "AttesterNotMember")
        .withArgs(run.taskId, outsider.address);
    });

    it("rejects a second commitment by the same member", async () => {
      const { w, run, members } = await drawn();
      await w.settlement.connect(members[0]!).commitScores(run.taskId, ethers.id("x"));
      await expect(w.settlement.connect(members[0]!).commitScores(run.taskId, ethers.id("y")))
        .to.be.revertedWithCustomError(w.settlement, "AttesterAlreadyCommitted")
        .withArgs(run.taskId, members[0]!.address);
    });

    it("rejects a second reveal by the same member", async () => {
      const { w, run, members } = await drawn();
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: honest, reveal: true })));
      await expect(w.settlement.connect(members[0]!).revealScores(run.taskId, honest, saltOf(members[0]!.address)))
        .to.be.revertedWithCustomError(w.settlement, "AttesterAlreadyRevealed")
        .withArgs(run.taskId, members[0]!.address);
    });

    it("rejects a scores array of the wrong length", async () => {
      const { w, run, members } = await drawn();
      const short = [9000n, 8800n];
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: short, reveal: false })));
      await expect(w.settlement.connect(members[0]!).revealScores(run.taskId, short, saltOf(members[0]!.address)))
        .to.be.revertedWithCustomError(w.settlement, "ScoresLengthMismatch")
        .withArgs(2n, 3n);
    });

    it("rejects a score above 10,000 bps", async () => {
      const { w, run, members } = await drawn();
      const bad = [9000n, 10_001n, 0n];
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: bad, reveal: false })));
      await expect(w.settlement.connect(members[0]!).revealScores(run.taskId, bad, saltOf(members[0]!.address)))
        .to.be.revertedWithCustomError(w.settlement, "ScoreOutOfRange")
        .withArgs(1n, 10_001n);
    });

    it("rejects a reveal that does not match the commitment", async () => {
      const { w, run, members } = await drawn();
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: honest, reveal: false })));
      await expect(w.settlement.connect(members[0]!).revealScores(run.taskId, [9000n, 8800n, 7001n], saltOf(members[0]!.address)))
        .to.be.revertedWithCustomError(w.settlement, "ScoresCommitmentMismatch")
        .withArgs(run.taskId, members[0]!.address);
      // another member's commitment does not open for this member either
      const theirs = await w.settlement.scoresCommitment(run.taskId, 0n, members[1]!.address, honest, saltOf(members[1]!.address));
      const mine = await w.settlement.scoresCommitment(run.taskId, 0n, members[0]!.address, honest, saltOf(members[1]!.address));
      expect(theirs).to.not.equal(mine);
    });

    it("rejects a reveal before every member committed and before the commit deadline", async () => {
      const { w, run, members } = await drawn();
      const c = await w.settlement.scoresCommitment(run.taskId, 0n, members[0]!.address, honest, saltOf(members[0]!.address));
      await w.settlement.connect(members[0]!).commitScores(run.taskId, c);
      const r = await w.settlement.getRound(run.taskId, 0n);
      await expect(w.settlement.connect(members[0]!).revealScores(run.taskId, honest, saltOf(members[0]!.address)))
        .to.be.revertedWithCustomError(w.settlement, "AttestRevealNotOpen")
        .withArgs(run.taskId, r.commitDeadline);
    });

    it("rejects a reveal after the reveal window and a commitment after the commit window", async () => {
      const { w, run, members } = await drawn();
      const c = await w.settlement.scoresCommitment(run.taskId, 0n, members[0]!.address, honest, saltOf(members[0]!.address));
      await w.settlement.connect(members[0]!).commitScores(run.taskId, c);
      const r = await w.settlement.getRound(run.taskId, 0n);
      await networkHelpers.time.increaseTo(r.commitDeadline + 1n);
      await expect(w.settlement.connect(members[1]!).commitScores(run.taskId, c))
        .to.be.revertedWithCustomError(w.settlement, "AttestCommitClosed")
        .withArgs(run.taskId, r.commitDeadline);
      await networkHelpers.time.increaseTo(r.revealDeadline + 1n);
      await expect(w.settlement.connect(members[0]!).revealScores(run.taskId, honest, saltOf(members[0]!.address)))
        .to.be.revertedWithCustomError(w.settlement, "AttestRevealClosed")
        .withArgs(run.taskId, r.revealDeadline);
    });

    it("rejects a reveal from a member who never committed", async () => {
      const { w, run, members } = await drawn();
      // the other four commit (a quorum, so the reveals open after the commit window)
      await attest(w, run.taskId, members.map((m, i) => ({ signer: m, scores: honest, reveal: false, commit: i !== 0 })));
      await expect(w.settlement.connect(members[0]!).revealScores(run.taskId, honest, saltOf(members[0]!.address)))
        .to.be.revertedWithCustomError(w.settlement, "AttesterNotCommitted")
        .withArgs(run.taskId, members[0]!.address);
    });

    it("keeps a committee member from completing unbonding until the task is finalized", async () => {
      const { w, run, members } = await drawn();
      const v = members[0]!;
      await w.registry.connect(v).requestUnbond();
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: honest, reveal: true })));
      await networkHelpers.time.increase(3600);
      await expect(w.registry.connect(v).withdraw())
        .to.be.revertedWithCustomError(w.registry, "ValidatorOnCommittee")
        .withArgs(v.address, 1n);
      await w.settlement.finalize(run.taskId);
      await expect(w.registry.connect(v).withdraw()).to.changeEtherBalance(ethers, v, 2n * ONE);
    });
  });

  describe("finalize", () => {
    it("pays winner, ommer, agreeing validators and bonds, appends the learning block, mints block rewards", async () => {
      const { w, run, members, publisher, miners } = await drawn();
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: honest, reveal: true })));
      const head = await w.market.chainHead();
      const tx = w.settlement.finalize(run.taskId);
      const coder = ethers.AbiCoder.defaultAbiCoder();
      const ommersHash = ethers.keccak256(coder.encode(["bytes32[]"], [[run.modelHashes.get(miners[1]!.address)!]]));
      const task = await w.market.getTask(run.taskId);
      const expectedHead = ethers.keccak256(
        coder.encode(
          ["bytes32", "uint256", "uint256", "address", "bytes32", "uint16", "bytes32", "bytes32"],
          [head, 1n, run.taskId, miners[0]!.address, run.modelHashes.get(miners[0]!.address)!, 9000n, ommersHash, task.datasetRoot],
        ),
      );
      await expect(tx)
        .to.emit(w.market, "LearningBlock")
        .withArgs(1n, run.taskId, miners[0]!.address, expectedHead, run.modelHashes.get(miners[0]!.address)!, 9000n);
      await expect(tx).to.emit(w.settlement, "TaskFinalized").withArgs(run.taskId, 0n, 0n, [9000n, 8800n, 7000n]);
      expect(await w.market.chainHead()).to.equal(expectedHead);

      // the reward alone is the pool the shares come from; the unrevealed miner's forfeited bond goes
      // in equal parts to the validators who agreed, never to the winner (issue 9 finding 7)
      const P = run.reward;
      const vPart = (P * 500n) / 10_000n / 5n;
      const oPart = (P * 1000n) / 10_000n;
      const forfeitPart = run.minerBond / 5n;
      await claimAllPosted(w);
      expect(await w.market.creditOf(publisher.address, ethers.ZeroAddress)).to.equal(run.publisherBond);
      expect(await w.market.creditOf(miners[0]!.address, ethers.ZeroAddress)).to.equal(run.minerBond + P - 5n * vPart - oPart);
      expect(await w.market.creditOf(miners[1]!.address, ethers.ZeroAddress)).to.equal(run.minerBond + oPart);
      expect(await w.market.creditOf(miners[2]!.address, ethers.ZeroAddress)).to.equal(run.minerBond);
      expect(await w.market.creditOf(miners[3]!.address, ethers.ZeroAddress)).to.equal(0n);
      for (const m of members) expect(await w.market.creditOf(m.address, ethers.ZeroAddress)).to.equal(vPart + forfeitPart);
      // queue empty: DLBC eq. 5 gives the publisher the whole block reward
      await claimAllPosted(w);
      expect(await w.rewardToken.balanceOf(publisher.address)).to.equal(100n * ONE);
      expect(await w.rewardToken.balanceOf(miners[0]!.address)).to.equal(0n);
      expect(await w.rewardToken.balanceOf(miners[1]!.address)).to.equal(10n * ONE);
      for (const m of members) expect((await w.registry.getValidator(m.address)).openCommittees).to.equal(0n);
      expect((await w.settlement.statusOf(run.taskId))[0]).to.equal(2n);
    });

    it("slashes a score more than deviationTolerance from the median, not one exactly at it", async () => {
      const { w, run, members } = await drawn();
      const [v0, v1, v2, v3, v4] = members;
      await attest(w, run.taskId, [
        ...[v0!, v1!, v2!].map((m) => ({ signer: m, scores: [9000n, 8800n, 5000n], reveal: true })),
        // 500 bps above the median on a passing submission: within tolerance
        { signer: v3!, scores: [9500n, 8800n, 5000n], reveal: true },
        // 501 bps above the median on a failing submission, still below the threshold: deviates
        { signer: v4!, scores: [9000n, 8800n, 5501n], reveal: true },
      ]);
      await expect(w.settlement.finalize(run.taskId))
        .to.emit(w.registry, "Slashed")
        .withArgs(run.taskId, v4!.address, (2n * ONE * 500n) / 10_000n, [v0!.address, v1!.address, v2!.address, v3!.address]);
      expect(await w.registry.wasSlashed(run.taskId, v3!.address)).to.equal(false);
      // the fee from the reward, plus a quarter of the unrevealed miner's forfeited bond
      await claimAllPosted(w);
      expect(await w.market.creditOf(v3!.address, ethers.ZeroAddress)).to.equal((run.reward * 500n) / 10_000n / 4n + run.minerBond / 4n);
      expect(await w.market.creditOf(v4!.address, ethers.ZeroAddress)).to.equal(0n);
    });

    it("picks the earliest commitment within epsilon of the best median", async () => {
      const { w, run, members, miners } = await drawn();
      // miner 2 is best by 9 bps (< epsilon 10), miner 1 committed first and wins
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: [9000n, 9009n, 9011n], reveal: true })));
      // miner 3 is 11 bps above miner 1: outside epsilon of the best (9011)? 9011 − 10 = 9001 > 9000
      await expect(w.settlement.finalize(run.taskId))
        .to.emit(w.market, "LearningBlock")
        .withArgs(1n, run.taskId, miners[1]!.address, (h: string) => h.length === 66, run.modelHashes.get(miners[1]!.address)!, 9009n);
    });

    it("settles NoValidSubmission when no median reaches the threshold: refund minus the validators' fee", async () => {
      const { w, run, members, publisher, miners } = await drawn();
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: [100n, 7999n, 0n], reveal: true })));
      await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "TaskFinalized").withArgs(run.taskId, 1n, NONE, [100n, 7999n, 0n]);
      // the fee comes from the reward; the unrevealed miner's bond and the bond of the submission with
      // median 0 go to the validators who agreed (issue 9 finding 7), not back to the publisher
      const P = run.reward;
      const vPart = (P * 500n) / 10_000n / 5n;
      await claimAllPosted(w);
      expect(await w.market.creditOf(publisher.address, ethers.ZeroAddress)).to.equal(run.publisherBond + P - 5n * vPart);
      for (const m of members) expect(await w.market.creditOf(m.address, ethers.ZeroAddress)).to.equal(vPart + (2n * run.minerBond) / 5n);
      // weak but valid (medians 100 and 7999) keep their bonds; median 0 forfeits it
      await claimAllPosted(w);
      expect(await w.market.creditOf(miners[0]!.address, ethers.ZeroAddress)).to.equal(run.minerBond);
      expect(await w.market.creditOf(miners[1]!.address, ethers.ZeroAddress)).to.equal(run.minerBond);
      expect(await w.market.creditOf(miners[2]!.address, ethers.ZeroAddress)).to.equal(0n);
      expect(await w.market.chainHeight()).to.equal(0n);
      await claimAllPosted(w);
      expect(await w.rewardToken.totalSupply()).to.equal(0n);
    });

    it("forfeits the bond of a revealed submission whose median is 0 to the agreeing validators; one scored above 0 keeps it", async () => {
      const { w, run, members, publisher, miners } = await drawn();
      const [dissenter, ...rest] = members;
      // miner 3's model is a copy: four members score it 0, one scores it as if it were valid (and deviates)
      await attest(w, run.taskId, [
        ...rest.map((m) => ({ signer: m, scores: [9000n, 1n, 0n], reveal: true })),
        { signer: dissenter!, scores: [9000n, 1n, 9000n], reveal: true },
      ]);
      const tx = w.settlement.finalize(run.taskId);
      await expect(tx).to.emit(w.settlement, "TaskFinalized").withArgs(run.taskId, 0n, 0n, [9000n, 1n, 0n]);
      await expect(tx).to.emit(w.registry, "Slashed").withArgs(run.taskId, dissenter!.address, (2n * ONE * 500n) / 10_000n, rest.map((m) => m.address));

      const pool = run.reward + run.publisherBond + 4n * run.minerBond;
      // two bonds back (miners 1 and 2); the unrevealed and the median-0 bonds go in equal parts to the
      // four validators who agreed (they paid to evaluate the junk), the reward's rest to the winner
      const P = run.reward;
      const vPart = (P * 500n) / 10_000n / 4n;
      const credits: [string, bigint][] = [
        [publisher.address, run.publisherBond],
        [miners[0]!.address, run.minerBond + P - 4n * vPart], // the winner; miner 2 (median 1 bps) is no ommer
        [miners[1]!.address, run.minerBond],
        [miners[2]!.address, 0n],
        [miners[3]!.address, 0n],
        [dissenter!.address, 0n],
        ...rest.map((m): [string, bigint] => [m.address, vPart + (2n * run.minerBond) / 4n]),
      ];
      let sum = 0n;
      for (const [account, amount] of credits) {
        await claimAllPosted(w);
        expect(await w.market.creditOf(account, ethers.ZeroAddress), account).to.equal(amount);
        sum += amount;
      }
      expect(sum).to.equal(pool);
    });

    it("rejects finalize before the reveal window is over, unless everyone revealed", async () => {
      const { w, run, members } = await drawn();
      const votes = members.map((m, i) => ({ signer: m, scores: honest, reveal: i !== 0 }));
      await attest(w, run.taskId, votes);
      const r = await w.settlement.getRound(run.taskId, 0n);
      await expect(w.settlement.finalize(run.taskId))
        .to.be.revertedWithCustomError(w.settlement, "FinalizeTooEarly")
        .withArgs(run.taskId, r.revealDeadline + 1n);
    });

    it("rejects finalize twice", async () => {
      const { w, run, members } = await drawn();
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: honest, reveal: true })));
      await w.settlement.finalize(run.taskId);
      await expect(w.settlement.finalize(run.taskId))
        .to.be.revertedWithCustomError(w.settlement, "TaskAlreadyFinalized")
        .withArgs(run.taskId);
    });

    it("rejects finalize before the task awaits attestation", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      const run = await taskToAttesting(w, a[0]!, [{ signer: a[1]!, reveal: true }]);
      await w.market.connect(a[0]!).postTask(
        {
          token: ethers.ZeroAddress,
          reward: ONE,
          datasetRoot: ethers.id("root"),
          specCid: "bafkrei",
          shardCount: 10,
          testShards: 2,
          accuracyThreshold: 8000,
          maxSubmissions: 4,
          trainWindow: 600,
          modelBytes: 1n,
          dataBytes: 1n,
          flops: 1n,
        },
        { value: ONE + ONE / 20n },
      );
      await expect(w.settlement.finalize(run.taskId + 1n))
        .to.be.revertedWithCustomError(w.settlement, "TaskNotAwaitingAttestation")
        .withArgs(run.taskId + 1n);
    });

    it("with no validator reveals slashes the silent members, redraws once, then settles unvalidated", async () => {
      const { w, run, members, publisher, miners } = await drawn();
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: honest, reveal: false })));
      const r0 = await w.settlement.getRound(run.taskId, 0n);
      await networkHelpers.time.increaseTo(r0.revealDeadline + 1n);
      await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "QuorumMissed").withArgs(run.taskId, 0n, 0n, 4n);
      // nobody revealed: the slashed stake goes to the miners who revealed
      for (const m of members) expect((await w.registry.getValidator(m.address)).stake).to.equal(2n * ONE - (2n * ONE) / 10n);
      // each slash splits in three, the first recipient taking the dust
      const per = (2n * ONE) / 10n;
      const part = per / 3n;
      expect(await w.registry.creditOf(miners[0]!.address)).to.equal(5n * (per - 2n * part));
      expect(await w.registry.creditOf(miners[1]!.address)).to.equal(5n * part);
      expect(await w.registry.creditOf(miners[2]!.address)).to.equal(5n * part);
      expect((await w.settlement.statusOf(run.taskId))[1]).to.equal(1n);

      // round isolation: round 1 may not reseat a round-0 member, and these were the only five validators,
      // so round 1 cannot be drawn and expires undrawn (a missed quorum)
      await networkHelpers.mine(Number(drawDelay));
      await expect(w.settlement.drawCommittee(run.taskId))
        .to.be.revertedWithCustomError(w.registry, "CommitteeTooSmall")
        .withArgs(0n, 3n);
      const r1 = await w.settlement.getRound(run.taskId, 1n);
      await networkHelpers.time.increaseTo(r1.expiresAt + 1n);
      await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "TaskFinalized").withArgs(run.taskId, 2n, NONE, []);
      // at most once per validator and task: the second round took nothing more
      for (const m of members) expect((await w.registry.getValidator(m.address)).stake).to.equal(2n * ONE - (2n * ONE) / 10n);
      // the reward and bond back; the unrevealed miner's bond to the treasury (nobody agreed), not the publisher
      await claimAllPosted(w);
      expect(await w.market.creditOf(publisher.address, ethers.ZeroAddress)).to.equal(run.reward + run.publisherBond);
      expect(await w.market.creditOf(w.owner.address, ethers.ZeroAddress)).to.equal(run.minerBond);
      // no medians, nobody judged the models: every revealed bond comes back
      await claimAllPosted(w);
      for (const m of miners.slice(0, 3)) expect(await w.market.creditOf(m.address, ethers.ZeroAddress)).to.equal(run.minerBond);
      expect((await w.market.getTask(run.taskId)).phase).to.equal(9n);
    });

    it("treats a round nobody drew as a missed quorum once it expires", async () => {
      const { w, run } = await attesting();
      await expect(w.settlement.finalize(run.taskId)).to.be.revertedWithCustomError(w.settlement, "FinalizeTooEarly");
      await networkHelpers.time.increase(1201);
      await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "QuorumMissed").withArgs(run.taskId, 0n, 0n, 0n);
      await expect(w.settlement.drawCommittee(run.taskId)).to.be.revertedWithCustomError(w.registry, "DrawTooEarly");
    });

    it("refunds reward and bond to the publisher when no model was revealed; unrevealed bonds go to the treasury", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      const run = await taskToAttesting(w, a[0]!, [{ signer: a[1]!, reveal: false }]);
      await expect(w.settlement.drawCommittee(run.taskId)).to.be.revertedWithCustomError(w.settlement, "NothingToAttest");
      await w.settlement.finalize(run.taskId);
      // the unrevealed bond goes to the treasury, never to the publisher (issue 9 finding 7)
      await claimAllPosted(w);
      expect(await w.market.creditOf(a[0]!.address, ethers.ZeroAddress)).to.equal(run.reward + run.publisherBond);
      expect(await w.market.creditOf(w.owner.address, ethers.ZeroAddress)).to.equal(run.minerBond);
    });

    it("withholds the block reward when the publisher is the only miner", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      const run = await taskToAttesting(w, a[0]!, [{ signer: a[0]!, reveal: true }]);
      const members = bySigner(a, await draw(w, run.taskId));
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: [9500n], reveal: true })));
      await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "BlockRewardWithheld").withArgs(run.taskId, 1n, true);
      await claimAllPosted(w);
      expect(await w.rewardToken.totalSupply()).to.equal(0n);
      expect(await w.market.chainHeight()).to.equal(1n);
    });

    it("splits the block reward at the queue length of the task's start: tasks posted around finalize do not move it", async () => {
      const { w, run, members, publisher, miners } = await drawn();
      // the attack: the winner (or anyone) fills the queue right before finalize to cut the publisher's
      // share (k·l/L = 4/16 would give 0.9375); the queue was empty when the task started, so the share stays 1
      for (let i = 0; i < 4; i++) await postFiller(w, publisher, i);
      expect(await w.market.queueLength()).to.equal(4n);
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: honest, reveal: true })));
      await expect(w.settlement.finalize(run.taskId))
        .to.emit(w.settlement, "BlockRewarded")
        .withArgs(run.taskId, 100n * ONE, 0n, 10n * ONE);
      await claimAllPosted(w);
      expect(await w.rewardToken.balanceOf(miners[0]!.address)).to.equal(0n);
    });

    it("splits the block reward by DLBC eq. 5–6 at the queue length recorded when the task started", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      // four tasks wait in the queue (ranked after the task below): x = k·l/L = 4/16, publisher share 1 − x² = 0.9375
      for (let i = 0; i < 4; i++) await postFiller(w, a[0]!, i);
      const run = await taskToAttesting(w, a[0]!, [
        { signer: a[1]!, reveal: true },
        { signer: a[2]!, reveal: true },
      ]);
      expect((await w.market.getTask(run.taskId)).queueLengthAtStart).to.equal(4n);
      const members = bySigner(a, await draw(w, run.taskId));
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: [9500n, 9000n], reveal: true })));
      await expect(w.settlement.finalize(run.taskId))
        .to.emit(w.settlement, "BlockRewarded")
        .withArgs(run.taskId, 93_750_000_000_000_000_000n, 6_250_000_000_000_000_000n, 10n * ONE);
      await claimAllPosted(w);
      expect(await w.rewardToken.balanceOf(a[1]!.address)).to.equal(6_250_000_000_000_000_000n);
    });
  });

  describe("issue 9 attacks", () => {
    for (const [name, share, reward] of [
      // the smallest reward the market takes at a 5 % publisher bond (the bond must be at least 1 unit):
      // a 1-wei fee split five ways
      ["a 20-wei task", 500n, 20n],
      ["a 0 % validator share", 0n, 10n * ONE],
    ] as const) {
      it(`finalize of ${name} (the validators' fee rounds to 0) settles and releases the committee`, async () => {
        // the attack (finding 1): the fee rounded to 0 left unnamed payout entries, the market's settle
        // reverted with PayoutAccountZero forever, and the five members' stakes stayed locked
        const w = await networkHelpers.loadFixture(world);
        const a = w.accounts;
        await w.settlement.setParams({ ...settlementParams, validatorShareBps: share });
        const run = await taskToAttesting(w, a[0]!, [{ signer: a[1]!, reveal: true }, { signer: a[2]!, reveal: true }], { reward });
        const members = bySigner(a, await draw(w, run.taskId));
        await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: [9000n, 8500n], reveal: true })));
        await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "TaskFinalized");
        expect((await w.market.getTask(run.taskId)).phase).to.equal(6n);
        for (const m of members) expect((await w.registry.getValidator(m.address)).openCommittees).to.equal(0n);
        expect(await w.market.activeCount()).to.equal(0n);
      });
    }

    it("never slashes honest noise around the threshold (8001/8000/7999/8000/8002), still slashes a real deviant", async () => {
      // the attack (finding 9): 7,999 falls below the 8,000 threshold while the median passes; it was
      // slashed although it is 1 bps from the median and the tolerance is 500 bps
      const { w, run, members } = await drawn();
      const noise = [8001n, 8000n, 7999n, 8000n, 8002n];
      await attest(w, run.taskId, members.map((m, i) => ({ signer: m, scores: [noise[i]!, 8800n, 7000n], reveal: true })));
      const tx = w.settlement.finalize(run.taskId);
      await expect(tx).to.emit(w.settlement, "TaskFinalized").withArgs(run.taskId, 0n, 1n, [8000n, 8800n, 7000n]);
      await expect(tx).to.not.emit(w.registry, "Slashed");
      for (const m of members) expect(await w.registry.wasSlashed(run.taskId, m.address)).to.equal(false);

      // a score 501 bps below a passing median, across the threshold: a deviation, slashed
      const f = await attesting();
      const second = bySigner(f.a, await draw(f.w, f.run.taskId));
      const deviant = [8001n, 8000n, 7499n, 8000n, 8002n];
      await attest(f.w, f.run.taskId, second.map((m, i) => ({ signer: m, scores: [deviant[i]!, 8800n, 7000n], reveal: true })));
      await expect(f.w.settlement.finalize(f.run.taskId))
        .to.emit(f.w.registry, "Slashed")
        .withArgs(f.run.taskId, second[2]!.address, (2n * ONE * 500n) / 10_000n, [0, 1, 3, 4].map((i) => second[i]!.address));
    });

    it("a round-0 score commitment replayed in round 1 does not open", async () => {
      // the attack (finding 8): a member whose round-0 commitment did not bind the round posts it again
      // in round 1 and reveals round-0 scores chosen after reading the round-0 reveals
      const { w, run, members } = await drawn();
      // three more validators bond now, so that round 1 (which seats none of round 0's members) can be drawn
      await stakeAll(w, w.accounts.slice(10, 13), Array(3).fill(2n * ONE));
      // everyone commits, two reveal: no quorum of reveals, round 1
      await attest(w, run.taskId, members.map((m, i) => ({ signer: m, scores: honest, reveal: i < 2 })));
      const r0 = await w.settlement.getRound(run.taskId, 0n);
      await networkHelpers.time.increaseTo(r0.revealDeadline + 1n);
      await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "QuorumMissed").withArgs(run.taskId, 0n, 2n, 4n);
      const second = bySigner(w.accounts, await draw(w, run.taskId));
      const replayer = members[0]!;
      const old = await w.settlement.scoresCommitment(run.taskId, 0n, replayer.address, honest, saltOf(replayer.address));
      // round 1 seats no member of round 0, so the replayer cannot post there at all...
      expect(second.map((m) => m.address)).to.not.include(replayer.address);
      await expect(w.settlement.connect(replayer).commitScores(run.taskId, old))
        .to.be.revertedWithCustomError(w.settlement, "AttesterNotMember")
        .withArgs(run.taskId, replayer.address);
      // ...and a commitment binds its round: a round-0 commitment is never a round-1 commitment
      expect(old).to.not.equal(await w.settlement.scoresCommitment(run.taskId, 1n, replayer.address, honest, saltOf(replayer.address)));
    });

    it("a round whose commits miss the quorum publishes no score and slashes only those who did not commit", async () => {
      // the attack (finding 8): round-0 reveals made public after a commit window without quorum let the
      // redrawn committee copy them; now such a round never opens its reveals
      const { w, run, members } = await drawn();
      // three of five commit (quorum 4)
      await attest(w, run.taskId, members.map((m, i) => ({ signer: m, scores: honest, reveal: false, commit: i < 3 })));
      const r0 = await w.settlement.getRound(run.taskId, 0n);
      expect(await networkHelpers.time.latest()).to.be.greaterThan(Number(r0.commitDeadline));
      await expect(w.settlement.connect(members[0]!).revealScores(run.taskId, honest, saltOf(members[0]!.address)))
        .to.be.revertedWithCustomError(w.settlement, "AttestRevealNotOpen")
        .withArgs(run.taskId, r0.commitDeadline);
      // no need to wait for the reveal deadline: the round failed at its commit deadline
      const tx = w.settlement.finalize(run.taskId);
      await expect(tx).to.emit(w.settlement, "QuorumMissed").withArgs(run.taskId, 0n, 0n, 4n);
      await expect(tx).to.not.emit(w.settlement, "ScoresRevealed");
      for (const [i, m] of members.entries()) {
        expect(await w.settlement.scoresOf(run.taskId, 0n, m.address)).to.deep.equal([]);
        expect(await w.registry.wasSlashed(run.taskId, m.address)).to.equal(i >= 3);
      }
      expect((await w.settlement.statusOf(run.taskId))[1]).to.equal(1n);
    });
  });

  describe("issue 9 attacks: value", () => {
    it("a sybil self-dealer (two sybil miners, a tiny reward, a 1 bps threshold) mints at most reward × the mint rate", async () => {
      // the attack (finding 4): blockReward · (1 + ommerShare) = 110 PODL per task for about 5e10 wei
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      const reward = 5n * 10n ** 10n;
      const run = await taskToAttesting(w, a[0]!, [{ signer: a[1]!, reveal: true }, { signer: a[2]!, reveal: true }], { reward, threshold: 1n });
      const members = bySigner(a, await draw(w, run.taskId));
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: [1n, 1n], reveal: true })));
      await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "BlockRewarded");
      const bound = (reward * ETH_MINT_RATE) / ONE;
      await claimAllPosted(w);
      const minted = await w.rewardToken.totalSupply();
      expect(minted).to.be.lessThanOrEqual(bound);
      // scaled down proportionally, not withheld: the bound is nearly reached (rounding only)
      expect(minted).to.be.greaterThan(bound - 3n);
      expect(minted).to.be.lessThan(100n * ONE);
    });

    it("a task paid in a token without a mint rate mints nothing; only the owner sets rates, within bounds", async () => {
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      await w.settlement.setMintRate(ethers.ZeroAddress, 0n);
      const run = await taskToAttesting(w, a[0]!, [{ signer: a[1]!, reveal: true }, { signer: a[2]!, reveal: true }]);
      const members = bySigner(a, await draw(w, run.taskId));
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: [9000n, 8500n], reveal: true })));
      await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "BlockRewarded").withArgs(run.taskId, 0n, 0n, 0n);
      await claimAllPosted(w);
      expect(await w.rewardToken.totalSupply()).to.equal(0n);
      await expect(w.settlement.connect(a[13]!).setMintRate(ethers.ZeroAddress, 1n)).to.be.revertedWithCustomError(
        w.settlement,
        "OwnableUnauthorizedAccount",
      );
      await expect(w.settlement.setMintRate(ethers.ZeroAddress, 10n ** 36n + 1n))
        .to.be.revertedWithCustomError(w.settlement, "SettlementParamOutOfBounds")
        .withArgs(ethers.encodeBytes32String("mintRate"), 10n ** 36n + 1n);
      await expect(w.settlement.setMintRate(ethers.ZeroAddress, 7n)).to.emit(w.settlement, "MintRateSet").withArgs(ethers.ZeroAddress, 7n);
      expect(await w.settlement.mintRate(ethers.ZeroAddress)).to.equal(7n);
    });

    it("a slot filler whose own model wins gains nothing from its sybils' forfeited bonds", async () => {
      // the attack (finding 7): three sybils fill slots and never reveal; their bonds flowed into the pool
      // the winner took, so filling the slots cost the attacker nothing when its own model won
      const w = await networkHelpers.loadFixture(world);
      const a = w.accounts;
      const [attacker, ...sybils] = [a[1]!, a[2]!, a[3]!, a[4]!];
      const run = await taskToAttesting(w, a[0]!, [{ signer: attacker, reveal: true }, ...sybils.map((s) => ({ signer: s, reveal: false }))]);
      const members = bySigner(a, await draw(w, run.taskId));
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: [9000n], reveal: true })));
      await w.settlement.finalize(run.taskId);
      const fee = (run.reward * 500n) / 10_000n;
      // the winner gets its bond and the reward less the fee: nothing of the sybils' three bonds
      await claimAllPosted(w);
      expect(await w.market.creditOf(attacker.address, ethers.ZeroAddress)).to.equal(run.minerBond + run.reward - fee);
      for (const s of sybils) expect(await w.market.creditOf(s.address, ethers.ZeroAddress)).to.equal(0n);
      // the forfeits went to the validators who evaluated
      await claimAllPosted(w);
      for (const m of members) expect(await w.market.creditOf(m.address, ethers.ZeroAddress)).to.equal(fee / 5n + (3n * run.minerBond) / 5n);
      // the attacker's side paid 4 bonds and got 1 back: the slots cost it 3 bonds
      const paidIn = 4n * run.minerBond;
      await claimAllPosted(w);
      const got = await w.market.creditOf(attacker.address, ethers.ZeroAddress);
      expect(paidIn - (got - (run.reward - fee))).to.equal(3n * run.minerBond);
    });
  });

  describe("invalid task data (issue 9 item 7)", () => {
    const INVALID = 65_535n;
    it("a committee that finds the test data invalid settles against the publisher: miners get bonds back and share reward and publisher bond", async () => {
      // the attack (finding 3, payout side): a publisher whose test keys do not open its test shards made
      // every submission score 0, took the miners' forfeited bonds and kept its reward
      const { w, run, members, publisher, miners } = await drawn();
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: [INVALID, INVALID, INVALID], reveal: true })));
      const tx = w.settlement.finalize(run.taskId);
      await expect(tx).to.emit(w.settlement, "TaskDataInvalid").withArgs(run.taskId);
      await expect(tx).to.emit(w.settlement, "TaskFinalized").withArgs(run.taskId, 1n, NONE, [INVALID, INVALID, INVALID]);
      await expect(tx).to.not.emit(w.registry, "Slashed");
      const fee = (run.reward * 500n) / 10_000n;
      const pool = run.reward - fee + run.publisherBond;
      const part = pool / 3n;
      await claimAllPosted(w);
      expect(await w.market.creditOf(publisher.address, ethers.ZeroAddress)).to.equal(0n);
      expect(await w.market.creditOf(miners[0]!.address, ethers.ZeroAddress)).to.equal(run.minerBond + part + (pool - 3n * part));
      for (const m of miners.slice(1, 3)) expect(await w.market.creditOf(m.address, ethers.ZeroAddress)).to.equal(run.minerBond + part);
      expect(await w.market.creditOf(miners[3]!.address, ethers.ZeroAddress)).to.equal(0n); // never revealed
      for (const m of members) expect(await w.market.creditOf(m.address, ethers.ZeroAddress)).to.equal(fee / 5n + run.minerBond / 5n);
      expect(await w.market.chainHeight()).to.equal(0n);
      await claimAllPosted(w);
      expect(await w.rewardToken.totalSupply()).to.equal(0n);
    });

    it("a lone member claiming invalid data deviates and is slashed; a score between 10,000 and the sentinel is refused", async () => {
      const { w, run, members } = await drawn();
      await w.settlement
        .connect(members[0]!)
        .commitScores(run.taskId, await w.settlement.scoresCommitment(run.taskId, 0n, members[0]!.address, [INVALID - 1n, 0n, 0n], saltOf(members[0]!.address)));
      await attest(w, run.taskId, members.slice(1).map((m) => ({ signer: m, scores: honest, reveal: false })));
      await expect(w.settlement.connect(members[0]!).revealScores(run.taskId, [INVALID - 1n, 0n, 0n], saltOf(members[0]!.address)))
        .to.be.revertedWithCustomError(w.settlement, "ScoreOutOfRange")
        .withArgs(0n, INVALID - 1n);

      const f = await drawn();
      await attest(f.w, f.run.taskId, f.members.map((m, i) => ({ signer: m, scores: i === 0 ? [INVALID, INVALID, INVALID] : honest, reveal: true })));
      await expect(f.w.settlement.finalize(f.run.taskId))
        .to.emit(f.w.settlement, "TaskFinalized")
        .withArgs(f.run.taskId, 0n, 0n, honest);
      expect(await f.w.registry.wasSlashed(f.run.taskId, f.members[0]!.address)).to.equal(true);
    });
  });

  describe("escape hatch (issue 9 item 6)", () => {
    it("settles a stalled task as Unvalidated escapeDelay after the round's reveal deadline: refunds, releases the committee, mints nothing", async () => {
      // a stall: the committee was drawn and finalize was never called (stuck by a bug, or nobody cares)
      const { w, run, members, publisher, miners } = await drawn();
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: honest, reveal: true })));
      const r = await w.settlement.getRound(run.taskId, 0n);
      const readyAt = r.revealDeadline + settlementParams.escapeDelay + 1n;
      await networkHelpers.time.setNextBlockTimestamp(readyAt - 1n);
      await expect(w.settlement.connect(a13(w)).escape(run.taskId))
        .to.be.revertedWithCustomError(w.settlement, "EscapeTooEarly")
        .withArgs(run.taskId, readyAt);
      await networkHelpers.time.setNextBlockTimestamp(readyAt);
      const tx = w.settlement.connect(a13(w)).escape(run.taskId);
      await expect(tx).to.emit(w.settlement, "TaskEscaped").withArgs(run.taskId, 0n);
      await expect(tx).to.emit(w.settlement, "TaskFinalized").withArgs(run.taskId, 2n, NONE, []);
      await expect(tx).to.not.emit(w.registry, "Slashed");
      expect((await w.market.getTask(run.taskId)).phase).to.equal(9n); // Unvalidated
      await claimAllPosted(w);
      expect(await w.market.creditOf(publisher.address, ethers.ZeroAddress)).to.equal(run.reward + run.publisherBond);
      for (const m of miners.slice(0, 3)) expect(await w.market.creditOf(m.address, ethers.ZeroAddress)).to.equal(run.minerBond);
      expect(await w.market.creditOf(miners[3]!.address, ethers.ZeroAddress)).to.equal(0n);
      expect(await w.market.creditOf(w.owner.address, ethers.ZeroAddress)).to.equal(run.minerBond); // the unrevealed bond
      for (const m of members) expect((await w.registry.getValidator(m.address)).openCommittees).to.equal(0n);
      await claimAllPosted(w);
      expect(await w.rewardToken.totalSupply()).to.equal(0n);
      await expect(w.settlement.finalize(run.taskId)).to.be.revertedWithCustomError(w.settlement, "TaskAlreadyFinalized");
      await expect(w.settlement.escape(run.taskId)).to.be.revertedWithCustomError(w.settlement, "TaskAlreadyFinalized");
    });

    it("settles a task whose committee was never drawn, and one in round 1 releasing its committee", async () => {
      const { w, run } = await attesting();
      const t = await w.market.getTask(run.taskId);
      const readyAt = t.revealDeadline + settlementParams.attestCommitWindow + settlementParams.attestRevealWindow + settlementParams.escapeDelay + 1n;
      await networkHelpers.time.setNextBlockTimestamp(readyAt);
      await expect(w.settlement.escape(run.taskId)).to.emit(w.settlement, "TaskEscaped").withArgs(run.taskId, 0n);
      expect(await w.market.activeCount()).to.equal(0n);

      const f = await drawn();
      // three more validators, so that round 1 (no member of round 0) can be drawn
      await stakeAll(f.w, f.w.accounts.slice(10, 13), Array(3).fill(2n * ONE));
      await attest(f.w, f.run.taskId, f.members.map((m) => ({ signer: m, scores: honest, reveal: false })));
      await networkHelpers.time.increaseTo((await f.w.settlement.getRound(f.run.taskId, 0n)).revealDeadline + 1n);
      await f.w.settlement.finalize(f.run.taskId); // missed quorum: round 1
      const second = await draw(f.w, f.run.taskId);
      const r1 = await f.w.settlement.getRound(f.run.taskId, 1n);
      await networkHelpers.time.increaseTo(r1.revealDeadline + settlementParams.escapeDelay + 1n);
      await expect(f.w.settlement.escape(f.run.taskId)).to.emit(f.w.settlement, "TaskEscaped").withArgs(f.run.taskId, 1n);
      for (const m of second) expect((await f.w.registry.getValidator(m)).openCommittees).to.equal(0n);
    });
  });

  describe("parameter snapshots (issue 9 item 8)", () => {
    it("a parameter change mid-task does not reach that task; it applies to the next", async () => {
      // the attack: the owner zeroes the validators' share (or moves slash rates, windows) while a task is live
      const { w, run, members, a } = await drawn();
      await expect(w.settlement.setParams({ ...settlementParams, validatorShareBps: 0n, attestCommitWindow: 7n * 86_400n }))
        .to.emit(w.settlement, "SettlementParamsSet");
      expect((await w.settlement.paramsOf(run.taskId)).validatorShareBps).to.equal(500n);
      expect((await w.settlement.paramsOf(run.taskId + 1n)).validatorShareBps).to.equal(0n);
      expect((await w.settlement.params()).validatorShareBps).to.equal(0n);
      await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: honest, reveal: true })));
      await w.settlement.finalize(run.taskId);
      const vPart = (run.reward * 500n) / 10_000n / 5n + run.minerBond / 5n;
      await claimAllPosted(w);
      for (const m of members) expect(await w.market.creditOf(m.address, ethers.ZeroAddress)).to.equal(vPart);

      // the next task gets the new parameters: a 7-day commit window and no validators' fee
      const next = await taskToAttesting(w, a[0]!, [{ signer: a[1]!, reveal: true }, { signer: a[2]!, reveal: true }]);
      expect(next.taskId).to.equal(run.taskId + 1n);
      const second = bySigner(a, await draw(w, next.taskId));
      const r = await w.settlement.getRound(next.taskId, 0n);
      expect(r.revealDeadline - r.commitDeadline).to.equal(settlementParams.attestRevealWindow);
      expect(r.commitDeadline - BigInt(await networkHelpers.time.latest())).to.equal(7n * 86_400n);
      await attest(w, next.taskId, second.map((m) => ({ signer: m, scores: [9000n, 8500n], reveal: true })));
      await w.settlement.finalize(next.taskId);
      await claimAllPosted(w);
      for (const m of second) expect(await w.market.creditOf(m.address, ethers.ZeroAddress)).to.equal(vPart);
    });
  });

  describe("access control and parameters", () => {
    it("lets only the settlement module settle and mint", async () => {
      const { w, run, outsider } = await attesting();
      await expect(
        w.market.connect(outsider).settle(run.taskId, { outcome: 2, payouts: [], winner: NONE, winnerScore: 0, ommersHash: ethers.ZeroHash }),
      ).to.be.revertedWithCustomError(w.market, "NotSettlement");
      await expect(w.rewardToken.connect(outsider).mint(outsider.address, 1n))
        .to.be.revertedWithCustomError(w.rewardToken, "CallerNotMinter")
        .withArgs(outsider.address);
      await expect(w.rewardToken.setMinter(outsider.address)).to.be.revertedWithCustomError(w.rewardToken, "MinterAlreadySet");
    });

    it("rejects every parameter out of bounds, lets only the owner set them, and emits each change", async () => {
      const { w, outsider } = await attesting();
      const p = settlementParams;
      const bad: [string, Partial<typeof p>, bigint][] = [
        ["blockReward", { blockReward: 10n ** 24n + 1n }, 10n ** 24n + 1n],
        ["attestCommitWindow", { attestCommitWindow: 59n }, 59n],
        ["attestRevealWindow", { attestRevealWindow: 7n * 86_400n + 1n }, 7n * 86_400n + 1n],
        ["committeeSize", { committeeSize: 0n }, 0n],
        ["committeeSize", { committeeSize: 32n }, 32n],
        ["epsilon", { epsilon: 10_001n }, 10_001n],
        ["maxOmmers", { maxOmmers: 9n }, 9n],
        ["validatorShareBps+ommerShareBps", { validatorShareBps: 2500n, ommerShareBps: 2501n }, 5001n],
        ["slashNoRevealBps", { slashNoRevealBps: 10_001n }, 10_001n],
        ["slashDeviationBps", { slashDeviationBps: 10_001n }, 10_001n],
        ["deviationTolerance", { deviationTolerance: 10_001n }, 10_001n],
        ["ommerBlockShareBps", { ommerBlockShareBps: 10_001n }, 10_001n],
        ["escapeDelay", { escapeDelay: 86_399n }, 86_399n],
        ["escapeDelay", { escapeDelay: 365n * 86_400n + 1n }, 365n * 86_400n + 1n],
      ];
      for (const [name, change, value] of bad) {
        await expect(w.settlement.setParams({ ...p, ...change }))
          .to.be.revertedWithCustomError(w.settlement, "SettlementParamOutOfBounds")
          .withArgs(ethers.encodeBytes32String(name), value);
      }
      await expect(w.settlement.connect(outsider).setParams(p)).to.be.revertedWithCustomError(
        w.settlement,
        "OwnableUnauthorizedAccount",
      );
      await expect(w.settlement.setParams({ ...p, epsilon: 25n })).to.emit(w.settlement, "SettlementParamsSet");
      expect((await w.settlement.params()).epsilon).to.equal(25n);
    });
  });
});

function a13(w: World): HardhatEthersSigner {
  return w.accounts[13]!;
}

/** A queued task that ranks after `taskToAttesting`'s (a tenth of its reward, far more FLOPs). */
async function postFiller(w: World, publisher: HardhatEthersSigner, i: number): Promise<void> {
  await w.market.connect(publisher).postTask(
    {
      token: w.ethers.ZeroAddress,
      reward: ONE,
      datasetRoot: w.ethers.id(`root${i}`),
      specCid: "bafkrei",
      shardCount: 10,
      testShards: 2,
      accuracyThreshold: 8000,
      maxSubmissions: 4,
      trainWindow: 600,
      modelBytes: 1n,
      dataBytes: 1n,
      flops: 10n ** 12n,
    },
    { value: ONE + ONE / 20n },
  );
}
