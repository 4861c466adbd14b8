import { PHASE } from "../protocol/phases.js";
import type { ChainTask, MinerContext, MinerPhase, TaskData } from "./context.js";
import { evaluate } from "./intake.js";
import { reconcile } from "./submission.js";

/** What a step does with a task in one phase, while the chain has not ended it. */
export type Transition = (ctx: MinerContext, taskId: bigint, data: TaskData, t: ChainTask, next: bigint) => Promise<void>;

/**
 * The miner's phases and their transitions, in one table. A task the chain ended goes to
 * `finish` (payout.ts: claim, withdraw) and then `done`, whatever its phase. Training is not a
 * transition of one task: each step trains at most one eligible task, the strategy's pick
 * (selection.ts → schedule.ts → submission.ts: eligible → committed, skipped or missed).
 *
 * | phase     | a step                                                               | goes to                    | duty          |
 * |-----------|----------------------------------------------------------------------|----------------------------|---------------|
 * | posted    | document, limits, backend, bond; prefetch the ciphertexts, probe      | eligible, skipped, missed  | intake.ts     |
 * | eligible  | waits for the keys and its turn; past the commit margin it is missed  | (committed), missed        | (selection.ts)|
 * | committed | makes sure the chain has the commitment, reveals when the window opens| revealed, missed           | submission.ts |
 * | revealed  | nothing: settlement ends the task                                     | done                       | payout.ts     |
 * | skipped, missed, failed, done | final                                            |                            |               |
 */
export const TRANSITIONS: Record<MinerPhase, Transition | undefined> = {
  posted: async (ctx, taskId, data, t) => {
    if (t.phase >= PHASE.Revealing) {
      ctx.set(taskId, "missed", { ...data, reason: "its commit window had closed when this miner saw it" });
      ctx.say(taskId, `missed task ${taskId}: its commit window had closed when this miner saw it`, "warn");
      return;
    }
    return await evaluate(ctx, taskId, data, t);
  },
  eligible: async (ctx, taskId, data, t, next) => {
    if (t.phase >= PHASE.Revealing || (t.commitDeadline !== 0n && next + BigInt(ctx.commitMargin()) > t.commitDeadline)) {
      ctx.set(taskId, "missed", { ...data, reason: "the commit deadline came before it could train" });
      ctx.say(taskId, `missed task ${taskId}: the commit deadline came before it could train`, "warn");
    }
  },
  committed: reconcile,
  // A reveal needs the test keys, so a revealed task can no longer default; settlement ends it.
  revealed: async () => {},
  skipped: undefined,
  missed: undefined,
  failed: undefined,
  done: undefined,
};

export const FINAL_PHASES: ReadonlySet<string> = new Set<MinerPhase>(["skipped", "missed", "failed", "done"]);
