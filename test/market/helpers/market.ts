import { keccak256, toUtf8Bytes, type Signer } from "ethers";
import type { NetworkConnection } from "hardhat/types/network";
import { buildDatasetCommitment, shardKeys, trainingUnlock, type ShardSecret } from "../../../agents/protocol/dataset-tree.js";
import { splitShards } from "../../../agents/protocol/split.js";
import { modelCommitment } from "../../../agents/protocol/commitments.js";

export const ZERO = "0x0000000000000000000000000000000000000000";
export const ONE = 10n ** 18n;

/** Market parameters for tests: short windows, three validators, a queue of 8. */
export const testParams = {
  maxQueue: 8n,
  maxActive: 2n,
  minCommittee: 3n,
  publisherBondBps: 500n,
  minerBondBps: 100n,
  keyWindow: 600n,
  testKeyWindow: 600n,
  revealWindow: 600n,
  maxQueueTime: 86_400n,
  minTrainWindow: 60n,
  maxTrainWindow: 30n * 86_400n,
  medianBandwidth: 10_000_000n,
  medianCompute: 1_000_000_000n,
  rankScale: ONE,
};

/** ETH's minimum reward in tests (wei); deployMarket lists ETH with it at par (unitScale 1e18). */
export const ETH_MIN_REWARD = 1000n;

export type Params = typeof testParams;

/** Deterministic shards: CIDs and keys derived from a label. */
export function makeShards(count: number, label = "ds"): ShardSecret[] {
  return Array.from({ length: count }, (_, i) => ({
    cid: `bafkreitestshard${label}${i}`,
    key: keccak256(toUtf8Bytes(`${label}-key-${i}`)),
  }));
}

export interface Dataset {
  shards: ShardSecret[];
  leaves: string[];
  root: string;
}

export function makeDataset(count: number, label = "ds"): Dataset {
  const shards = makeShards(count, label);
  const { leaves, root } = buildDatasetCommitment(shards);
  return { shards, leaves, root };
}

export function taskRequest(dataset: Dataset, overrides: Partial<Record<string, unknown>> = {}) {
  return {
    token: ZERO,
    reward: ONE,
    datasetRoot: dataset.root,
    specCid: "bafkreispecspecspecspecspecspecspecspecspecspecspecspec",
    shardCount: dataset.shards.length,
    testShards: 3,
    accuracyThreshold: 8000,
    maxSubmissions: 4,
    trainWindow: 3600,
    modelBytes: 1_000_000n,
    dataBytes: 50_000_000n,
    flops: 10n ** 12n,
    ...overrides,
  };
}

/** ETH the publisher must send with `reward` under `params`. */
export function escrowFor(reward: bigint, params: Params = testParams): bigint {
  return reward + (reward * params.publisherBondBps) / 10_000n;
}

export function minerBondFor(reward: bigint, params: Params = testParams): bigint {
  const bond = (reward * params.minerBondBps) / 10_000n;
  return bond === 0n ? 1n : bond;
}

export type Connection = NetworkConnection<"generic">;

/** Deploys the real ValidatorRegistry (three staked validators) and the market. */
export async function deployMarket(conn: Connection, params: Params = testParams, validators = 3) {
  const { ethers } = conn;
  const signers = await ethers.getSigners();
  const [owner, publisher, minerA, minerB, minerC, keeper, settlementAccount, outsider] = signers.slice(0, 8).map((s) => s!);
  if (outsider === undefined || owner === undefined || publisher === undefined || minerA === undefined || minerB === undefined ||
    minerC === undefined || keeper === undefined || settlementAccount === undefined) {
    throw new Error("the test network needs at least 8 accounts");
  }
  const randomness = await ethers.deployContract("BlockhashRandomness", [2n]);
  const registry = await ethers.deployContract("ValidatorRegistry", [
    await owner.getAddress(),
    ZERO,
    await randomness.getAddress(),
    { minStake: ONE, unbondingPeriod: 3600n, warmupBlocks: 1n, maxValidators: 64n },
  ]);
  for (const v of signers.slice(10, 10 + validators)) {
    await registry.connect(v).stake(ONE, { value: ONE });
  }
  const market = await ethers.deployContract("TaskMarket", [await owner.getAddress(), await registry.getAddress(), params]);
  await market.setRewardToken(ZERO, ETH_MIN_REWARD, ONE);
  const lens = await ethers.deployContract("QueueLens", [await market.getAddress()]);
  /** Mines past the randomness source's delay, so that the seeds of tasks started so far are known. */
  const mineToSeed = async (): Promise<void> => conn.networkHelpers.mine(Number(await randomness.DELAY()) + 1);
  return { market, lens, registry, randomness, mineToSeed, owner, publisher, minerA, minerB, minerC, keeper, settlementAccount, outsider, signers };
}

export type Deployed = Awaited<ReturnType<typeof deployMarket>>;

/** The split of a started task. */
export async function splitOf(d: Deployed, taskId: bigint) {
  const task = await d.market.getTask(taskId);
  return splitShards(task.seed, Number(task.shardCount), Number(task.testShards));
}

/** `unlockTrainingData`'s keys and test leaves for a started task. */
export async function trainKeysFor(d: Deployed, taskId: bigint, dataset: Dataset) {
  const { train, test } = await splitOf(d, taskId);
  return trainingUnlock(dataset.shards, train, test);
}

/** `unlockTestData`'s keys for a started task. */
export async function testKeysFor(d: Deployed, taskId: bigint, dataset: Dataset) {
  return shardKeys(dataset.shards, (await splitOf(d, taskId)).test);
}

export interface Opening {
  modelCid: string;
  modelHash: string;
  checkpointRoot: string;
  salt: string;
}

export function opening(label: string): Opening {
  return {
    modelCid: `bafkreimodel${label}`,
    modelHash: keccak256(toUtf8Bytes(`model-${label}`)),
    checkpointRoot: keccak256(toUtf8Bytes(`ckpt-${label}`)),
    salt: keccak256(toUtf8Bytes(`salt-${label}`)),
  };
}

export async function commitmentFor(d: Deployed, taskId: bigint, miner: Signer, o: Opening): Promise<string> {
  const { chainId } = await miner.provider!.getNetwork();
  return modelCommitment({
    market: await d.market.getAddress(),
    chainId,
    taskId,
    miner: await miner.getAddress(),
    modelHash: o.modelHash,
    checkpointRoot: o.checkpointRoot,
    salt: o.salt,
  });
}

/** Advances the chain clock to `timestamp` (the next block gets it). */
export async function timeTo(conn: Connection, timestamp: bigint): Promise<void> {
  await conn.networkHelpers.time.setNextBlockTimestamp(timestamp);
  await conn.networkHelpers.mine();
}

/** Posts an ETH task as the publisher and returns its id. */
export async function post(d: Deployed, dataset: Dataset, overrides: Partial<Record<string, unknown>> = {}): Promise<bigint> {
  const request = taskRequest(dataset, overrides);
  const reward = request.reward as bigint;
  const value = request.token === ZERO ? escrowFor(reward) : 0n;
  await d.market.connect(d.publisher).postTask(request as never, { value });
  return await d.market.taskCount();
}

/** Posts and starts a task and mines until its seed is known; returns its id. */
export async function postAndStart(d: Deployed, dataset: Dataset, overrides: Partial<Record<string, unknown>> = {}): Promise<bigint> {
  const taskId = await post(d, dataset, overrides);
  await d.market.startNext();
  await d.mineToSeed();
  return taskId;
}

/** Posts, starts and unlocks the training keys; returns the task id. */
export async function toCommitting(d: Deployed, dataset: Dataset, overrides: Partial<Record<string, unknown>> = {}): Promise<bigint> {
  const taskId = await postAndStart(d, dataset, overrides);
  const k = await trainKeysFor(d, taskId, dataset);
  await d.market.connect(d.publisher).unlockTrainingData(taskId, k.keys, k.testLeaves);
  return taskId;
}

/** Commits `o` for `miner` with the bond. */
export async function commit(d: Deployed, taskId: bigint, miner: Signer, o: Opening): Promise<void> {
  const task = await d.market.getTask(taskId);
  await d.market.connect(miner).commitModel(taskId, await commitmentFor(d, taskId, miner, o), { value: task.minerBond });
}

export async function reveal(d: Deployed, taskId: bigint, miner: Signer, o: Opening) {
  return d.market.connect(miner).revealModel(taskId, o.modelCid, o.modelHash, o.checkpointRoot, o.salt);
}

/** Moves past the commit deadline. */
export async function pastCommitDeadline(conn: Connection, d: Deployed, taskId: bigint): Promise<void> {
  const task = await d.market.getTask(taskId);
  await timeTo(conn, task.commitDeadline + 1n);
}

/** Unlocks the test keys (caller must be past the commit deadline). */
export async function unlockTest(d: Deployed, taskId: bigint, dataset: Dataset): Promise<void> {
  await d.market.connect(d.publisher).unlockTestData(taskId, await testKeysFor(d, taskId, dataset));
}
