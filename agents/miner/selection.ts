import { queueExponent, rankingScore, referenceReward, type RankingParams } from "../protocol/ranking.js";
import { PHASE } from "../protocol/phases.js";
import { tryMarketCall } from "../keeper/index.js";
import type { ChainTask, MinerContext, Strategy, TaskData } from "./context.js";
import { plannedEpochs } from "./schedule.js";

/** The next task to train: committing, keys out, not yet committed to; the strategy's best. */
export async function choose(ctx: MinerContext): Promise<{ taskId: bigint; data: TaskData } | undefined> {
  const next = await ctx.nextTimestamp();
  const ready: { taskId: bigint; data: TaskData; t: ChainTask }[] = [];
  for (const task of ctx.rt.store.listTasks("eligible")) {
    const data = task.data as TaskData;
    if (data.keys === undefined || ctx.jobs.has(task.taskId)) continue;
    const t = await ctx.market.getTask(task.taskId);
    if (t.phase !== PHASE.Committing || next + BigInt(ctx.commitMargin()) > t.commitDeadline) continue;
    ready.push({ taskId: task.taskId, data, t });
  }
  if (ready.length <= 1) return ready[0];
  // Rewards in reference units (the market's ranking, issue 9 finding 13); a token delisted since its
  // post has no scale any more and counts at par.
  const scales = new Map<string, bigint>();
  for (const c of ready) if (!scales.has(c.t.token)) scales.set(c.t.token, (await ctx.market.rewardToken(c.t.token)).unitScale);
  const order = orderCandidates(
    ctx.o.strategy,
    ready.map((c) => {
      const w = c.data.workload!;
      const scale = scales.get(c.t.token)!;
      return {
        taskId: c.taskId,
        reward: scale === 0n ? c.t.reward : referenceReward(c.t.reward, scale),
        modelBytes: BigInt(w.modelBytes),
        dataBytes: BigInt(w.dataBytes),
        flops: BigInt(w.flops),
        trainSeconds: c.data.probe!.epochSeconds * plannedEpochs(ctx, c.data, c.t, next),
      };
    }),
    await ctx.market.params(),
  );
  ctx.rt.log.info({ strategy: ctx.o.strategy, order }, `strategy ${ctx.o.strategy} picks task ${order[0]}`);
  return ready.find((c) => c.taskId === order[0]);
}

/** Starts the best queued task when one of ours waits in the queue and the market has room. */
export async function maybeStart(ctx: MinerContext): Promise<void> {
  const waiting = ctx.rt.store.listTasks("eligible").filter((t) => (t.data as TaskData).keys === undefined);
  if (waiting.length === 0) return;
  const [queued, active, params] = await Promise.all([ctx.market.queueLength(), ctx.market.activeCount(), ctx.market.params()]);
  if (queued === 0n || active >= params.maxActive) return;
  const phases = await Promise.all(waiting.map((t) => ctx.market.getTask(t.taskId)));
  if (!phases.some((t) => t.phase === PHASE.Queued)) return;
  await tryMarketCall(ctx.rt.sender, ctx.market, ctx.rt.log, "startNext");
}

/** A task the miner could train now, as the strategies see it. */
export interface Candidate {
  taskId: bigint;
  /** In reference units (`referenceReward`: wei for ETH). */
  reward: bigint;
  /** Declared workload (DLBC's dn and dc), from the task document. */
  modelBytes: bigint;
  dataBytes: bigint;
  flops: bigint;
  /** Expected training time at the probe's speed for the epochs it would train. */
  trainSeconds: number;
}

/**
 * Candidates best first. `dlbc`: the market's ranking, lowest DLBC score first (ranking.ts, q at
 * this many candidates). `pole`: highest reward per expected second, the ciphertexts' transfer at
 * the market's median bandwidth plus the measured training time. Rewards are in reference units
 * (`referenceReward`, as the market ranks them), so tasks in different tokens compare by value. Ties go
 * to the lower task id.
 */
export function orderCandidates(strategy: Strategy, candidates: readonly Candidate[], params: RankingParams): bigint[] {
  const q = queueExponent(BigInt(candidates.length), params.maxQueue, params.rankScale);
  const value = (c: Candidate): number =>
    strategy === "dlbc"
      ? -rankingScore(c, params, q)
      : Number(c.reward) / 1e18 / Math.max(Number(c.dataBytes) / Number(params.medianBandwidth) + c.trainSeconds, 1e-3);
  return [...candidates].sort((a, b) => value(b) - value(a) || (a.taskId < b.taskId ? -1 : 1)).map((c) => c.taskId);
}
