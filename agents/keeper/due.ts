import { PHASE } from "../protocol/phases.js";
import type { MarketCall } from "./calls.js";
import type { Settlement, TaskMarket } from "../../types/index.js";

type ChainTask = Awaited<ReturnType<TaskMarket["getTask"]>>;
type ChainRound = Awaited<ReturnType<Settlement["getRound"]>>;

/**
 * The market call that is due for task `t` at chain time `now`, by the contract's rules: a queued
 * task past its queue expiry, a started one past its training-key deadline (or with a seed to fix),
 * and the default path once both the test-key and the reveal windows have passed without test keys.
 * Attesting tasks are the settlement's business (`roundFinalizable`).
 */
export async function dueMarketCall(t: ChainTask, now: bigint, isSeedDue: () => Promise<boolean>): Promise<MarketCall | undefined> {
  if (t.phase === PHASE.Queued) {
    // `deadline` is the queue expiry while queued.
    return now > t.deadline ? "expireQueued" : undefined;
  }
  if (t.phase === PHASE.Started) {
    if (now > t.deadline) return "timeoutTrainingKeys";
    return (await isSeedDue()) ? "fixSeed" : undefined;
  }
  if ((t.phase === PHASE.Committing || t.phase === PHASE.Revealing) && t.testUnlockedAt === 0n && t.commitDeadline !== 0n) {
    // Test keys never came: the default path opens after both the test-key and reveal windows.
    const opensAfter = t.testKeyDeadline > t.revealDeadline ? t.testKeyDeadline : t.revealDeadline;
    return now > opensAfter ? "timeoutTestKeys" : undefined;
  }
  return undefined;
}

/**
 * Whether `finalize` closes round `r` at chain time `now`: every member revealed, the reveal window
 * passed, or the commits missed the quorum by the commit deadline (its reveals never open).
 */
export function roundFinalizable(r: ChainRound, now: bigint): boolean {
  const failed = now > r.commitDeadline && r.commits < (2n * r.size + 2n) / 3n;
  return failed || now > r.revealDeadline || r.reveals === r.size;
}
