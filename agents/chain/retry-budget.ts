/**
 * A time budget for the retries of a one-shot command (`podl publish` posting a task, `podl
 * withdraw`). A fixed count of attempts runs out in seconds under heavy loss: at 50 % loss `podl
 * publish` gave up after 6 attempts of one call and the task was never posted
 * (bench/results/faults.json), while an operator who runs a command can well wait minutes for it.
 * With a budget a failing call is retried (same back-off) until the next attempt would start after
 * the budget; the agents' loops keep their count, since their next step retries anyway.
 */
import { isAgentError } from "../config/errors.js";
import type { Logger } from "../log/logger.js";

/** The part of retry.ts's RetryPolicy that decides when to give up (structural: retry.ts imports this file). */
interface RetryPolicy {
  retries: number;
  budgetMs?: number;
}

/** Whether a call that failed `attempt + 1` times, `elapsedMs` after its first attempt, gives up instead of waiting `delayMs` more. */
export function retriesSpent(policy: RetryPolicy, attempt: number, elapsedMs: number, delayMs: number): boolean {
  if (policy.budgetMs === undefined) return attempt >= policy.retries;
  return elapsedMs + delayMs > policy.budgetMs;
}

/** "attempt 3 of 6", or with a budget "attempt 3 (retrying for up to 180 s)": a count is unknown then. */
export function attemptText(policy: RetryPolicy, attempt: number): string {
  return policy.budgetMs === undefined ? `attempt ${attempt} of ${policy.retries + 1}` : `attempt ${attempt} (retrying for up to ${seconds(policy.budgetMs)} s)`;
}

/** How a call that gave up says so: "failed 6 times", or "failed 31 times in 176.2 s (its retry budget is 180 s)". */
export function gaveUpText(policy: RetryPolicy, attempts: number, elapsedMs: number): string {
  const times = `failed ${attempts} times`;
  return policy.budgetMs === undefined ? times : `${times} in ${(elapsedMs / 1000).toFixed(1)} s (its retry budget is ${seconds(policy.budgetMs)} s, --rpc-retry-budget-ms)`;
}

/** The runtime's policy for a one-shot command: `budgetMs` 0 keeps the count of `--rpc-retries`. */
export function withBudget<P extends RetryPolicy>(policy: P, budgetMs: number | undefined): P {
  return budgetMs === undefined || budgetMs === 0 ? policy : { ...policy, budgetMs };
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/**
 * Runs a one-shot step of an agent's start-up (reading its contracts, staking, settling the journal)
 * again while it fails with RPC_UNAVAILABLE (its calls spent their retries), until `budgetMs` is
 * spent: at 50 % loss a validator exited at its start-up stake with "eth_getBalance: the RPC
 * endpoint failed 6 times", where its main loop would have ridden the same failure out. `before`
 * runs before each new try (settle the journal: a transaction of the failed try may have landed).
 */
export async function retryStep<T>(what: string, fn: () => Promise<T>, o: { budgetMs: number; pauseMs: number; log?: Logger; before?: () => Promise<unknown> }): Promise<T> {
  const started = Date.now();
  for (let tries = 1; ; tries++) {
    try {
      return await fn();
    } catch (e) {
      if (!isAgentError(e, "RPC_UNAVAILABLE") || Date.now() - started + o.pauseMs > o.budgetMs) throw e;
      o.log?.warn({ what, tries, err: e.message }, `${what}: ${e.message}; trying again in ${o.pauseMs} ms (for up to ${seconds(o.budgetMs)} s, --rpc-retry-budget-ms)`);
      await new Promise((r) => setTimeout(r, o.pauseMs));
      await o.before?.();
    }
  }
}
