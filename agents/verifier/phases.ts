import { claimPayouts } from "../chain/payouts.js";
import type { AgentRuntime } from "../core/runtime.js";
import { dueMarketCall, seedDue, sendMarketCall } from "../keeper/index.js";
import { PHASE_NAMES, type PhaseName } from "../protocol/phases.js";
import type { TaskMarket } from "../../types/index.js";
import { attesting } from "./committee.js";
import type { TaskData, VerifierContext } from "./context.js";
import { withdrawAll } from "./payout.js";
import { prefetch } from "./scoring.js";

/** The chain's view of a task at the start of its step. */
export interface TaskView {
  taskId: bigint;
  data: TaskData;
  t: Awaited<ReturnType<TaskMarket["getTask"]>>;
  /** The latest block's timestamp and number. */
  now: bigint;
  block: bigint;
  tlog: AgentRuntime["log"];
}

/** What a step does for a followed task; true when the verifier is done with it. */
export type Duty = (ctx: VerifierContext, task: TaskView) => Promise<boolean>;

/** Ended on chain: claim its posted payouts, withdraw the credits, then `watching` → `done`. */
const ended: Duty = async (ctx, { taskId, data, t, tlog }) => {
  // a list is posted at settle, after the test unlock: the lookup starts there, not at block 0
  await claimPayouts(ctx.market, ctx.rt.sender, taskId, ctx.me, Number(t.testUnlockBlock));
  await withdrawAll(ctx, data.token ?? t.token);
  const phase = PHASE_NAMES[Number(t.phase)]!;
  ctx.rt.store.putTask(taskId, "done", { ...data, ended: phase });
  tlog.info({ phase }, `task ${taskId} ended: ${phase}`);
  return true;
};

/** Before attestation: prefetch the task's data; as keeper, send the market call that is due. */
const keeping: Duty = async (ctx, { taskId, data, t, now, tlog }) => {
  prefetch(ctx, taskId, data, t.phase, tlog);
  if (!ctx.o.keeper) return false;
  const due = await dueMarketCall(t, now, () => seedDue(ctx.market, taskId));
  if (due !== undefined) await ctx.keeper.keep(taskId, tlog, due, () => sendMarketCall(ctx.rt.sender, ctx.market, due, taskId));
  return false;
};

/** Attesting: draw and finalize as keeper, score, commit and reveal as a committee member. */
const attestation: Duty = async (ctx, { taskId, data, t, now, block, tlog }) => {
  prefetch(ctx, taskId, data, t.phase, tlog);
  await attesting(ctx, taskId, data, t, now, block, tlog);
  return false;
};

/**
 * The verifier's phases and transitions, in one table. Its own phase of a task is `watching` (from
 * the first event seen) or `done`; what a step does depends on the market's phase:
 *
 * | market phase                                   | the verifier                                         | duty                        |
 * |------------------------------------------------|------------------------------------------------------|-----------------------------|
 * | none, queued, started, committing, revealing   | prefetches; as keeper, the due market call            | scoring.ts, agents/keeper/  |
 * | attesting                                      | draws and finalizes (keeper); scores, commits, reveals | committee.ts, scoring.ts    |
 * | settled, cancelled, defaulted, unvalidated     | withdraws its credits; watching → done                | payout.ts                   |
 */
export const DUTIES: Record<PhaseName, Duty> = {
  none: keeping,
  queued: keeping,
  started: keeping,
  committing: keeping,
  revealing: keeping,
  attesting: attestation,
  settled: ended,
  cancelled: ended,
  defaulted: ended,
  unvalidated: ended,
};
