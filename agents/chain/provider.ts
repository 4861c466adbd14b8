import { FetchRequest, JsonRpcProvider, Network, type JsonRpcApiProviderOptions, type JsonRpcPayload, type JsonRpcResult } from "ethers";
import { AgentError, isAgentError } from "../config/errors.js";
import { defaultConfirmations } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import { RpcHealth } from "./latency.js";
import { isTransientRpcError, shortMessage, sleep, withRetry, type RetryPolicy } from "./retry.js";

export interface ChainConnection {
  provider: JsonRpcProvider;
  chainId: bigint;
  /** From the configuration, or the default for this chain (0 on Hardhat's 31337, else 3). */
  confirmations: number;
  /** Latency and failures the provider measured, for deadline margins (latency.ts). */
  health: RpcHealth;
}

export interface ConnectOptions {
  rpcUrl: string;
  /** Refuse an endpoint that serves another chain. */
  chainId?: number | undefined;
  confirmations?: number | undefined;
  pollIntervalMs: number;
  retry: RetryPolicy;
  /**
   * How long to wait for an endpoint that does not answer at start-up (ms) before giving up with
   * RPC_UNAVAILABLE; default: one retry policy's worth. Agents wait minutes: a node restarting
   * while they start is an outage to ride out, not a reason to exit.
   */
  startupWaitMs?: number;
  log?: Logger;
}

/**
 * A JsonRpcProvider pinned to the endpoint's chain, whose every request (views, logs, receipts)
 * is retried on transient failures (see RetryingProvider). The chain id is asked once, with
 * retries, instead of ethers' start-up detection that retries forever and only logs.
 */
export async function connectChain(options: ConnectOptions): Promise<ChainConnection> {
  const chainId = await askChainId(options);
  if (options.chainId !== undefined && BigInt(options.chainId) !== chainId) {
    throw new AgentError("CHAIN_MISMATCH", `${redactUrl(options.rpcUrl)} serves chain ${chainId}, configured ${options.chainId}`, {
      context: { expected: options.chainId, actual: chainId.toString() },
    });
  }
  const health = new RpcHealth();
  const provider = new RetryingProvider(
    options.rpcUrl,
    {
      staticNetwork: Network.from(chainId),
      pollingInterval: options.pollIntervalMs,
      // ethers shares identical requests for 250 ms by default; a nonce or block number read right
      // after a transaction must be fresh.
      cacheTimeout: -1,
    },
    options.retry,
    options.log,
    health,
  );
  return { provider, chainId, confirmations: options.confirmations ?? defaultConfirmations(chainId), health };
}

/**
 * The endpoint's chain id, asked with retries; an endpoint still down after them is waited for
 * until `startupWaitMs`, with one plain line per spent retry policy and one when it answers.
 */
async function askChainId(options: ConnectOptions): Promise<bigint> {
  const started = Date.now();
  const where = redactUrl(options.rpcUrl);
  let outage = false;
  for (;;) {
    try {
      const chainId = await withRetry("eth_chainId", () => fetchChainId(options.rpcUrl), options.retry, options.log);
      if (outage) {
        options.log?.info({ rpc: where, waitedMs: Date.now() - started }, `${where} answers eth_chainId after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }
      return chainId;
    } catch (e) {
      // withRetry throws RPC_UNAVAILABLE once the retries are spent, and anything else untouched.
      const waited = Date.now() - started;
      if (!isAgentError(e, "RPC_UNAVAILABLE") || waited >= (options.startupWaitMs ?? 0)) {
        throw new AgentError("RPC_UNAVAILABLE", `${where} does not answer JSON-RPC eth_chainId${waited > 0 ? ` (waited ${(waited / 1000).toFixed(1)} s)` : ""}`, { cause: e });
      }
      const err = shortMessage(e.cause);
      options.log?.warn(
        { rpc: where, waitedMs: waited, startupWaitMs: options.startupWaitMs, err },
        `${where} does not answer eth_chainId (${err}); still waiting after ${(waited / 1000).toFixed(1)} s, up to ${(options.startupWaitMs! / 1000).toFixed(0)} s`,
      );
      outage = true;
      await sleep(options.retry.maxMs);
    }
  }
}

/** Requests whose repetition could act twice; TxSender retries them itself (same signed bytes, checked by hash). */
const NOT_RETRIED = new Set(["eth_sendRawTransaction", "eth_sendTransaction"]);

/**
 * Retries each JSON-RPC request (or batch) that fails transiently: socket errors, 5xx, 429 and
 * rate-limit answers, with the agent's back-off policy, then RPC_UNAVAILABLE. Every direct view
 * call of a state machine (getTask, getBlock, ...) gets this without wrapping each one.
 * A batch holding a transaction broadcast is sent once, untouched.
 */
export class RetryingProvider extends JsonRpcProvider {
  readonly #retry: RetryPolicy;
  readonly #log: Logger | undefined;
  readonly health: RpcHealth;
  /** A lower ceiling for retry delays while a deadline is close (set by the agent; publisher/deadline.ts). */
  backoffCapMs: number | undefined;

  constructor(url: string, options: JsonRpcApiProviderOptions, retry: RetryPolicy, log?: Logger, health = new RpcHealth()) {
    super(url, undefined, options);
    this.#retry = retry;
    this.#log = log;
    this.health = health;
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const calls = Array.isArray(payload) ? payload : [payload];
    if (calls.some((c) => NOT_RETRIED.has(c.method))) return await this.#timed(payload);
    const what = [...new Set(calls.map((c) => c.method))].join(",");
    try {
      const retry = this.backoffCapMs === undefined ? this.#retry : { ...this.#retry, maxMs: Math.min(this.#retry.maxMs, this.backoffCapMs) };
      return await withRetry(what, () => this.#timed(payload, what), retry, this.#log);
    } catch (e) {
      if (e instanceof AgentError && e.code === "RPC_UNAVAILABLE" && this.health.downSince === undefined) {
        this.health.down();
        this.#log?.error({ what }, `RPC endpoint unreachable: ${e.message}; the agent keeps trying and will say when it is back`);
      }
      throw e;
    }
  }

  /**
   * One request, timed into `health` (a rate-limit answer counts as a failure); the first answer
   * after an outage says how long it lasted.
   */
  async #timed(payload: JsonRpcPayload | JsonRpcPayload[], what = "eth_sendRawTransaction"): Promise<JsonRpcResult[]> {
    const started = performance.now();
    let results: JsonRpcResult[];
    try {
      results = await super._send(payload);
    } catch (e) {
      this.health.record(performance.now() - started, false);
      throw e;
    }
    // A rate-limit answer arrives as a JSON-RPC error inside a 200: retry the request.
    // (ethers types the answers as results; error answers are in the array too.)
    for (const r of results as (JsonRpcResult | { error: { code?: unknown; message?: unknown } })[]) {
      if ("error" in r && isTransientRpcError({ info: { error: r.error } })) {
        this.health.record(performance.now() - started, false);
        throw Object.assign(new Error(`${what}: ${String(r.error.message)}`), { info: { error: r.error } });
      }
    }
    this.health.record(performance.now() - started, true);
    const outage = this.health.up();
    if (outage !== undefined) {
      this.#log?.warn({ outageMs: outage.ms, since: new Date(outage.since).toISOString() }, `RPC endpoint back after an outage of ${(outage.ms / 1000).toFixed(1)} s`);
    }
    return results;
  }
}

async function fetchChainId(url: string): Promise<bigint> {
  const request = new FetchRequest(url);
  request.setHeader("content-type", "application/json");
  request.body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
  const response = await request.send();
  response.assertOk();
  const body = response.bodyJson as { result?: unknown; error?: { code?: number; message?: string } };
  if (typeof body.result !== "string") {
    // Shaped like ethers' errors so the retry policy can judge it.
    throw Object.assign(new Error(`eth_chainId failed: ${body.error?.message ?? "no result"}`), { info: { error: body.error } });
  }
  return BigInt(body.result);
}

/** RPC URLs often carry an API key in the path or query; logs get the host only. */
export function redactUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}
