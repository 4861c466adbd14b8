import { computeLog2, queueExponent, referenceReward, transferNanos } from "../protocol/ranking.js";
import type { LiveViews } from "./live.js";
import type { TaskView } from "./derive.js";

/** A queued task's DLBC ranking (DESIGN §6) term by term, next to the market's own score. */
export interface QueueEntry {
  rank: number;
  taskId: number;
  publisher: string;
  token: string;
  reward: string;
  postedAt: number;
  /** The market's score (`rankOf`, UD60x18 as a decimal number string): lowest starts first. */
  score: string;
  /** Terms from the posted request and the live parameters; absent when the request is unknown. */
  terms?: { dn: number; dc: number; q: number; rewardTokens: number; score: number };
}

/**
 * The queue in the market's start order, each task with the terms of its score:
 * `dn = (modelBytes + dataBytes) / bandwidth`, `dc = flops / compute` (at least 1 s),
 * `q = ln(k·l) / ln(L)`, `score = (dn + dc^q) / reward` (reward in whole reference tokens).
 * `unitScale` gives each token's reference units per 1e18 (ETH: 1e18).
 */
export function queueWithTerms(live: LiveViews, tasks: ReadonlyMap<number, TaskView>, unitScale: (token: string) => bigint): QueueEntry[] {
  const p = live.params;
  const q = queueExponent(BigInt(live.queueLength), BigInt(p.maxQueue!), BigInt(p.rankScale!));
  return live.queue.flatMap(({ taskId, score }, i) => {
    const t = tasks.get(taskId);
    if (t === undefined) return [];
    const entry: QueueEntry = { rank: i + 1, taskId, publisher: t.publisher, token: t.token, reward: t.reward, postedAt: t.postedAt, score: (Number(BigInt(score)) / 1e18).toString() };
    const r = t.request;
    const scale = unitScale(t.token);
    if (r !== null && scale > 0n) {
      const dn = Number(transferNanos(BigInt(r.modelBytes!), BigInt(r.dataBytes!), BigInt(p.medianBandwidth!))) / 1e9;
      const log2dc = computeLog2(BigInt(r.flops!), BigInt(p.medianCompute!));
      const rewardTokens = Number(referenceReward(BigInt(t.reward), scale)) / 1e18;
      entry.terms = { dn, dc: 2 ** log2dc, q, rewardTokens, score: (dn + 2 ** (q * log2dc)) / rewardTokens };
    }
    return [entry];
  });
}
