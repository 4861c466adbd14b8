import { MaxUint256, getAddress } from "ethers";
import type { Settlement, TaskMarket } from "../../types/index.js";
import type { Logger } from "../log/logger.js";
import type { ContentStore } from "../storage/index.js";

/**
 * After settlement the winner's and the ommers' artifacts are the task's product; the miners'
 * nodes that served them may go away. The publisher and every validator pin them (recursively, so
 * their own IPFS node keeps the blocks and serves them), so `podl model get` still finds the model.
 */

/** Most ommers a task can have (`ISettlement.SettlementParams.maxOmmers` is at most 8). */
const MAX_OMMERS = 8;

export interface SettledModel {
  role: "winner" | "ommer";
  miner: string;
  modelHash: string;
  modelCid: string;
}

/**
 * The winner and the ommers of a finalized task, read from TaskFinalized (winner index, medians in
 * reveal order), `getRevealed` and the ModelRevealed events: ommers are the other submissions with
 * a median at or above the threshold, highest median first, earlier commitment on ties
 * (docs/settlement.md); empty when the task has no winner.
 */
export async function settledModels(market: TaskMarket, settlement: Settlement, taskId: bigint, fromBlock: number): Promise<SettledModel[]> {
  const [finalized] = await settlement.queryFilter(settlement.filters.TaskFinalized(taskId), fromBlock);
  if (finalized === undefined || finalized.args.winner === MaxUint256) return [];
  const [revealed, task, reveals] = await Promise.all([
    market.getRevealed(taskId),
    market.getTask(taskId),
    market.queryFilter(market.filters.ModelRevealed(taskId), fromBlock),
  ]);
  const winner = Number(finalized.args.winner);
  const ommers = ommerIndices(finalized.args.medians.map(Number), revealed.map((s) => Number(s.commitSeq)), winner, Number(task.accuracyThreshold));
  const cidOf = (i: number): string | undefined => {
    const s = revealed[i]!;
    return reveals.find((e) => getAddress(e.args.miner) === getAddress(s.miner) && e.args.modelHash === s.modelHash)?.args.modelCid;
  };
  const models: SettledModel[] = [];
  for (const [role, i] of [["winner", winner], ...ommers.map((o) => ["ommer", o] as const)] as const) {
    const cid = cidOf(i);
    if (cid !== undefined) models.push({ role, miner: getAddress(revealed[i]!.miner), modelHash: revealed[i]!.modelHash, modelCid: cid });
  }
  return models;
}

/**
 * Indices (reveal order) of the ommers: submissions other than the winner with a median at or above
 * the threshold, highest median first, earlier commitment (`commitSeq`) on ties, at most 8.
 */
export function ommerIndices(medians: readonly number[], commitSeqs: readonly number[], winner: number, threshold: number): number[] {
  return commitSeqs
    .map((seq, i) => ({ i, seq, median: medians[i] ?? 0 }))
    .filter((s) => s.i !== winner && s.median >= threshold)
    .sort((a, b) => b.median - a.median || a.seq - b.seq)
    .slice(0, MAX_OMMERS)
    .map((s) => s.i);
}

/**
 * Pins each model; a model no peer delivers within `timeoutMs` is logged and skipped (pinning is
 * a service to the publisher, never a reason to stop an agent). Returns the CIDs pinned.
 */
export async function pinSettledModels(store: ContentStore, models: readonly SettledModel[], options: { timeoutMs: number; log: Logger; taskId: bigint }): Promise<string[]> {
  const pinned: string[] = [];
  for (const m of models) {
    try {
      await store.pin(m.modelCid, { timeoutMs: options.timeoutMs });
      pinned.push(m.modelCid);
      options.log.info({ taskId: options.taskId, role: m.role, miner: m.miner, modelCid: m.modelCid }, `pinned the ${m.role}'s model of task ${options.taskId}`);
    } catch (e) {
      options.log.warn({ taskId: options.taskId, role: m.role, modelCid: m.modelCid, err: (e as Error).message }, `could not pin the ${m.role}'s model of task ${options.taskId}`);
    }
  }
  return pinned;
}

/** Both steps for one settled task, as the agents call them after settlement. */
export async function pinTaskModels(
  contracts: { market: TaskMarket; settlement: Settlement; fromBlock: number },
  store: ContentStore,
  taskId: bigint,
  options: { timeoutMs: number; log: Logger },
): Promise<string[]> {
  const models = await settledModels(contracts.market, contracts.settlement, taskId, contracts.fromBlock);
  return await pinSettledModels(store, models, { ...options, taskId });
}
