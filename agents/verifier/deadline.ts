import { warnIfAtRisk, type DeadlineRuntime } from "../core/deadline.js";

/**
 * RPC calls between deciding to commit (or reveal) scores and the receipt: the round, the head
 * block, the estimate, fee data (two), the nonce, the broadcast and two receipt polls.
 */
export const ATTEST_RPC_CALLS = 9;

/**
 * A validator sends its scores as early as the window allows (not sending is slashed for certain,
 * a late transaction may still land), so its margin only decides this warning: fewer seconds left
 * than the transaction is expected to take at the measured latency and failure rate.
 */
export function warnAttestAtRisk(rt: DeadlineRuntime, taskId: bigint, round: number, what: "commit" | "reveal", next: bigint, deadline: bigint): boolean {
  return warnIfAtRisk(rt, { who: `task ${taskId}`, what: `round ${round} ${what}`, calls: ATTEST_RPC_CALLS, next, deadline, fields: { taskId, round } });
}
