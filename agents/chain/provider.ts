import { FetchRequest, JsonRpcProvider, Network, type JsonRpcApiProviderOptions, type JsonRpcPayload, type JsonRpcResult } from "ethers";
import { AgentError } from "../config/errors.js";
import { defaultConfirmations } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import { isTransientRpcError, withRetry, type RetryPolicy } from "./retry.js";

export interface ChainConnection {
  provider: JsonRpcProvider;
  chainId: bigint;
  /** From the configuration, or the default for this chain (0 on Hardhat's 31337, else 3). */
  confirmations: number;
}

export interface ConnectOptions {
  rpcUrl: string;
  /** Refuse an endpoint that serves another chain. */
  chainId?: number | undefined;
  confirmations?: number | undefined;
  pollIntervalMs: number;
  retry: RetryPolicy;
  log?: Logger;
}

/**
 * A JsonRpcProvider pinned to the endpoint's chain, whose every request (views, logs, receipts)
 * is retried on transient failures (see RetryingProvider). The chain id is asked once, with
 * retries, instead of ethers' start-up detection that retries forever and only logs.
 */
export async function connectChain(options: ConnectOptions): Promise<ChainConnection> {
  let chainId: bigint;
  try {
    chainId = await withRetry("eth_chainId", () => fetchChainId(options.rpcUrl), options.retry, options.log);
  } catch (e) {
    if (e instanceof AgentError) throw e;
    throw new AgentError("RPC_UNAVAILABLE", `${redactUrl(options.rpcUrl)} does not answer JSON-RPC eth_chainId`, { cause: e });
  }
  if (options.chainId !== undefined && BigInt(options.chainId) !== chainId) {
    throw new AgentError("CHAIN_MISMATCH", `${redactUrl(options.rpcUrl)} serves chain ${chainId}, configured ${options.chainId}`, {
      context: { expected: options.chainId, actual: chainId.toString() },
    });
  }
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
  );
  return { provider, chainId, confirmations: options.confirmations ?? defaultConfirmations(chainId) };
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

  constructor(url: string, options: JsonRpcApiProviderOptions, retry: RetryPolicy, log?: Logger) {
    super(url, undefined, options);
    this.#retry = retry;
    this.#log = log;
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const calls = Array.isArray(payload) ? payload : [payload];
    if (calls.some((c) => NOT_RETRIED.has(c.method))) return await super._send(payload);
    const what = [...new Set(calls.map((c) => c.method))].join(",");
    return await withRetry(
      what,
      async () => {
        const results = await super._send(payload);
        // A rate-limit answer arrives as a JSON-RPC error inside a 200: retry the request.
        // (ethers types the answers as results; error answers are in the array too.)
        for (const r of results as (JsonRpcResult | { error: { code?: unknown; message?: unknown } })[]) {
          if ("error" in r && isTransientRpcError({ info: { error: r.error } })) {
            throw Object.assign(new Error(`${what}: ${String(r.error.message)}`), { info: { error: r.error } });
          }
        }
        return results;
      },
      this.#retry,
      this.#log,
    );
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
