import { expect } from "chai";
import { AbiCoder, keccak256, toUtf8Bytes } from "ethers";
import { network } from "hardhat";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { splitShards } from "../../agents/protocol/split.js";
import { shardKeys, trainingUnlock } from "../../agents/protocol/dataset-tree.js";
import {
  commit,
  commitmentFor,
  deployMarket,
  escrowFor,
  testKeysFor,
  trainKeysFor,
  makeDataset,
  minerBondFor,
  ONE,
  opening,
  pastCommitDeadline,
  post,
  postAndStart,
  reveal,
  taskRequest,
  testParams,
  timeTo,
  toCommitting,
  unlockTest,
  ZERO,
  type Deployed,
} from "./helpers/market.js";
import { claimAllPosted } from "../validators/helpers/world.js";

const conn = await network.create();
const { ethers, networkHelpers } = conn;
const dataset = makeDataset(12);
const coder = AbiCoder.defaultAbiCoder();
/**
 * The seed a started task must get, computed from the chain alone: the BlockhashRandomness value of its
 * request (the hash of the request's target block, mixed with the request id) mixed with the chain head
 * at the start and the task id.
 */
/** The learning chain's head before its first block (TaskMarket's GENESIS_HEAD). */
const GENESIS_HEAD = keccak256(toUtf8Bytes("PoDL learning chain genesis"));

async function sourceSeed(d: Deployed, taskId: bigint, head: string): Promise<string> {
  const { randomnessId } = await d.market.getTask(taskId);
  const target = await ethers.provider.getBlock(Number(randomnessId));
  const value = keccak256(coder.encode(["bytes32", "uint256"], [target!.hash, randomnessId]));
  return keccak256(coder.encode(["bytes32", "bytes32", "uint256"], [head, value, taskId]));
}

const Phase = { Queued: 1n, Started: 2n, Committing: 3n, Revealing: 4n, Attesting: 5n, Settled: 6n, Cancelled: 7n, Defaulted: 8n, Unvalidated: 9n };

const deployed = (): Promise<Deployed> => deployMarket(conn);
const deployedFewValidators = (): Promise<Deployed> => deployMarket(conn, testParams, 2);

async function started() {
  const d = await deployed();
  const taskId = await postAndStart(d, dataset);
  return { ...d, taskId };
}

async function committing() {
  const d = await deployed();
  const taskId = await toCommitting(d, dataset);
  return { ...d, taskId };
}

/** Two miners committed, past the commit deadline. */
async function committed() {
  const d = await committing();
  await commit(d, d.taskId, d.minerA, opening("A"));
  await commit(d, d.taskId, d.minerB, opening("B"));
  await pastCommitDeadline(conn, d, d.taskId);
  return d;
}

/** Two miners committed, test keys out: the reveal window is open. */
async function testKeysOut() {
  const d = await committed();
  await unlockTest(d, d.taskId, dataset);
  return d;
}

/** A revealed, test keys out, reveal window over: awaiting attestation, settlement account set. */
async function attesting() {
  const d = await committed();
  await unlockTest(d, d.taskId, dataset);
  await reveal(d, d.taskId, d.minerA, opening("A"));
  await reveal(d, d.taskId, d.minerB, opening("B"));
  const task = await d.market.getTask(d.taskId);
  await timeTo(conn, task.revealDeadline + 1n);
  await d.market.connect(d.owner).setSettlement(await d.settlementAccount.getAddress());
  return d;
}

describe("TaskMarket: task seed", () => {
  it("test_startNext_byAGrinderContract_learnsNoSeedInItsTransaction", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await post(d, dataset);
    const grinder = await ethers.deployContract("SeedGrinderAttack", [await d.market.getAddress()]);
    const receipt = await (await grinder.startAndPeek()).wait();
    // Inside the start transaction the seed and the split are unknown (the old seed, this block's
    // prevrandao and the chain head, was readable here).
    expect(await grinder.seenSeed()).to.equal(ethers.ZeroHash);
    expect(await grinder.seenTestShards()).to.equal(0n);
    // It comes from a block after the start: the source's randomness, unknown when startNext ran.
    const task = await d.market.getTask(1n);
    expect(task.randomnessId).to.be.greaterThan(BigInt(receipt!.blockNumber));
    await d.mineToSeed();
    const seed = await sourceSeed(d, 1n, GENESIS_HEAD);
    expect((await d.market.getTask(1n)).seed).to.equal(seed);
    const { test } = splitShards(seed, 12, 3);
    expect(await d.market.testShardBitmap(1n)).to.equal(test.reduce((b, i) => b | (1n << BigInt(i)), 0n));
  });

  it("test_startNext_whenAGrinderStartsOnlyOnTheSplitItWants_neverStarts", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await post(d, dataset);
    const grinder = await ethers.deployContract("SeedGrinderAttack", [await d.market.getAddress()]);
    // Whatever split it asks for, it cannot see one in its transaction: every try is undone.
    for (const wanted of [0b111n, 0b111000n, 0b111000000n]) {
      await expect(grinder.startIfSplitIs(wanted)).to.be.revertedWithCustomError(grinder, "SplitNotWanted").withArgs(0n);
    }
    expect((await d.market.getTask(1n)).phase).to.equal(Phase.Queued);
  });

  it("test_fixSeed_beforeTheRandomnessIsReady_revertsSeedNotReady", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await post(d, dataset);
    await d.market.startNext();
    const { randomnessId } = await d.market.getTask(1n);
    await expect(d.market.fixSeed(1n)).to.be.revertedWithCustomError(d.market, "SeedNotReady").withArgs(1n, randomnessId);
  });

  it("test_fixSeed_whenReady_storesTheSeedTheViewsShowed", async () => {
    const d = await networkHelpers.loadFixture(started);
    const shown = (await d.market.getTask(d.taskId)).seed;
    const bitmap = await d.market.testShardBitmap(d.taskId);
    expect(shown).to.equal(await sourceSeed(d, d.taskId, GENESIS_HEAD));
    await expect(d.market.connect(d.outsider).fixSeed(d.taskId)).to.emit(d.market, "TaskSeeded").withArgs(d.taskId, shown);
    // Stored: it stays even once the source can no longer answer.
    await networkHelpers.mine(300);
    expect((await d.market.getTask(d.taskId)).seed).to.equal(shown);
    expect(await d.market.testShardBitmap(d.taskId)).to.equal(bitmap);
    await expect(d.market.fixSeed(d.taskId)).to.be.revertedWithCustomError(d.market, "SeedAlreadyFixed").withArgs(d.taskId);
  });

  it("test_fixSeed_whenTheRandomnessExpired_renewsTheRequest", async () => {
    const d = await networkHelpers.loadFixture(started);
    const first = (await d.market.getTask(d.taskId)).randomnessId;
    // Unread for more than 256 blocks: the block hash is gone, the source says Expired.
    await networkHelpers.mine(300);
    expect((await d.market.getTask(d.taskId)).seed).to.equal(ethers.ZeroHash);
    const tx = d.market.fixSeed(d.taskId);
    await expect(tx).to.emit(d.market, "TaskRandomnessRenewed");
    await expect(tx).to.not.emit(d.market, "TaskSeeded");
    const renewed = (await d.market.getTask(d.taskId)).randomnessId;
    expect(renewed).to.be.greaterThan(first);
    const k = trainingUnlock(dataset.shards, [0, 1, 2, 3, 4, 5, 6], [7, 8, 9]);
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, k.keys, k.testLeaves))
      .to.be.revertedWithCustomError(d.market, "SeedNotReady")
      .withArgs(d.taskId, renewed);
    await d.mineToSeed();
    await expect(d.market.fixSeed(d.taskId)).to.emit(d.market, "TaskSeeded").withArgs(d.taskId, await sourceSeed(d, d.taskId, GENESIS_HEAD));
  });

  it("test_unlockTrainingData_beforeTheSeed_revertsSeedNotReady", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await post(d, dataset);
    await d.market.startNext();
    const { randomnessId } = await d.market.getTask(1n);
    // Any keys: the seed check comes before the split is read.
    const k = trainingUnlock(dataset.shards, [0, 1, 2, 3, 4, 5, 6], [7, 8, 9]);
    await expect(d.market.connect(d.publisher).unlockTrainingData(1n, k.keys, k.testLeaves))
      .to.be.revertedWithCustomError(d.market, "SeedNotReady")
      .withArgs(1n, randomnessId);
  });

  it("test_unlockTrainingData_withTheSeedUnstored_storesIt", async () => {
    const d = await networkHelpers.loadFixture(started);
    const seed = (await d.market.getTask(d.taskId)).seed;
    const k = await trainKeysFor(d, d.taskId, dataset);
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, k.keys, k.testLeaves))
      .to.emit(d.market, "TaskSeeded")
      .withArgs(d.taskId, seed);
    await expect(d.market.fixSeed(d.taskId)).to.be.revertedWithCustomError(d.market, "TaskNotInPhase");
  });
});

describe("TaskMarket: startNext", () => {
  it("starts the queued task with the lowest score and requests its seed's randomness", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await post(d, dataset, { reward: ONE });
    await post(d, dataset, { reward: 3n * ONE }); // three times the reward: a third of the score
    await post(d, dataset, { reward: 2n * ONE });
    const [ids] = await d.lens.queuePage(0n, 10n);
    expect(ids).to.deep.equal([2n, 3n, 1n]);
    const tx = await d.market.connect(d.keeper).startNext();
    const receipt = await tx.wait();
    const block = await ethers.provider.getBlock(receipt!.blockNumber);
    const task = await d.market.getTask(2n);
    expect(task.phase).to.equal(Phase.Started);
    // The request targets a block after the start (BlockhashRandomness: the id is the target block).
    expect(task.randomnessId).to.equal(BigInt(receipt!.blockNumber) + (await d.randomness.DELAY()));
    expect(task.seed).to.equal(ethers.ZeroHash);
    expect(task.deadline).to.equal(BigInt(block!.timestamp) + testParams.keyWindow);
    await expect(tx).to.emit(d.market, "TaskStarted").withArgs(2n, task.randomnessId, task.deadline, anyValue);
    await d.mineToSeed();
    expect((await d.market.getTask(2n)).seed).to.equal(await sourceSeed(d, 2n, GENESIS_HEAD));
    expect(await d.market.queueLength()).to.equal(2n);
    expect(await d.market.activeCount()).to.equal(1n);
    // A queued task has no seed and no split yet (its seed slot holds the queue word), nor once cancelled.
    expect((await d.market.getTask(1n)).seed).to.equal(ethers.ZeroHash);
    expect(await d.market.testShardBitmap(1n)).to.equal(0n);
    await d.market.connect(d.publisher).cancelQueued(3n);
    expect((await d.market.getTask(3n)).seed).to.equal(ethers.ZeroHash);
    expect(await d.market.testShardBitmap(3n)).to.equal(0n);
    expect(await d.market.queueLength()).to.equal(1n);
    // The freed position takes a new task (its ranking key overwrites the stale one) that ranks first.
    await post(d, dataset, { reward: 5n * ONE });
    await d.market.startNext();
    expect((await d.market.getTask(4n)).phase).to.equal(Phase.Started);
    expect(await d.market.queueLength()).to.equal(1n);
    expect(await d.market.activeCount()).to.equal(2n);
  });

  it("breaks equal scores by the lower task id", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await post(d, dataset);
    await post(d, dataset);
    expect(await d.market.rankOf(1n)).to.equal(await d.market.rankOf(2n));
    await d.market.startNext();
    expect((await d.market.getTask(1n)).phase).to.equal(Phase.Started);
    expect((await d.market.getTask(2n)).phase).to.equal(Phase.Queued);
  });

  it("publishes the split it derives from the seed", async () => {
    const d = await networkHelpers.loadFixture(started);
    const task = await d.market.getTask(d.taskId);
    const { test } = splitShards(task.seed, 12, 3);
    expect(await d.market.testShardBitmap(d.taskId)).to.equal(test.reduce((b, i) => b | (1n << BigInt(i)), 0n));
  });

  it("rejects a start with a full active set", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    for (let i = 0; i < 3; i++) await post(d, dataset);
    await d.market.startNext();
    await d.market.startNext();
    await expect(d.market.startNext())
      .to.be.revertedWithCustomError(d.market, "ActiveSetFull")
      .withArgs(testParams.maxActive, testParams.maxActive);
  });

  it("rejects a start with fewer than minCommittee bonded validators", async () => {
    const d = await networkHelpers.loadFixture(deployedFewValidators);
    await post(d, dataset);
    await expect(d.market.startNext())
      .to.be.revertedWithCustomError(d.market, "NotEnoughValidators")
      .withArgs(2n, testParams.minCommittee);
  });

  it("rejects a start on an empty queue", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await expect(d.market.startNext()).to.be.revertedWithCustomError(d.market, "QueueEmpty");
  });

  it("rankOf rejects a task that is not queued", async () => {
    const d = await networkHelpers.loadFixture(started);
    await expect(d.market.rankOf(d.taskId))
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase")
      .withArgs(d.taskId, Phase.Started);
  });
});

describe("TaskMarket: unlockTrainingData", () => {
  it("accepts the training keys with the test leaves and opens the commit window", async () => {
    const d = await networkHelpers.loadFixture(started);
    const k = await trainKeysFor(d, d.taskId, dataset);
    const tx = await d.market.connect(d.publisher).unlockTrainingData(d.taskId, k.keys, k.testLeaves);
    const block = await ethers.provider.getBlock((await tx.wait())!.blockNumber);
    const commitDeadline = BigInt(block!.timestamp) + 3600n;
    await expect(tx).to.emit(d.market, "TrainingDataUnlocked");
    const task = await d.market.getTask(d.taskId);
    expect(task.phase).to.equal(Phase.Committing);
    expect(task.commitDeadline).to.equal(commitDeadline);
    expect(task.revealDeadline).to.equal(0n); // the reveal window opens with the test keys
    expect(task.testKeyDeadline).to.equal(commitDeadline + testParams.testKeyWindow);
  });

  it("rejects a wrong key", async () => {
    const d = await networkHelpers.loadFixture(started);
    const k = await trainKeysFor(d, d.taskId, dataset);
    const keys = k.keys.map((x, i) => (i === 0 ? { ...x, key: ethers.ZeroHash } : x));
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, keys, k.testLeaves))
      .to.be.revertedWithCustomError(d.market, "DatasetRootMismatch")
      .withArgs(d.taskId);
  });

  it("rejects a wrong test leaf", async () => {
    const d = await networkHelpers.loadFixture(started);
    const k = await trainKeysFor(d, d.taskId, dataset);
    const testLeaves = [ethers.ZeroHash, ...k.testLeaves.slice(1)];
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, k.keys, testLeaves))
      .to.be.revertedWithCustomError(d.market, "DatasetRootMismatch")
      .withArgs(d.taskId);
  });

  it("rejects a training key for a test shard", async () => {
    const d = await networkHelpers.loadFixture(started);
    const task = await d.market.getTask(d.taskId);
    const { train, test } = splitShards(task.seed, 12, 3);
    const swapped = [...train.slice(1), test[0]!];
    const keys = shardKeys(dataset.shards, swapped);
    const { testLeaves } = trainingUnlock(dataset.shards, train, test);
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, keys, testLeaves))
      .to.be.revertedWithCustomError(d.market, "ShardIndexMismatch");
  });

  it("rejects too few keys and too few test leaves", async () => {
    const d = await networkHelpers.loadFixture(started);
    const k = await trainKeysFor(d, d.taskId, dataset);
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, k.keys.slice(1), k.testLeaves))
      .to.be.revertedWithCustomError(d.market, "KeyCountMismatch")
      .withArgs(8n, 9n);
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, k.keys, k.testLeaves.slice(1)))
      .to.be.revertedWithCustomError(d.market, "KeyCountMismatch")
      .withArgs(2n, 3n);
  });

  it("rejects a shard given twice, or keys out of index order", async () => {
    const d = await networkHelpers.loadFixture(started);
    const k = await trainKeysFor(d, d.taskId, dataset);
    const twice = [...k.keys.slice(0, -1), k.keys[0]!];
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, twice, k.testLeaves))
      .to.be.revertedWithCustomError(d.market, "ShardIndexMismatch")
      .withArgs(k.keys.at(-1)!.index, k.keys[0]!.index);
    const reversed = [...k.keys].reverse();
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, reversed, k.testLeaves))
      .to.be.revertedWithCustomError(d.market, "ShardIndexMismatch")
      .withArgs(k.keys[0]!.index, k.keys.at(-1)!.index);
  });

  it("rejects a shard index beyond the shard count", async () => {
    const d = await networkHelpers.loadFixture(started);
    const k = await trainKeysFor(d, d.taskId, dataset);
    const keys = k.keys.map((x, i) => (i === 0 ? { ...x, index: 12n } : x));
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, keys, k.testLeaves))
      .to.be.revertedWithCustomError(d.market, "ShardIndexMismatch")
      .withArgs(k.keys[0]!.index, 12n);
  });

  it("rejects the keys from anyone but the publisher", async () => {
    const d = await networkHelpers.loadFixture(started);
    const k = await trainKeysFor(d, d.taskId, dataset);
    await expect(d.market.connect(d.outsider).unlockTrainingData(d.taskId, k.keys, k.testLeaves))
      .to.be.revertedWithCustomError(d.market, "NotPublisher")
      .withArgs(d.taskId, await d.outsider.getAddress());
  });

  it("rejects the keys after the key window", async () => {
    const d = await networkHelpers.loadFixture(started);
    const { deadline } = await d.market.getTask(d.taskId);
    await timeTo(conn, deadline + 1n);
    const k = await trainKeysFor(d, d.taskId, dataset);
    await expect(d.market.connect(d.publisher).unlockTrainingData(d.taskId, k.keys, k.testLeaves))
      .to.be.revertedWithCustomError(d.market, "WindowClosed")
      .withArgs(d.taskId, deadline);
  });

  it("test_timeoutTrainingKeys_atDeadline_reverts_oneSecondLater_forfeitsTheBond", async () => {
    const d = await networkHelpers.loadFixture(started);
    const { deadline } = await d.market.getTask(d.taskId);
    await networkHelpers.time.setNextBlockTimestamp(deadline);
    await expect(d.market.connect(d.keeper).timeoutTrainingKeys(d.taskId))
      .to.be.revertedWithCustomError(d.market, "TooEarly")
      .withArgs(d.taskId, deadline);
    await networkHelpers.time.setNextBlockTimestamp(deadline + 1n);
    await expect(d.market.connect(d.keeper).timeoutTrainingKeys(d.taskId)).to.emit(d.market, "TaskCancelled");
    expect((await d.market.getTask(d.taskId)).phase).to.equal(Phase.Cancelled);
    // The reward goes back; the bond is forfeited: a 10 % keeper tip, the rest to the treasury (the owner).
    const bond = escrowFor(ONE) - ONE;
    await claimAllPosted(d);
    expect(await d.market.creditOf(await d.publisher.getAddress(), ZERO)).to.equal(ONE);
    expect(await d.market.creditOf(await d.keeper.getAddress(), ZERO)).to.equal(bond / 10n);
    expect(await d.market.creditOf(await d.owner.getAddress(), ZERO)).to.equal(bond - bond / 10n);
    expect(await d.market.activeCount()).to.equal(0n);
  });

  it("test_unlockTrainingData_atKeyDeadline_accepted", async () => {
    const d = await networkHelpers.loadFixture(started);
    const { deadline } = await d.market.getTask(d.taskId);
    await networkHelpers.time.setNextBlockTimestamp(deadline);
    const k = await trainKeysFor(d, d.taskId, dataset);
    await d.market.connect(d.publisher).unlockTrainingData(d.taskId, k.keys, k.testLeaves);
    expect((await d.market.getTask(d.taskId)).phase).to.equal(Phase.Committing);
  });

  it("timeoutTrainingKeys after the keys were released reverts (too late)", async () => {
    const d = await networkHelpers.loadFixture(committing);
    const { commitDeadline } = await d.market.getTask(d.taskId);
    await timeTo(conn, commitDeadline + 1n);
    await expect(d.market.connect(d.keeper).timeoutTrainingKeys(d.taskId))
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase")
      .withArgs(d.taskId, Phase.Revealing);
  });
});

describe("TaskMarket: commitModel", () => {
  it("takes the miner bond with the first commitment", async () => {
    const d = await networkHelpers.loadFixture(committing);
    const c = await commitmentFor(d, d.taskId, d.minerA, opening("A"));
    const bond = minerBondFor(ONE);
    await expect(d.market.connect(d.minerA).commitModel(d.taskId, c, { value: bond }))
      .to.emit(d.market, "ModelCommitted")
      .withArgs(d.taskId, await d.minerA.getAddress(), c, 1n, false);
    const task = await d.market.getTask(d.taskId);
    expect(task.submissionCount).to.equal(1n);
    expect(task.totalMinerBonds).to.equal(bond);
    expect(await d.market.isMiner(d.taskId, await d.minerA.getAddress())).to.equal(true);
    expect(await d.market.taskPool(d.taskId)).to.equal(escrowFor(ONE) + bond);
  });

  it("replaces a commitment before the deadline without a second bond", async () => {
    const d = await networkHelpers.loadFixture(committing);
    await commit(d, d.taskId, d.minerA, opening("A"));
    const c2 = await commitmentFor(d, d.taskId, d.minerA, opening("A2"));
    await expect(d.market.connect(d.minerA).commitModel(d.taskId, c2))
      .to.emit(d.market, "ModelCommitted")
      .withArgs(d.taskId, await d.minerA.getAddress(), c2, 2n, true);
    const task = await d.market.getTask(d.taskId);
    expect(task.submissionCount).to.equal(1n);
    expect(task.totalMinerBonds).to.equal(minerBondFor(ONE));
  });

  it("rejects a bond sent again with a replacement", async () => {
    const d = await networkHelpers.loadFixture(committing);
    await commit(d, d.taskId, d.minerA, opening("A"));
    await expect(d.market.connect(d.minerA).commitModel(d.taskId, ethers.id("x"), { value: 1n }))
      .to.be.revertedWithCustomError(d.market, "EthAmountMismatch")
      .withArgs(1n, 0n);
  });

  it("rejects a wrong bond", async () => {
    const d = await networkHelpers.loadFixture(committing);
    await expect(d.market.connect(d.minerA).commitModel(d.taskId, ethers.id("x"), { value: 1n }))
      .to.be.revertedWithCustomError(d.market, "EthAmountMismatch")
      .withArgs(1n, minerBondFor(ONE));
  });

  it("rejects a zero commitment", async () => {
    const d = await networkHelpers.loadFixture(committing);
    await expect(d.market.connect(d.minerA).commitModel(d.taskId, ethers.ZeroHash)).to.be.revertedWithCustomError(
      d.market,
      "CommitmentZero",
    );
  });

  it("rejects a commitment after the deadline", async () => {
    const d = await networkHelpers.loadFixture(committing);
    const { commitDeadline } = await d.market.getTask(d.taskId);
    await timeTo(conn, commitDeadline + 1n);
    await expect(d.market.connect(d.minerA).commitModel(d.taskId, ethers.id("x"), { value: minerBondFor(ONE) }))
      .to.be.revertedWithCustomError(d.market, "WindowClosed")
      .withArgs(d.taskId, commitDeadline);
  });

  it("rejects a commitment before the training keys are out", async () => {
    const d = await networkHelpers.loadFixture(started);
    await expect(d.market.connect(d.minerA).commitModel(d.taskId, ethers.id("x"), { value: minerBondFor(ONE) }))
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase")
      .withArgs(d.taskId, Phase.Started);
  });

  it("pulls the bond in the task's token for an ERC20 task and rejects ETH with it", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const token = await ethers.deployContract("PlainTokenDouble");
    await d.market.connect(d.owner).setRewardToken(await token.getAddress(), 1n, ONE);
    const market = await d.market.getAddress();
    for (const who of [d.publisher, d.minerA]) {
      await token.mint(await who.getAddress(), 10n * ONE);
      await token.connect(who).approve(market, 10n * ONE);
    }
    const taskId = await toCommitting(d, dataset, { token: await token.getAddress() });
    const c = await commitmentFor(d, taskId, d.minerA, opening("A"));
    await expect(d.market.connect(d.minerA).commitModel(taskId, c, { value: 1n }))
      .to.be.revertedWithCustomError(d.market, "EthSentWithToken")
      .withArgs(1n);
    await d.market.connect(d.minerA).commitModel(taskId, c);
    expect(await token.balanceOf(market)).to.equal(escrowFor(ONE) + minerBondFor(ONE));
    expect(await d.market.taskPool(taskId)).to.equal(escrowFor(ONE) + minerBondFor(ONE));
  });

  it("rejects more than maxSubmissions miners", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const taskId = await toCommitting(d, dataset, { maxSubmissions: 1 });
    await commit(d, taskId, d.minerA, opening("A"));
    await expect(d.market.connect(d.minerB).commitModel(taskId, ethers.id("x"), { value: minerBondFor(ONE) }))
      .to.be.revertedWithCustomError(d.market, "SubmissionsFull")
      .withArgs(taskId, 1n);
  });
});

describe("TaskMarket: unlockTestData", () => {
  it("rejects the test keys before the commit deadline", async () => {
    const d = await networkHelpers.loadFixture(committing);
    const { commitDeadline } = await d.market.getTask(d.taskId);
    const keys = await testKeysFor(d, d.taskId, dataset);
    await expect(d.market.connect(d.publisher).unlockTestData(d.taskId, keys))
      .to.be.revertedWithCustomError(d.market, "TooEarly")
      .withArgs(d.taskId, commitDeadline);
  });

  it("accepts the test keys after the commit deadline and records time and block", async () => {
    const d = await networkHelpers.loadFixture(committed);
    const tx = await d.market.connect(d.publisher).unlockTestData(d.taskId, await testKeysFor(d, d.taskId, dataset));
    const receipt = await tx.wait();
    await expect(tx).to.emit(d.market, "TestDataUnlocked");
    const task = await d.market.getTask(d.taskId);
    expect(task.testUnlockBlock).to.equal(BigInt(receipt!.blockNumber));
    expect(task.testUnlockedAt).to.equal(BigInt((await ethers.provider.getBlock(receipt!.blockNumber))!.timestamp));
    expect(task.phase).to.equal(Phase.Revealing);
  });

  it("rejects a training shard's key as a test key", async () => {
    const d = await networkHelpers.loadFixture(committed);
    const task = await d.market.getTask(d.taskId);
    const { train, test } = splitShards(task.seed, 12, 3);
    const keys = shardKeys(dataset.shards, [...test.slice(1), train[0]!]);
    await expect(d.market.connect(d.publisher).unlockTestData(d.taskId, keys)).to.be.revertedWithCustomError(d.market, "ShardIndexMismatch");
  });

  it("rejects a test key that is not the one committed for its index", async () => {
    const d = await networkHelpers.loadFixture(committed);
    const keys = (await testKeysFor(d, d.taskId, dataset)).map((k, i) => (i === 0 ? { ...k, key: ethers.id("another key") } : k));
    await expect(d.market.connect(d.publisher).unlockTestData(d.taskId, keys))
      .to.be.revertedWithCustomError(d.market, "DatasetRootMismatch")
      .withArgs(d.taskId);
  });

  it("rejects the test keys after the test-key window", async () => {
    const d = await networkHelpers.loadFixture(committed);
    const { testKeyDeadline } = await d.market.getTask(d.taskId);
    await timeTo(conn, testKeyDeadline + 1n);
    const keys = await testKeysFor(d, d.taskId, dataset);
    await expect(d.market.connect(d.publisher).unlockTestData(d.taskId, keys))
      .to.be.revertedWithCustomError(d.market, "WindowClosed")
      .withArgs(d.taskId, testKeyDeadline);
  });
});

describe("TaskMarket: revealModel", () => {
  it("opens the caller's commitment and lists it in reveal order", async () => {
    const d = await networkHelpers.loadFixture(testKeysOut);
    const b = opening("B");
    await expect(reveal(d, d.taskId, d.minerB, b))
      .to.emit(d.market, "ModelRevealed")
      .withArgs(d.taskId, await d.minerB.getAddress(), b.modelHash, b.checkpointRoot, b.modelCid);
    await reveal(d, d.taskId, d.minerA, opening("A"));
    const revealed = await d.market.getRevealed(d.taskId);
    expect(revealed.map((s) => s.miner)).to.deep.equal([await d.minerB.getAddress(), await d.minerA.getAddress()]);
    expect(revealed[0]!.modelHash).to.equal(b.modelHash);
    expect(revealed[0]!.checkpointRoot).to.equal(b.checkpointRoot);
    expect(revealed[0]!.commitSeq).to.equal(2n);
    expect(revealed[1]!.commitSeq).to.equal(1n);
  });

  it("lists the revealed miners and commitment order for settlement, and model hashes by reveal index", async () => {
    const d = await networkHelpers.loadFixture(testKeysOut);
    const b = opening("B");
    const a = opening("A");
    await reveal(d, d.taskId, d.minerB, b);
    await reveal(d, d.taskId, d.minerA, a);
    const words = await d.market.revealedMiners(d.taskId);
    const revealed = await d.market.getRevealed(d.taskId);
    expect(words.map((w) => ethers.getAddress(ethers.toBeHex(w & ((1n << 160n) - 1n), 20)))).to.deep.equal(revealed.map((s) => s.miner));
    expect(words.map((w) => w >> 160n)).to.deep.equal(revealed.map((s) => s.commitSeq));
    expect(await d.market.modelHashOf(d.taskId, 0n)).to.equal(b.modelHash);
    expect(await d.market.modelHashOf(d.taskId, 1n)).to.equal(a.modelHash);
    await expect(d.market.modelHashOf(d.taskId, 2n)).to.be.revertedWithCustomError(d.market, "RevealIndexOutOfBounds").withArgs(2n, 2n);
    await expect(d.market.revealedMiners(99n)).to.be.revertedWithCustomError(d.market, "TaskUnknown").withArgs(99n);
  });

  it("test_revealModel_beforeCommitDeadline_reverts", async () => {
    const d = await networkHelpers.loadFixture(committing);
    await commit(d, d.taskId, d.minerA, opening("A"));
    await expect(reveal(d, d.taskId, d.minerA, opening("A")))
      .to.be.revertedWithCustomError(d.market, "TestKeysLocked")
      .withArgs(d.taskId);
  });

  it("test_revealModel_afterCommitDeadlineBeforeTestKeys_reverts", async () => {
    // Reveals open with the test keys (finding 6): before, the publisher could see the models and default.
    const d = await networkHelpers.loadFixture(committed);
    await expect(reveal(d, d.taskId, d.minerA, opening("A")))
      .to.be.revertedWithCustomError(d.market, "TestKeysLocked")
      .withArgs(d.taskId);
  });

  it("rejects a reveal of another address's commitment", async () => {
    const d = await networkHelpers.loadFixture(testKeysOut);
    await expect(reveal(d, d.taskId, d.minerB, opening("A")))
      .to.be.revertedWithCustomError(d.market, "CommitmentMismatch")
      .withArgs(d.taskId, await d.minerB.getAddress());
    await expect(reveal(d, d.taskId, d.minerC, opening("A")))
      .to.be.revertedWithCustomError(d.market, "NotCommitted")
      .withArgs(d.taskId, await d.minerC.getAddress());
  });

  it("rejects a reveal with a wrong salt", async () => {
    const d = await networkHelpers.loadFixture(testKeysOut);
    await expect(reveal(d, d.taskId, d.minerA, { ...opening("A"), salt: ethers.id("wrong") }))
      .to.be.revertedWithCustomError(d.market, "CommitmentMismatch")
      .withArgs(d.taskId, await d.minerA.getAddress());
  });

  it("rejects a second reveal", async () => {
    const d = await networkHelpers.loadFixture(testKeysOut);
    await reveal(d, d.taskId, d.minerA, opening("A"));
    await expect(reveal(d, d.taskId, d.minerA, opening("A")))
      .to.be.revertedWithCustomError(d.market, "AlreadyRevealed")
      .withArgs(d.taskId, await d.minerA.getAddress());
  });

  it("rejects a replaced commitment's old opening", async () => {
    const d = await networkHelpers.loadFixture(committing);
    await commit(d, d.taskId, d.minerA, opening("A"));
    await d.market.connect(d.minerA).commitModel(d.taskId, await commitmentFor(d, d.taskId, d.minerA, opening("A2")));
    await pastCommitDeadline(conn, d, d.taskId);
    await unlockTest(d, d.taskId, dataset);
    await expect(reveal(d, d.taskId, d.minerA, opening("A"))).to.be.revertedWithCustomError(d.market, "CommitmentMismatch");
    await reveal(d, d.taskId, d.minerA, opening("A2"));
  });

  it("rejects an empty model CID", async () => {
    const d = await networkHelpers.loadFixture(testKeysOut);
    await expect(reveal(d, d.taskId, d.minerA, { ...opening("A"), modelCid: "" }))
      .to.be.revertedWithCustomError(d.market, "CidLengthOutOfBounds")
      .withArgs(0n);
  });

  it("test_revealModel_atRevealDeadline_accepted_oneSecondLater_reverts", async () => {
    const d = await networkHelpers.loadFixture(testKeysOut);
    const { revealDeadline, testUnlockedAt } = await d.market.getTask(d.taskId);
    // The reveal window runs from the test-key unlock, not from the commit deadline.
    expect(revealDeadline).to.equal(testUnlockedAt + testParams.revealWindow);
    await networkHelpers.time.setNextBlockTimestamp(revealDeadline);
    await reveal(d, d.taskId, d.minerA, opening("A"));
    await networkHelpers.time.setNextBlockTimestamp(revealDeadline + 1n);
    await expect(reveal(d, d.taskId, d.minerB, opening("B")))
      .to.be.revertedWithCustomError(d.market, "WindowClosed")
      .withArgs(d.taskId, revealDeadline);
  });
});

describe("TaskMarket: timeoutTestKeys (Defaulted)", () => {
  it("test_timeoutTestKeys_atTestKeyDeadline_reverts_oneSecondLater_defaults", async () => {
    const d = await networkHelpers.loadFixture(committed);
    const { testKeyDeadline } = await d.market.getTask(d.taskId);
    await networkHelpers.time.setNextBlockTimestamp(testKeyDeadline);
    await expect(d.market.connect(d.keeper).timeoutTestKeys(d.taskId))
      .to.be.revertedWithCustomError(d.market, "TooEarly")
      .withArgs(d.taskId, testKeyDeadline);
    await networkHelpers.time.setNextBlockTimestamp(testKeyDeadline + 1n);
    await expect(d.market.connect(d.keeper).timeoutTestKeys(d.taskId))
      .to.emit(d.market, "TaskDefaulted")
      .withArgs(d.taskId, await d.keeper.getAddress(), 2n);
  });

  it("test_unlockTestData_atTestKeyDeadline_accepted", async () => {
    const d = await networkHelpers.loadFixture(committed);
    const { testKeyDeadline } = await d.market.getTask(d.taskId);
    await networkHelpers.time.setNextBlockTimestamp(testKeyDeadline);
    await unlockTest(d, d.taskId, dataset);
    expect((await d.market.getTask(d.taskId)).testUnlockedAt).to.equal(testKeyDeadline);
  });

  it("test_timeoutTestKeys_withCommitters_refundsRewardAndSharesPublisherBondAmongCommitters", async () => {
    const d = await networkHelpers.loadFixture(committing);
    await commit(d, d.taskId, d.minerA, opening("A"));
    await commit(d, d.taskId, d.minerB, opening("B"));
    await commit(d, d.taskId, d.minerC, opening("C"));
    const task = await d.market.getTask(d.taskId);
    await timeTo(conn, task.testKeyDeadline + 1n);
    await expect(d.market.connect(d.keeper).timeoutTestKeys(d.taskId))
      .to.emit(d.market, "TaskDefaulted")
      .withArgs(d.taskId, await d.keeper.getAddress(), 3n);
    const bond = minerBondFor(ONE);
    const publisherBond = escrowFor(ONE) - ONE;
    const share = publisherBond / 3n;
    await claimAllPosted(d);
    expect(await d.market.creditOf(await d.publisher.getAddress(), ZERO)).to.equal(ONE);
    expect(await d.market.creditOf(await d.keeper.getAddress(), ZERO)).to.equal(0n);
    expect(await d.market.creditOf(await d.owner.getAddress(), ZERO)).to.equal(publisherBond - 3n * share); // treasury: dust
    for (const m of [d.minerA, d.minerB, d.minerC]) {
      await d.market.connect(m).claimDefaultShare(d.taskId);
      await claimAllPosted(d);
      expect(await d.market.creditOf(await m.getAddress(), ZERO)).to.equal(bond + share);
    }
    await expect(d.market.connect(d.minerA).claimDefaultShare(d.taskId))
      .to.be.revertedWithCustomError(d.market, "AlreadyClaimed")
      .withArgs(d.taskId, await d.minerA.getAddress());
    await expect(d.market.connect(d.outsider).claimDefaultShare(d.taskId))
      .to.be.revertedWithCustomError(d.market, "NotCommitted")
      .withArgs(d.taskId, await d.outsider.getAddress());
    expect((await d.market.getTask(d.taskId)).phase).to.equal(Phase.Defaulted);
    expect(await d.market.activeCount()).to.equal(0n);
  });

  it("test_claimDefaultShare_beforeDefault_reverts", async () => {
    const d = await networkHelpers.loadFixture(committed);
    await expect(d.market.connect(d.minerA).claimDefaultShare(d.taskId))
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase");
  });

  it("test_timeoutTestKeys_withoutCommitters_tipsCallerAndForfeitsBondToTreasury", async () => {
    const d = await networkHelpers.loadFixture(committing);
    const task = await d.market.getTask(d.taskId);
    await timeTo(conn, task.testKeyDeadline + 1n);
    await d.market.connect(d.keeper).timeoutTestKeys(d.taskId);
    const publisherBond = escrowFor(ONE) - ONE;
    await claimAllPosted(d);
    expect(await d.market.creditOf(await d.publisher.getAddress(), ZERO)).to.equal(ONE);
    expect(await d.market.creditOf(await d.keeper.getAddress(), ZERO)).to.equal(publisherBond / 10n);
    expect(await d.market.creditOf(await d.owner.getAddress(), ZERO)).to.equal(publisherBond - publisherBond / 10n);
  });

  it("after the test keys were released reverts (too late), and a second timeout reverts", async () => {
    const d = await networkHelpers.loadFixture(committed);
    await unlockTest(d, d.taskId, dataset);
    const task = await d.market.getTask(d.taskId);
    await timeTo(conn, task.revealDeadline + 1n);
    await expect(d.market.connect(d.keeper).timeoutTestKeys(d.taskId))
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase")
      .withArgs(d.taskId, Phase.Attesting);
  });

  it("a second timeout reverts", async () => {
    const d = await networkHelpers.loadFixture(committed);
    const task = await d.market.getTask(d.taskId);
    await timeTo(conn, task.testKeyDeadline + 1n);
    await d.market.connect(d.keeper).timeoutTestKeys(d.taskId);
    await expect(d.market.connect(d.keeper).timeoutTestKeys(d.taskId))
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase")
      .withArgs(d.taskId, Phase.Defaulted);
  });
});

describe("TaskMarket: settle (seam)", () => {
  it("reports Attesting once the test keys are out and the reveal window is over", async () => {
    const d = await networkHelpers.loadFixture(attesting);
    expect((await d.market.getTask(d.taskId)).phase).to.equal(Phase.Attesting);
  });

  it("credits the payouts and appends the learning block", async () => {
    const d = await networkHelpers.loadFixture(attesting);
    // before its first block the chain's head is the genesis constant, never zero
    expect(await d.market.chainHead()).to.equal(GENESIS_HEAD);
    const pool = await d.market.taskPool(d.taskId);
    const a = await d.minerA.getAddress();
    const ommersHash = ethers.id("ommers");
    const s = { outcome: 0n, payouts: [{ account: a, amount: pool - 5n }, { account: await d.publisher.getAddress(), amount: 5n }], winner: 0n, winnerScore: 9100n, ommersHash };
    const task = await d.market.getTask(d.taskId);
    const head = keccak256(
      coder.encode(
        ["bytes32", "uint256", "uint256", "address", "bytes32", "uint16", "bytes32", "bytes32"],
        [GENESIS_HEAD, 1n, d.taskId, a, opening("A").modelHash, 9100n, ommersHash, task.datasetRoot],
      ),
    );
    await expect(d.market.connect(d.settlementAccount).settle(d.taskId, s))
      .to.emit(d.market, "LearningBlock")
      .withArgs(1n, d.taskId, a, head, opening("A").modelHash, 9100n);
    expect(await d.market.chainHead()).to.equal(head);
    expect(await d.market.chainHeight()).to.equal(1n);
    await claimAllPosted(d);
    expect(await d.market.creditOf(a, ZERO)).to.equal(pool - 5n);
    expect((await d.market.getTask(d.taskId)).phase).to.equal(Phase.Settled);
    await expect(d.market.connect(d.settlementAccount).settle(d.taskId, s))
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase")
      .withArgs(d.taskId, Phase.Settled);
  });

  it("test_fixSeed_afterALearningBlock_usesTheChainHeadAtTheStart", async () => {
    const d = await networkHelpers.loadFixture(attesting);
    const headAtStart = await d.market.chainHead();
    const early = await post(d, dataset);
    await d.market.startNext();
    const pool = await d.market.taskPool(d.taskId);
    await d.market
      .connect(d.settlementAccount)
      .settle(d.taskId, { outcome: 0n, payouts: [{ account: await d.minerA.getAddress(), amount: pool }], winner: 0n, winnerScore: 9000n, ommersHash: ethers.ZeroHash });
    const newHead = await d.market.chainHead();
    expect(newHead).to.not.equal(headAtStart);
    const next = await post(d, dataset);
    await d.market.startNext();
    await d.mineToSeed();
    // The learning block appended between the start and the fix does not move the early task's seed.
    await expect(d.market.fixSeed(early)).to.emit(d.market, "TaskSeeded").withArgs(early, await sourceSeed(d, early, headAtStart));
    expect((await d.market.getTask(next)).seed).to.equal(await sourceSeed(d, next, newHead));
  });

  it("settles Unvalidated without a block", async () => {
    const d = await networkHelpers.loadFixture(attesting);
    const pool = await d.market.taskPool(d.taskId);
    await expect(
      d.market.connect(d.settlementAccount).settle(d.taskId, {
        outcome: 2n,
        payouts: [{ account: await d.publisher.getAddress(), amount: pool }],
        winner: ethers.MaxUint256,
        winnerScore: 0n,
        ommersHash: ethers.ZeroHash,
      }),
    ).to.not.emit(d.market, "LearningBlock");
    expect((await d.market.getTask(d.taskId)).phase).to.equal(Phase.Unvalidated);
    expect(await d.market.chainHeight()).to.equal(0n);
  });

  it("rejects payouts that do not add up to the pool", async () => {
    const d = await networkHelpers.loadFixture(attesting);
    const pool = await d.market.taskPool(d.taskId);
    await expect(
      d.market.connect(d.settlementAccount).settle(d.taskId, {
        outcome: 1n,
        payouts: [{ account: await d.publisher.getAddress(), amount: pool + 1n }],
        winner: ethers.MaxUint256,
        winnerScore: 0n,
        ommersHash: ethers.ZeroHash,
      }),
    )
      .to.be.revertedWithCustomError(d.market, "PayoutMismatch")
      .withArgs(pool + 1n, pool);
  });

  it("rejects a winner index past the revealed submissions", async () => {
    const d = await networkHelpers.loadFixture(attesting);
    const pool = await d.market.taskPool(d.taskId);
    await expect(
      d.market.connect(d.settlementAccount).settle(d.taskId, {
        outcome: 0n,
        payouts: [{ account: await d.publisher.getAddress(), amount: pool }],
        winner: 2n,
        winnerScore: 9000n,
        ommersHash: ethers.ZeroHash,
      }),
    )
      .to.be.revertedWithCustomError(d.market, "InvalidWinner")
      .withArgs(2n, 2n);
  });

  it("rejects settle from anyone but the settlement module", async () => {
    const d = await networkHelpers.loadFixture(attesting);
    await expect(
      d.market.connect(d.outsider).settle(d.taskId, { outcome: 1n, payouts: [], winner: ethers.MaxUint256, winnerScore: 0n, ommersHash: ethers.ZeroHash }),
    )
      .to.be.revertedWithCustomError(d.market, "NotSettlement")
      .withArgs(await d.outsider.getAddress());
  });

  it("rejects settle before the reveal window is over", async () => {
    const d = await networkHelpers.loadFixture(committed);
    await unlockTest(d, d.taskId, dataset);
    await d.market.connect(d.owner).setSettlement(await d.settlementAccount.getAddress());
    await expect(
      d.market.connect(d.settlementAccount).settle(d.taskId, { outcome: 1n, payouts: [], winner: ethers.MaxUint256, winnerScore: 0n, ommersHash: ethers.ZeroHash }),
    )
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase")
      .withArgs(d.taskId, Phase.Revealing);
  });
});

describe("TaskMarket: withdraw", () => {
  async function credited() {
    const d = await deployed();
    const taskId = await post(d, dataset);
    await d.market.connect(d.publisher).cancelQueued(taskId);
    return d;
  }

  it("pays the credit out once", async () => {
    const d = await networkHelpers.loadFixture(credited);
    const amount = escrowFor(ONE);
    const publisher = await d.publisher.getAddress();
    await expect(d.market.connect(d.publisher).withdraw(ZERO)).to.changeEtherBalances(ethers, [d.publisher, d.market], [amount, -amount]);
    await claimAllPosted(d);
    expect(await d.market.creditOf(publisher, ZERO)).to.equal(0n);
    await expect(d.market.connect(d.publisher).withdraw(ZERO))
      .to.be.revertedWithCustomError(d.market, "NothingToWithdraw")
      .withArgs(publisher, ZERO);
  });

  it("rejects a withdrawal by someone with no credit", async () => {
    const d = await networkHelpers.loadFixture(credited);
    await expect(d.market.connect(d.outsider).withdraw(ZERO))
      .to.be.revertedWithCustomError(d.market, "NothingToWithdraw")
      .withArgs(await d.outsider.getAddress(), ZERO);
  });

  it("pays ERC20 credits in the task's token", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const token = await ethers.deployContract("PlainTokenDouble");
    await d.market.connect(d.owner).setRewardToken(await token.getAddress(), 1n, ONE);
    await token.mint(await d.publisher.getAddress(), 10n * ONE);
    await token.connect(d.publisher).approve(await d.market.getAddress(), 10n * ONE);
    const taskId = await post(d, dataset, { token: await token.getAddress() });
    await d.market.connect(d.publisher).cancelQueued(taskId);
    await d.market.connect(d.publisher).withdraw(await token.getAddress());
    expect(await token.balanceOf(await d.publisher.getAddress())).to.equal(10n * ONE);
  });

  it("pays a re-entering ETH receiver exactly once", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const attacker = await ethers.deployContract("ReentrantReceiverDouble", [await d.market.getAddress()]);
    const market = await d.market.getAddress();
    const amount = escrowFor(ONE);
    // The attacker posts a task, withdraws it from the queue and so holds a credit.
    await attacker.execute(market, d.market.interface.encodeFunctionData("postTask", [taskRequest(dataset) as never]), { value: amount });
    await attacker.execute(market, d.market.interface.encodeFunctionData("cancelQueued", [1n]));
    await attacker.execute(market, d.market.interface.encodeFunctionData("withdraw", [ZERO]));
    const [attempts, successes] = await attacker.reentries();
    expect(attempts).to.equal(1n);
    expect(successes).to.equal(0n);
    expect(await ethers.provider.getBalance(await attacker.getAddress())).to.equal(amount);
    expect(await ethers.provider.getBalance(market)).to.equal(0n);
    await claimAllPosted(d);
    expect(await d.market.creditOf(await attacker.getAddress(), ZERO)).to.equal(0n);
  });
});

describe("TaskMarket: pull payouts (claimPayouts)", () => {
  async function settled() {
    const d = await attesting();
    const pool = await d.market.taskPool(d.taskId);
    const a = await d.minerA.getAddress();
    const p = await d.publisher.getAddress();
    const payouts = [{ account: a, amount: pool - 5n }, { account: p, amount: 5n }];
    await d.market.connect(d.settlementAccount).settle(d.taskId, { outcome: 0n, payouts, winner: 0n, winnerScore: 9100n, ommersHash: ethers.ZeroHash });
    return { ...d, payouts, pool, a, p };
  }

  it("test_settle_postsTheListAndItsHash_creditsNobody", async () => {
    const d = await attesting();
    const pool = await d.market.taskPool(d.taskId);
    const payouts = [{ account: await d.minerA.getAddress(), amount: pool }];
    const hash = keccak256(coder.encode(["tuple(address account, uint256 amount)[]"], [payouts.map((x) => [x.account, x.amount])]));
    await expect(d.market.connect(d.settlementAccount).settle(d.taskId, { outcome: 0n, payouts, winner: 0n, winnerScore: 9100n, ommersHash: ethers.ZeroHash }))
      .to.emit(d.market, "PayoutsPosted")
      .withArgs(d.taskId, hash, [[payouts[0]!.account, pool]])
      .and.to.not.emit(d.market, "Credited");
    expect(await d.market.payoutsHash(d.taskId)).to.equal(hash);
    expect(await d.market.creditOf(payouts[0]!.account, ZERO)).to.equal(0n);
  });

  it("test_claimPayouts_byAnyoneForAnotherPayee_creditsTheNamedAccountOnly", async () => {
    const d = await networkHelpers.loadFixture(settled);
    const outsider = await d.outsider.getAddress();
    await expect(d.market.connect(d.outsider).claimPayouts(d.taskId, d.payouts, [0n]))
      .to.emit(d.market, "PayoutClaimed")
      .withArgs(d.taskId, 0n, d.a, d.pool - 5n);
    expect(await d.market.creditOf(d.a, ZERO)).to.equal(d.pool - 5n);
    expect(await d.market.creditOf(outsider, ZERO)).to.equal(0n);
    expect(await d.market.creditOf(d.p, ZERO)).to.equal(0n);
    expect(await d.market.claimedPayouts(d.taskId)).to.equal(1n);
  });

  it("test_claimPayouts_payeeClaimsTwice_revertsAndIsCreditedOnce", async () => {
    const d = await networkHelpers.loadFixture(settled);
    await d.market.connect(d.minerA).claimPayouts(d.taskId, d.payouts, [0n]);
    await expect(d.market.connect(d.minerA).claimPayouts(d.taskId, d.payouts, [0n]))
      .to.be.revertedWithCustomError(d.market, "PayoutAlreadyClaimed")
      .withArgs(d.taskId, 0n);
    // the same index twice in one call
    await expect(d.market.connect(d.publisher).claimPayouts(d.taskId, d.payouts, [1n, 1n]))
      .to.be.revertedWithCustomError(d.market, "PayoutAlreadyClaimed")
      .withArgs(d.taskId, 1n);
    expect(await d.market.creditOf(d.a, ZERO)).to.equal(d.pool - 5n);
  });

  it("test_claimPayouts_forgedList_reverts", async () => {
    const d = await networkHelpers.loadFixture(settled);
    const outsider = await d.outsider.getAddress();
    const forged = [{ account: outsider, amount: d.pool - 5n }, d.payouts[1]!];
    await expect(d.market.connect(d.outsider).claimPayouts(d.taskId, forged, [0n]))
      .to.be.revertedWithCustomError(d.market, "PayoutsNotPosted")
      .withArgs(d.taskId);
    const inflated = [{ account: d.a, amount: d.pool }, d.payouts[1]!];
    await expect(d.market.connect(d.minerA).claimPayouts(d.taskId, inflated, [0n])).to.be.revertedWithCustomError(d.market, "PayoutsNotPosted");
    await expect(d.market.claimPayouts(d.taskId, d.payouts, [2n]))
      .to.be.revertedWithCustomError(d.market, "PayoutIndexOutOfBounds")
      .withArgs(2n, 2n);
  });

  it("test_claimPayouts_beforeSettlement_reverts", async () => {
    const d = await networkHelpers.loadFixture(attesting);
    await expect(d.market.claimPayouts(d.taskId, [], [])).to.be.revertedWithCustomError(d.market, "PayoutsNotPosted").withArgs(d.taskId);
  });

  it("test_claimPayouts_thenWithdraw_paysThePayeeAndEmptiesThePool", async () => {
    const d = await networkHelpers.loadFixture(settled);
    await d.market.claimPayouts(d.taskId, d.payouts, [0n, 1n]);
    await expect(d.market.connect(d.minerA).withdraw(ZERO)).to.changeEtherBalances(ethers, [d.minerA, d.market], [d.pool - 5n, -(d.pool - 5n)]);
    await expect(d.market.connect(d.publisher).withdraw(ZERO)).to.changeEtherBalances(ethers, [d.publisher], [5n]);
  });
});
