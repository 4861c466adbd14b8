import type { AgentRuntime } from "./runtime.js";
import { RetryingProvider } from "../chain/provider.js";
import { sleep } from "../chain/retry.js";

/** What the deadline helpers read of an agent: its measured endpoint, retry policy, clock and log. */
export type DeadlineRuntime = Pick<AgentRuntime, "chain" | "retry" | "clock" | "log">;

/**
 * Longest retry delay while a deadline-bound transaction is due (ms). The configured ceiling (8 s by
 * default) spares an overloaded node; in a 30 s window one read that failed six times in a row then
 * slept through the window (bench:faults at 50 % loss: one head-block read took 32 s).
 */
export const URGENT_BACKOFF_MAX_MS = 1_000;

/**
 * Seconds to keep before a deadline for `calls` sequential RPC calls at the latency and failure
 * rate this agent measured (agents/chain/latency.ts, the miner's model), at least one block.
 */
export function marginFor(rt: DeadlineRuntime, calls: number): number {
  return rt.chain.health.marginSeconds(1, calls, rt.retry);
}

/** Shortens RPC retry delays while `urgent` (a deadline-bound transaction is due); off otherwise. */
export function setUrgent(rt: DeadlineRuntime, urgent: boolean): void {
  const provider = rt.chain.provider;
  if (!(provider instanceof RetryingProvider)) return;
  const cap = urgent ? URGENT_BACKOFF_MAX_MS : undefined;
  if (provider.backoffCapMs === cap) return;
  provider.backoffCapMs = cap;
  rt.log.debug({ backoffCapMs: cap ?? rt.retry.maxMs }, urgent ? `a deadline is near: RPC retries wait at most ${URGENT_BACKOFF_MAX_MS} ms` : `no deadline near: RPC retries wait up to ${rt.retry.maxMs} ms again`);
}

/** Deadline-bound jobs running per provider: one agent may send for several tasks at once. */
const urgentJobs = new WeakMap<object, number>();

/**
 * Runs `work` with RPC retries capped at URGENT_BACKOFF_MAX_MS (a commit, reveal or attestation whose
 * window is open); the cap stays until the last of overlapping jobs ends.
 */
export async function whileUrgent<T>(rt: DeadlineRuntime, work: () => Promise<T>): Promise<T> {
  const key = rt.chain.provider;
  urgentJobs.set(key, (urgentJobs.get(key) ?? 0) + 1);
  setUrgent(rt, true);
  try {
    return await work();
  } finally {
    const left = urgentJobs.get(key)! - 1;
    urgentJobs.set(key, left);
    if (left === 0) setUrgent(rt, false);
  }
}

/**
 * Logs plainly when fewer seconds are left before `deadline` than `calls` RPC calls are expected to
 * take (`who`: "task 1", `what`: "test-key"); returns whether it did. `next` is the earliest
 * timestamp the transaction can land with.
 */
export function warnIfAtRisk(rt: DeadlineRuntime, o: { who: string; what: string; calls: number; next: bigint; deadline: bigint; fields?: Record<string, unknown> }): boolean {
  const margin = marginFor(rt, o.calls);
  const left = Number(o.deadline - o.next);
  if (left >= margin) return false;
  const latencyMs = Math.round(rt.chain.health.meanLatencyMs());
  const failureRate = rt.chain.health.failureRate();
  rt.log.warn(
    { ...o.fields, deadline: o.deadline, secondsLeft: left, marginSeconds: margin, latencyMs, failureRate },
    `${o.who}: the ${o.what} window closes in ${left} s, less than the ${margin} s its ${o.calls} RPC calls are expected to take ` +
      `(mean latency ${latencyMs} ms, ${Math.round(failureRate * 100)} % of requests failing); sending now, it may miss the window`,
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
