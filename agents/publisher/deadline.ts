import { marginFor, warnIfAtRisk, type DeadlineRuntime } from "../core/deadline.js";

/**
 * RPC calls between deciding to unlock and the unlock's receipt: the task, the head block, the
 * estimate, fee data (two), the nonce, the broadcast and two receipt polls.
 */
export const UNLOCK_RPC_CALLS = 9;

/** Seconds an unlock needs before its deadline at the measured latency and failure rate (core/deadline.ts). */
export function unlockMarginSeconds(rt: DeadlineRuntime): number {
  return marginFor(rt, UNLOCK_RPC_CALLS);
}

/** Warns when a key window (`what`: "training-key", "test-key") closes sooner than an unlock is expected to take. */
export function warnUnlockAtRisk(rt: DeadlineRuntime, taskId: bigint, what: string, next: bigint, deadline: bigint): boolean {
  return warnIfAtRisk(rt, { who: `task ${taskId}`, what, calls: UNLOCK_RPC_CALLS, next, deadline, fields: { taskId } });
}
