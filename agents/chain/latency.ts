import type { RetryPolicy } from "./retry.js";

/** Attempts kept: enough to smooth one slow call out, few enough to follow a change within a minute. */
const WINDOW = 200;
/** The failure rate at which a call is taken to need this many attempts on average is capped here (f = 0.9: ten). */
const MAX_FAILURE_RATE = 0.9;
/**
 * Expected time is a mean; the margin takes it this much longer, so a call that meets more than its
 * share of failures still lands (as the miner's TIME_SAFETY does for training).
 */
export const LATENCY_SAFETY = 1.5;

/**
 * RPC calls between the end of training and the commitment's receipt: the head block, an ERC20
 * allowance, the estimate, fee data (two), the balance, the nonce, the broadcast and two receipt polls.
 */
export const COMMIT_RPC_CALLS = 10;

/**
 * What one agent measured of its RPC endpoint: the latency and outcome of its last requests, and
 * whether it is in an outage (a call that failed past every retry and has not been followed by a
 * success). Deadlines keep a margin that grows with it, so a slow or lossy endpoint costs time
 * rather than a missed window.
 */
export class RpcHealth {
  readonly #ms: number[] = [];
  readonly #ok: boolean[] = [];
  #next = 0;
  #downSince: number | undefined;

  /** One request's round trip (an attempt, not a retried call) and whether it was answered. */
  record(ms: number, ok: boolean): void {
    this.#ms[this.#next] = ms;
    this.#ok[this.#next] = ok;
    this.#next = (this.#next + 1) % WINDOW;
  }

  get samples(): number {
    return this.#ms.length;
  }

  /** Mean round trip of the recorded attempts, answered or not (a failure costs its wait too). */
  meanLatencyMs(): number {
    return this.#ms.length === 0 ? 0 : this.#ms.reduce((a, b) => a + b, 0) / this.#ms.length;
  }

  failureRate(): number {
    return this.#ok.length === 0 ? 0 : this.#ok.filter((ok) => !ok).length / this.#ok.length;
  }

  /**
   * Expected seconds for one call to get through: with failure rate f it takes 1/(1-f) attempts on
   * average, each costing the mean latency, and f/(1-f) back-offs of (on average) three quarters
   * of the first retry delay (backoffMs draws from the upper half of the doubling ceiling).
   */
  expectedCallSeconds(retry: RetryPolicy): number {
    const f = Math.min(this.failureRate(), MAX_FAILURE_RATE);
    const attempts = 1 / (1 - f);
    return (attempts * this.meanLatencyMs() + (attempts - 1) * 0.75 * retry.baseMs) / 1000;
  }

  /**
   * Seconds to keep free before a deadline for `calls` sequential RPC calls: what they are expected
   * to take at the measured latency and failure rate, with LATENCY_SAFETY, rounded up to whole
   * seconds (deadlines are block timestamps), and never less than the configured `baseSeconds`.
   * The configured margin is there for the same calls, so the two are not added: a margin that
   * counted them twice left no time to train in the demo's 30 s window at 10 % loss (bench:faults).
   */
  marginSeconds(baseSeconds: number, calls: number, retry: RetryPolicy): number {
    return Math.max(baseSeconds, Math.ceil(calls * this.expectedCallSeconds(retry) * LATENCY_SAFETY));
  }

  /** A call failed past its retries: the endpoint is down from now (or since the first such call). */
  down(now = Date.now()): void {
    this.#downSince ??= now;
  }

  /** A call was answered: ends an outage and returns how long it lasted (ms), or undefined when there was none. */
  up(now = Date.now()): { since: number; ms: number } | undefined {
    if (this.#downSince === undefined) return undefined;
    const since = this.#downSince;
    this.#downSince = undefined;
    return { since, ms: now - since };
  }

  get downSince(): number | undefined {
    return this.#downSince;
  }
}
