import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { Signer } from "ethers";
import type { NetworkConnection } from "hardhat/types/network";
import type { RewardToken, Settlement, TaskMarket, ValidatorRegistry } from "../../../types/index.js";
import { unclaimedMints, unclaimedPayouts } from "../../../agents/chain/payouts.js";
import { defaults } from "../../../devnet/deployment.js";

type Conn = NetworkConnection;
type Ethers = Conn["ethers"];
type Helpers = Conn["networkHelpers"];

export const ONE = 10n ** 18n;
export const NONE = 2n ** 256n - 1n;
/** PODL-wei minted at most per wei of an ETH reward (UD60x18): 1,000 PODL per ETH. */
export const ETH_MINT_RATE = 1000n * ONE;

export const registryParams = { minStake: ONE, unbondingPeriod: 3600n, warmupBlocks: 1n, maxValidators: 64n };
/** Blocks between a draw request and the block whose hash seeds it (the L1 randomness source's delay). */
export const drawDelay = 2n;

export const marketParams = {
  maxQueue: 16n,
  maxActive: 8n,
  minCommittee: 3n,
  publisherBondBps: 500n,
  minerBondBps: 1000n,
  keyWindow: 600n,
  testKeyWindow: 600n,
  revealWindow: 600n,
  maxQueueTime: 86_400n,
  minTrainWindow: 60n,
  maxTrainWindow: 86_400n,
  medianBandwidth: 1_000_000n,
  medianCompute: 1_000_000_000n,
  rankScale: ONE,
};

/** The deployed defaults (DESIGN §3): the tests' windows and shares are the ones users get. */
export const settlementParams = defaults.settlement;

export type World = {
  ethers: Ethers;
  helpers: Helpers;
  owner: HardhatEthersSigner;
  accounts: HardhatEthersSigner[];
  registry: ValidatorRegistry;
  market: TaskMarket;
  rewardToken: RewardToken;
  settlement: Settlement;
};

/** Deploys the real registry, market, reward token and settlement, wired to each other. */
export async function deployWorld(
  conn: Conn,
  overrides: { settlement?: Partial<typeof settlementParams>; market?: Partial<typeof marketParams> } = {},
): Promise<World> {
  const { ethers, networkHelpers } = conn;
  const [owner, ...accounts] = await ethers.getSigners();
  const randomness = await ethers.deployContract("BlockhashRandomness", [drawDelay]);
  const registry = await ethers.deployContract("ValidatorRegistry", [owner!.address, ethers.ZeroAddress, await randomness.getAddress(), registryParams]);
  const market = await ethers.deployContract("TaskMarket", [
    owner!.address,
    await registry.getAddress(),
    { ...marketParams, ...overrides.market },
  ]);
  const rewardToken = await ethers.deployContract("RewardToken", [owner!.address]);
  const payouts = await ethers.deployContract("Payouts");
  const settlement = await ethers.deployContract(
    "Settlement",
    [
      owner!.address,
      await market.getAddress(),
      await registry.getAddress(),
      await rewardToken.getAddress(),
      { ...settlementParams, ...overrides.settlement },
    ],
    { libraries: { Payouts: await payouts.getAddress() } },
  );
  await market.setSettlement(await settlement.getAddress());
  await registry.setSettlement(await settlement.getAddress());
  await rewardToken.setMinter(await settlement.getAddress());
  // ETH tasks mint at most 1,000 PODL per ETH of reward (issue 9 finding 4); other tokens nothing
  await settlement.setMintRate(ethers.ZeroAddress, ETH_MINT_RATE);
  return { ethers, helpers: networkHelpers, owner: owner!, accounts, registry, market, rewardToken, settlement };
}

/** Any account that signs: a Hardhat signer or a funded ethers Wallet (benchmarks need more than 20). */
export type Actor = Signer & { address: string };

export type MinerPlan = { signer: Actor; reveal: boolean };

export type TaskRun = {
  taskId: bigint;
  reward: bigint;
  publisherBond: bigint;
  minerBond: bigint;
  revealed: Actor[];
  modelHashes: Map<string, string>;
};

/**
 * Drives one ETH task through the real market up to the attestation phase: post, start, training-key
 * unlock (keys and test leaves in index order), commits in `miners` order, test-key unlock, the reveals asked for, and time past
 * the reveal window.
 */
export async function taskToAttesting(
  w: World,
  publisher: HardhatEthersSigner,
  miners: MinerPlan[],
  opts: { reward?: bigint; threshold?: bigint; stopInRevealWindow?: boolean } = {},
): Promise<TaskRun> {
  const { ethers, helpers, market } = w;
  const reward = opts.reward ?? 10n * ONE;
  const shardCount = 10;
  const keys = Array.from({ length: shardCount }, (_, i) => ethers.id(`key-${i}-${Math.random()}`));
  const cidHashes = Array.from({ length: shardCount }, (_, i) => ethers.id(`cid-${i}`));
  const coder = ethers.AbiCoder.defaultAbiCoder();
  const leaves = keys.map((k, i) =>
    ethers.keccak256(coder.encode(["uint256", "bytes32", "bytes32"], [i, cidHashes[i]!, ethers.keccak256(coder.encode(["bytes32"], [k]))])),
  );
  const tree = { root: ethers.keccak256(ethers.concat(leaves)) };
  const params = await market.params();
  const publisherBond = (reward * params.publisherBondBps) / 10_000n;
  await market.connect(publisher).postTask(
    {
      token: ethers.ZeroAddress,
      reward,
      datasetRoot: tree.root,
      specCid: "bafkreitaskspec",
      shardCount,
      testShards: 2,
      accuracyThreshold: opts.threshold ?? 8000n,
      maxSubmissions: 64,
      trainWindow: 600,
      modelBytes: 1000n,
      dataBytes: 1000n,
      flops: 1_000_000n,
    },
    { value: reward + publisherBond },
  );
  const taskId = await market.taskCount();
  await market.startNext();
  // the seed (and so the split) is the randomness source's answer, a block hash drawDelay blocks on
  await helpers.mine(Number(drawDelay) + 1);
  const bitmap = await market.testShardBitmap(taskId);
  const isTest = (i: number) => ((bitmap >> BigInt(i)) & 1n) === 1n;
  const unlock = async (test: boolean) => {
    const shardKeys = keys.flatMap((key, i) => (isTest(i) === test ? [{ index: i, cidHash: cidHashes[i]!, key }] : []));
    return { shardKeys, testLeaves: leaves.filter((_, i) => isTest(i)) };
  };
  const train = await unlock(false);
  await market.connect(publisher).unlockTrainingData(taskId, train.shardKeys, train.testLeaves);

  const task = await market.getTask(taskId);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const marketAddress = await market.getAddress();
  const modelHashes = new Map<string, string>();
  const salts = new Map<string, string>();
  for (const m of miners) {
    const modelHash = ethers.id(`model-${m.signer.address}-${taskId}`);
    const salt = ethers.id(`salt-${m.signer.address}`);
    const commitment = ethers.keccak256(
      coder.encode(
        ["address", "uint256", "uint256", "address", "bytes32", "bytes32", "bytes32"],
        [marketAddress, chainId, taskId, m.signer.address, modelHash, ethers.ZeroHash, salt],
      ),
    );
    modelHashes.set(m.signer.address, modelHash);
    salts.set(m.signer.address, salt);
    await market.connect(m.signer).commitModel(taskId, commitment, { value: task.minerBond });
  }
  await helpers.time.increaseTo(task.deadline + 1n);
  const test = await unlock(true);
  await market.connect(publisher).unlockTestData(taskId, test.shardKeys);
  const revealed: Actor[] = [];
  for (const m of miners) {
    if (!m.reveal) continue;
    await market
      .connect(m.signer)
      .revealModel(taskId, "bafkreimodel", modelHashes.get(m.signer.address)!, ethers.ZeroHash, salts.get(m.signer.address)!);
    revealed.push(m.signer);
  }
  const after = await market.getTask(taskId);
  if (!opts.stopInRevealWindow) await helpers.time.increaseTo(after.revealDeadline + 1n);
  return { taskId, reward, publisherBond, minerBond: task.minerBond, revealed, modelHashes };
}

/** Stakes `amounts[i]` ETH for `validators[i]`. */
export async function stakeAll(w: World, validators: Actor[], amounts: bigint[]): Promise<void> {
  for (let i = 0; i < validators.length; i++) {
    await w.registry.connect(validators[i]!).stake(amounts[i]!, { value: amounts[i]! });
  }
}

/**
 * Requests round 0's draw if settlement has not opened yet, mines past the randomness source's delay and
 * draws the current round's committee; returns its members.
 */
export async function draw(w: World, taskId: bigint): Promise<string[]> {
  const [status] = await w.settlement.statusOf(taskId);
  if (status === 0n) await w.settlement.drawCommittee(taskId);
  await w.helpers.mine(Number(drawDelay));
  await w.settlement.drawCommittee(taskId);
  const [, round] = await w.settlement.statusOf(taskId);
  return [...(await w.settlement.committee(taskId, round))];
}

export function saltOf(address: string): string {
  return `0x${address.slice(2).padStart(64, "0")}`;
}

/** Commits every (validator, scores) pair, then reveals those with `reveal` set. */
export async function attest(
  w: World,
  taskId: bigint,
  votes: { signer: Actor; scores: bigint[]; reveal: boolean; commit?: boolean }[],
): Promise<void> {
  const [, round] = await w.settlement.statusOf(taskId);
  for (const v of votes) {
    if (v.commit === false) continue;
    const c = await w.settlement.scoresCommitment(taskId, round, v.signer.address, v.scores, saltOf(v.signer.address));
    await w.settlement.connect(v.signer).commitScores(taskId, c);
  }
  const r = await w.settlement.getRound(taskId, round);
  if (r.commits < r.size) await w.helpers.time.increaseTo(r.commitDeadline + 1n);
  for (const v of votes) {
    if (!v.reveal) continue;
    await w.settlement.connect(v.signer).revealScores(taskId, v.scores, saltOf(v.signer.address));
  }
}

/** Signer objects for committee members, by address. */
export function bySigner<T extends Actor>(all: T[], addresses: string[]): T[] {
  return addresses.map((a) => all.find((s) => s.address === a)!);
}

/**
 * Claims every posted payout (market credits) and block reward (PODL) of every task posted so far for
 * its payees, as a keeper would (anyone may claim; each entry goes to the account it names); tests read
 * credits and PODL balances after it.
 */
export async function claimAllPosted(w: { market: TaskMarket; rewardToken?: RewardToken }): Promise<void> {
  for (const e of await w.market.queryFilter(w.market.filters.PayoutsPosted())) {
    const due = await unclaimedPayouts(w.market, e.args.taskId);
    if (due !== undefined) await (await w.market.claimPayouts(due.taskId, due.payouts, due.indices)).wait();
  }
  if (w.rewardToken === undefined) return;
  for (const e of await w.rewardToken.queryFilter(w.rewardToken.filters.MintsPosted())) {
    const due = await unclaimedMints(w.rewardToken, e.args.taskId);
    if (due !== undefined) await (await w.rewardToken.claimMints(due.taskId, due.payouts, due.indices)).wait();
  }
}
