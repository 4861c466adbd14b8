import type { AgentRuntime } from "../core/runtime.js";

/** What the deadline helpers read of an agent: its measured endpoint, retry policy, clock and log. */
export type DeadlineRuntime = Pick<AgentRuntime, "chain" | "retry" | "clock" | "log">;
import { RetryingProvider } from "../chain/provider.js";
import { sleep } from "../chain/retry.js";

/**
 * RPC calls between deciding to unlock and the unlock's receipt: the task, the head block, the
 * estimate, fee data (two), the nonce, the broadcast and two receipt polls.
 */
export const UNLOCK_RPC_CALLS = 9;

/**
 * Longest retry delay while a key window is open or about to open (ms). The configured ceiling
 * (8 s by default) spares an overloaded node; in a 30 s window one read that failed six times in a
 * row then slept through the window (bench:faults at 50 % loss: one head-block read took 32 s).
 */
export const URGENT_BACKOFF_MAX_MS = 1_000;

/**
 * Seconds an unlock needs before its deadline: what its RPC calls are expected to take at the
 * latency and failure rate this agent measured (latency.ts, the miner's model), at least one block.
 */
export function unlockMarginSeconds(rt: DeadlineRuntime): number {
  return rt.chain.health.marginSeconds(1, UNLOCK_RPC_CALLS, rt.retry);
}

/** Shortens retry back-offs while `urgent` (a key window open or about to open); off otherwise. */
export function setUrgent(rt: DeadlineRuntime, urgent: boolean): void {
  const provider = rt.chain.provider;
  if (!(provider instanceof RetryingProvider)) return;
  const cap = urgent ? URGENT_BACKOFF_MAX_MS : undefined;
  if (provider.backoffCapMs === cap) return;
  provider.backoffCapMs = cap;
  rt.log.info({ backoffCapMs: cap ?? rt.retry.maxMs }, urgent ? `a key window is open or about to open: RPC retries wait at most ${URGENT_BACKOFF_MAX_MS} ms` : `no key window open: RPC retries wait up to ${rt.retry.maxMs} ms again`);
}

/**
 * Logs plainly when fewer seconds are left before `deadline` than the unlock is expected to need;
 * returns whether it did. `next` is the earliest timestamp the transaction can land with.
 */
export function warnIfAtRisk(rt: DeadlineRuntime, taskId: bigint, what: string, next: bigint, deadline: bigint): boolean {
  const margin = unlockMarginSeconds(rt);
  const left = Number(deadline - next);
  if (left >= margin) return false;
  const health = rt.chain.health;
  rt.log.warn(
    { taskId, deadline, secondsLeft: left, marginSeconds: margin, latencyMs: Math.round(health.meanLatencyMs()), failureRate: health.failureRate() },
    `task ${taskId}: the ${what} window closes in ${left} s, less than the ${margin} s its ${UNLOCK_RPC_CALLS} RPC calls are expected to take ` +
      `(mean latency ${Math.round(health.meanLatencyMs())} ms, ${Math.round(health.failureRate() * 100)} % of requests failing); sending now, the unlock may miss it`,
  );
  return true;
}

/**
 * When a transaction sent now would land at or before `opensAfter` but the opening is less than
 * `withinSeconds` away, waits for it (the wall clock, checked against the chain's next timestamp)
 * instead of waiting for the caller's next round, whose event poll and reads cost seconds on a lossy
 * endpoint. Returns the earliest timestamp a transaction sent now lands with.
 */
export async function waitForOpening(rt: DeadlineRuntime, opensAfter: bigint, withinSeconds: number): Promise<bigint> {
  let next = await rt.clock.nextTimestamp();
  if (next > opensAfter || Number(opensAfter - next) >= withinSeconds) return next;
  // Bounded: a chain whose time does not follow the wall clock (a test node mining on demand) may not get there.
  for (let waits = 0; next <= opensAfter && waits <= withinSeconds + 1; waits++) {
    const ms = (Number(opensAfter) + 1) * 1000 - rt.clock.wallMs();
    await sleep(Math.min(1_000, Math.max(100, ms)));
    next = await rt.clock.nextTimestamp();
  }
  return next;
}
