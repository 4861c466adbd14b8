import { ProtocolError } from "./errors.js";

/**
 * DLBC ranking (DESIGN §6), the reference the market's Ranking.sol must agree with to 1e-9 relative:
 * `q = clamp(ln(k·l) / ln(L), 0, 2)`, `dn = (modelBytes + dataBytes) / bandwidth` (floored to whole
 * nanoseconds, as stored on chain), `dc = max(1, flops / compute)` seconds,
 * `score = (dn + dc^q) / (reward / 1e18)`, lowest first, ties by task id. The reward is in reference
 * units (`referenceReward`: the token's reward × its `unitScale` / 1e18, the wei for ETH), so tasks paid
 * in different tokens compare by value (issue 9 finding 13).
 */
export interface RankingTask {
  taskId: bigint;
  modelBytes: bigint;
  dataBytes: bigint;
  flops: bigint;
  /** In reference units (`referenceReward`). */
  reward: bigint;
}

/** The market parameters the ranking reads (`MarketParams`). */
export interface RankingParams {
  maxQueue: bigint;
  rankScale: bigint;
  medianBandwidth: bigint;
  medianCompute: bigint;
}

export const Q_MIN = 0;
export const Q_MAX = 2;
const UNIT = 10n ** 18n;
const DC_MAX = (1n << 64n) * UNIT;
const REWARD_MAX = (1n << 96n) - 1n;
const DN_MAX = (1n << 64n) - 1n;

/**
 * A reward in reference units, as `postTask` fixes it: `reward × unitScale / 1e18` (floor), with the
 * token's `unitScale` from `TaskMarket.rewardToken(token)` (1e18 for ETH).
 */
export function referenceReward(reward: bigint, unitScale: bigint): bigint {
  if (unitScale <= 0n) throw new ProtocolError("RANKING_OUT_OF_RANGE", "the token is not listed (unitScale 0)");
  const value = (reward * unitScale) / UNIT;
  if (value <= 0n || value > REWARD_MAX || reward > REWARD_MAX) {
    throw new ProtocolError("RANKING_OUT_OF_RANGE", `reward ${reward} at unitScale ${unitScale} is outside 1..2^96-1 reference units`);
  }
  return value;
}

/** Transfer time in whole nanoseconds, floored (what the market stores). */
export function transferNanos(modelBytes: bigint, dataBytes: bigint, bandwidth: bigint): bigint {
  if (bandwidth <= 0n) throw new ProtocolError("RANKING_OUT_OF_RANGE", "bandwidth must be positive");
  const dn = ((modelBytes + dataBytes) * 1_000_000_000n) / bandwidth;
  if (dn > DN_MAX) throw new ProtocolError("RANKING_OUT_OF_RANGE", `transfer time ${dn} ns exceeds 2^64-1`);
  return dn;
}

/** log2 of the compute time in seconds, at least 0 (a task under one second counts as one second). */
export function computeLog2(flops: bigint, compute: bigint): number {
  if (compute <= 0n) throw new ProtocolError("RANKING_OUT_OF_RANGE", "compute must be positive");
  const dcUd = (flops * UNIT) / compute;
  if (dcUd > DC_MAX) throw new ProtocolError("RANKING_OUT_OF_RANGE", `compute time exceeds 2^64 s`);
  if (dcUd <= UNIT) return 0;
  // Split off whole seconds so the float keeps the fraction's precision.
  const whole = dcUd / UNIT;
  return Math.log2(Number(whole)) + Math.log2(Number(dcUd) / Number(whole * UNIT));
}

/** The queue exponent q for queue length l, bound L and scale k (UD60x18). */
export function queueExponent(queueLength: bigint, maxQueue: bigint, rankScale: bigint): number {
  const kl = rankScale * queueLength;
  if (kl <= UNIT) return Q_MIN;
  const q = Math.log(Number(kl) / 1e18) / Math.log(Number(maxQueue));
  return Math.min(q, Q_MAX);
}

/** The score of one task at exponent q, in seconds per whole reference token (1e18 reference units). */
export function rankingScore(task: Omit<RankingTask, "taskId">, params: Omit<RankingParams, "maxQueue" | "rankScale">, q: number): number {
  if (task.reward <= 0n || task.reward > REWARD_MAX) {
    throw new ProtocolError("RANKING_OUT_OF_RANGE", `reward must be in 1..2^96-1, got ${task.reward}`);
  }
  const dn = Number(transferNanos(task.modelBytes, task.dataBytes, params.medianBandwidth)) / 1e9;
  const dcPowQ = 2 ** (q * computeLog2(task.flops, params.medianCompute));
  return (dn + dcPowQ) / (Number(task.reward) / 1e18);
}

/** The queue in start order: lowest score first, ties by task id (the market's `queuePage`). */
export function rankQueue(tasks: readonly RankingTask[], params: RankingParams): { taskId: bigint; score: number }[] {
  const q = queueExponent(BigInt(tasks.length), params.maxQueue, params.rankScale);
  return tasks
    .map((t) => ({ taskId: t.taskId, score: rankingScore(t, params, q) }))
    .sort((a, b) => a.score - b.score || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
}

/** Converts an on-chain UD60x18 score to a number. */
export function scoreFromUd(raw: bigint): number {
  return Number(raw) / 1e18;
}
