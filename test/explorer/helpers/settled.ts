import type { NetworkConnection } from "hardhat/types/network";
import { ExplorerDb } from "../../../agents/explorer/db.js";
import { ExplorerIndexer } from "../../../agents/explorer/indexer.js";
import { captureLogger } from "../../agents/helpers/log.js";
import { FAST_RETRY } from "../../agents/helpers/chain.js";
import { attest, bySigner, claimAllPosted, deployWorld, draw, ONE, stakeAll, taskToAttesting, type World } from "../../validators/helpers/world.js";

/** Each committee member's scores for the two submissions (reveal order), by the member's account index. */
export const SCORES: Record<number, [bigint, bigint]> = { 5: [9000n, 8500n], 6: [9200n, 8600n], 7: [8800n, 8400n] };

export interface SettledMarket {
  w: World;
  conn: NetworkConnection;
  taskId: bigint;
  /** A task left waiting in the queue. */
  queuedId: bigint;
}

/**
 * One task settled on the real contracts of the in-process network (the validators tests' world):
 * two miners reveal, a committee of three staked validators scores them (the first wins, the second
 * is an ommer), finalize posts the payouts and appends a learning block, and every payout is
 * claimed into its account's credit (pull payouts); one more task waits in
 * the queue. Models and scores are scripted: the explorer reads what the chain holds, whatever the
 * training behind it.
 */
export async function settledMarket(conn: NetworkConnection): Promise<SettledMarket> {
  const w = await deployWorld(conn, { settlement: { committeeSize: 3n } });
  const a = w.accounts;
  const validators = [a[5]!, a[6]!, a[7]!];
  await stakeAll(w, validators, [2n * ONE, 3n * ONE, ONE]);
  const run = await taskToAttesting(w, a[0]!, [
    { signer: a[1]!, reveal: true },
    { signer: a[2]!, reveal: true },
  ]);
  const members = bySigner(a, await draw(w, run.taskId));
  await attest(w, run.taskId, members.map((m) => ({ signer: m, scores: SCORES[a.indexOf(m)]!, reveal: true })));
  const round = await w.settlement.getRound(run.taskId, 0n);
  await w.helpers.time.increaseTo(round.revealDeadline + 1n);
  await (await w.settlement.finalize(run.taskId)).wait();
  await claimAllPosted(w);
  const queuedId = await postQueued(w, "bafkreiqueued");
  return { w, conn, taskId: run.taskId, queuedId };
}

/** Posts a small ETH task that stays queued. */
export async function postQueued(w: World, specCid: string): Promise<bigint> {
  const { ethers, market } = w;
  await (
    await market.connect(w.accounts[14]!).postTask(
      { token: ethers.ZeroAddress, reward: ONE, datasetRoot: ethers.id(specCid), specCid, shardCount: 10, testShards: 2, accuracyThreshold: 8000, maxSubmissions: 4, trainWindow: 600, modelBytes: 5_000_000n, dataBytes: 20_000_000n, flops: 3_000_000_000_000n },
      { value: ONE + ONE / 20n },
    )
  ).wait();
  return await market.taskCount();
}

/** An indexer over `w`'s contracts into `db` (confirmations as given, the agents' retry policy for tests). */
export async function indexerFor(w: World, db: ExplorerDb, confirmations = 0): Promise<ExplorerIndexer> {
  return new ExplorerIndexer({
    provider: w.ethers.provider,
    db,
    contracts: { market: await w.market.getAddress(), registry: await w.registry.getAddress(), settlement: await w.settlement.getAddress() },
    startBlock: 0,
    confirmations,
    chunkBlocks: 50,
    maxReorgDepth: 64,
    retry: FAST_RETRY,
    log: captureLogger("explorer").log,
  });
}
