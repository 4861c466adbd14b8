import { isError } from "ethers";
import { AgentError, isAgentError } from "../config/errors.js";
import type { Logger } from "../log/logger.js";
import { logLimited } from "../log/rate-limit.js";
import { attemptText, gaveUpText, retriesSpent } from "./retry-budget.js";

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** First back-off; doubles per attempt up to `maxMs`, with jitter. */
  baseMs: number;
  maxMs: number;
  /** One-shot commands: retry for this long (ms) instead of `retries` times (retry-budget.ts). */
  budgetMs?: number;
}

/** JSON-RPC error codes that mean "try again": rate limits and overloaded nodes. */
const TRANSIENT_RPC_CODES = new Set([-32005, -32097, 429]);
/** Messages of -32000 errors that public nodes return while syncing or overloaded. */
const TRANSIENT_MESSAGE = /header not found|timeout|timed out|rate limit|too many requests|busy|try again|temporarily unavailable|overloaded/i;
/** Socket failures under ethers' FetchRequest arrive as raw Node errors. */
const TRANSIENT_SOCKET_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "UND_ERR_SOCKET"]);

/**
 * Whether an error from an RPC call is worth retrying: transport failures, 5xx/429 answers and
 * rate-limit errors. Reverts, bad nonces and insufficient funds are not.
 */
export function isTransientRpcError(e: unknown): boolean {
  if (isAgentError(e)) return false;
  if (isError(e, "NETWORK_ERROR") || isError(e, "TIMEOUT") || isError(e, "SERVER_ERROR")) return true;
  for (let cur: unknown = e, depth = 0; cur != null && typeof cur === "object" && depth < 5; depth++) {
    const { code, message } = cur as { code?: unknown; message?: unknown };
    if (typeof code === "string" && TRANSIENT_SOCKET_CODES.has(code)) return true;
    if (typeof message === "string" && /socket hang up/i.test(message)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  // JSON-RPC error objects: ethers keeps the node's answer in `info.error` (in `error` when it
  // could not classify it). For eth_call and eth_estimateGas ethers reports every failure as
  // CALL_EXCEPTION, so look at the answer itself.
  type RpcAnswer = { code?: unknown; message?: unknown };
  const rpc = (e as { info?: { error?: RpcAnswer } } | null)?.info?.error ?? (e as { error?: RpcAnswer } | null)?.error;
  if (rpc && typeof rpc.code === "number") {
    if (isError(e, "CALL_EXCEPTION") && (e as { data?: unknown }).data != null) return false;
    if (TRANSIENT_RPC_CODES.has(rpc.code)) return true;
    if (rpc.code === -32000 && typeof rpc.message === "string" && TRANSIENT_MESSAGE.test(rpc.message)) return true;
  }
  return false;
}

/**
 * Runs `fn`, retrying transient RPC failures with exponential back-off and jitter. Gives up with
 * RPC_UNAVAILABLE after `policy.retries` retries (or `policy.budgetMs`); other errors pass through untouched. `what` names
 * the call or transaction in the logs: each retry warns "attempt k of n failed; retrying in d ms",
 * a call that got through after failing says so once, and identical lines are rate-limited
 * (logLimited).
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, policy: RetryPolicy, log?: Logger): Promise<T> {
  const attempts = policy.budgetMs === undefined ? policy.retries + 1 : undefined; // with a budget the count is not known
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await fn();
      if (attempt > 0 && log !== undefined) {
        const ms = Date.now() - started;
        logLimited(log, "info", `recovered ${what}`, { what, attempt: attempt + 1, of: attempts, ms }, `${what}: recovered at ${attemptText(policy, attempt + 1)}, ${ms} ms after its first attempt`);
      }
      return result;
    } catch (e) {
      if (!isTransientRpcError(e)) throw e;
      const delay = backoffMs(policy, attempt);
      if (retriesSpent(policy, attempt, Date.now() - started, delay)) {
        throw new AgentError("RPC_UNAVAILABLE", `${what}: the RPC endpoint ${gaveUpText(policy, attempt + 1, Date.now() - started)}`, { cause: e, context: { what } });
      }
      if (log !== undefined) {
        const err = shortMessage(e);
        logLimited(log, "warn", `retry ${what} ${attempt} ${err}`, { what, attempt: attempt + 1, of: attempts, budgetMs: policy.budgetMs, delayMs: delay, err }, `${what}: ${attemptText(policy, attempt + 1)} failed (${err}); retrying in ${delay} ms`);
      }
      await sleep(delay);
    }
  }
}

export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  // Full jitter on the upper half: agents that failed together do not retry together.
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** First line of an error's message, for logs (ethers' messages carry whole payloads). */
export function shortMessage(e: unknown): string {
  const m = (e as { shortMessage?: unknown; message?: unknown } | null)?.shortMessage ?? (e as { message?: unknown } | null)?.message;
  return String(m ?? e).split("\n")[0]!.slice(0, 200);
}
