import { Transaction, isError, keccak256, type BaseContract, type Interface, type Provider, type TransactionReceipt, type Wallet } from "ethers";
import { AgentError } from "../config/errors.js";
import type { Logger } from "../log/logger.js";
import { nonceManagerFor, type NonceManager } from "./nonce.js";
import { broadcastRevertData, decodeRevert, revertData } from "./revert.js";
import { shortMessage, sleep, withRetry, type RetryPolicy } from "./retry.js";
import type { TxJournal, TxStatus } from "./stores.js";
import { testKillPoint } from "./test-hook.js";

export interface SenderOptions {
  /** Signs locally; the sender never asks the node to sign. */
  wallet: Wallet;
  provider: Provider;
  chainId: bigint;
  retry: RetryPolicy;
  /** Gas limit = estimate × (100 + headroom) / 100. */
  gasHeadroomPercent: number;
  txTimeoutMs: number;
  pollIntervalMs: number;
  /** Signed transactions are written here before they are broadcast. */
  journal?: TxJournal;
  /** ABIs whose custom errors may bubble up through the contracts we call. */
  errorInterfaces?: readonly Interface[];
  /** How often to take a fresh nonce when another sender keeps taking ours. */
  nonceAttempts?: number;
  log?: Logger;
}

export interface TxRequest {
  to: string;
  data: string;
  value?: bigint;
  /** For logs and the journal: "commitModel task 7". */
  label: string;
  /** The ABI of the called contract, to decode its custom errors. */
  iface?: Interface;
}

export interface SentTx {
  hash: string;
  nonce: number;
  receipt: TransactionReceipt;
}

/**
 * Sends transactions from one key: estimates gas with headroom, checks the balance, takes a
 * nonce from the key's one nonce manager, signs, journals the signed bytes, broadcasts with
 * retries (re-broadcasting the same bytes, so a retry never sends twice) and waits for the
 * receipt. Failures come out as AgentError: INSUFFICIENT_FUNDS, TX_REVERTED (with the decoded
 * custom error), NONCE_CONFLICT, TX_TIMEOUT or RPC_UNAVAILABLE. After RPC_UNAVAILABLE or
 * TX_TIMEOUT the transaction may still land: call `resumePending()` (and read the contract)
 * before sending it again.
 */
export class TxSender {
  readonly address: string;
  #o: SenderOptions;
  #nonces: NonceManager;

  constructor(options: SenderOptions) {
    this.address = options.wallet.address;
    this.#o = options;
    this.#nonces = nonceManagerFor(this.address, options.provider, options.retry, options.log);
  }

  get nonces(): NonceManager {
    return this.#nonces;
  }

  /**
   * Calls `method` on `contract` (any ethers contract; with a TypeChain-typed one the method name
   * is checked). For type-checked arguments too, use TypeChain's `populateTransaction`:
   * `send({ ...(await market.commitModel.populateTransaction(id, c)), label, iface: market.interface })`.
   */
  async call<C extends BaseContract>(
    contract: C,
    method: keyof C & string,
    args: readonly unknown[],
    options: { value?: bigint; label?: string } = {},
  ): Promise<SentTx> {
    const iface = contract.interface;
    const request: TxRequest = {
      to: await contract.getAddress(),
      data: iface.encodeFunctionData(method, args),
      label: options.label ?? method,
      iface,
    };
    if (options.value !== undefined) request.value = options.value;
    return await this.send(request);
  }

  async send(request: TxRequest): Promise<SentTx> {
    const { provider, retry, log: baseLog } = this.#o;
    const log = baseLog?.child({ tx: request.label });
    const value = request.value ?? 0n;
    const call = { from: this.address, to: request.to, data: request.data, value };

    const estimate = await this.#rpc(`eth_estimateGas for ${request.label}`, () => provider.estimateGas(call), request);
    const estimatedAt = Date.now();
    const gasLimit = (estimate * BigInt(100 + this.#o.gasHeadroomPercent)) / 100n;
    const fees = await withRetry(`eth_feeHistory for ${request.label}`, () => provider.getFeeData(), retry, log);
    const maxFeePerGas = fees.maxFeePerGas ?? fees.gasPrice;
    if (maxFeePerGas == null) throw new AgentError("RPC_UNAVAILABLE", "the node reports no gas price");
    const balance = await withRetry(`eth_getBalance for ${request.label}`, () => provider.getBalance(this.address), retry, log);
    const needed = value + gasLimit * maxFeePerGas;
    if (balance < needed) {
      throw new AgentError(
        "INSUFFICIENT_FUNDS",
        `${request.label}: ${this.address} holds ${balance} wei, needs ${needed} (value ${value} + gas ${gasLimit} × ${maxFeePerGas})`,
        { context: { address: this.address, balance, needed, value, gasLimit, maxFeePerGas } },
      );
    }

    const attempts = this.#o.nonceAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const { hash, nonce } = await this.#nonces.withNonce(async (nonce) => {
          // Under a slow endpoint seconds pass between the estimate and here, and another keeper may
          // have made the call meanwhile: ask again right before signing (a revert here costs no gas).
          if (Date.now() - estimatedAt > RECHECK_AFTER_MS) await this.#rpc(`eth_call (still needed?) for ${request.label}`, () => provider.call(call), request);
          const tx = Transaction.from({
            type: 2,
            chainId: this.#o.chainId,
            nonce,
            to: request.to,
            data: request.data,
            value,
            gasLimit,
            maxFeePerGas,
            maxPriorityFeePerGas: fees.maxPriorityFeePerGas ?? maxFeePerGas,
          });
          const raw = await this.#o.wallet.signTransaction(tx);
          const hash = keccak256(raw);
          // Write-ahead: the signed bytes are on disk before the node can see them.
          this.#o.journal?.recordTx({ hash, raw, from: this.address, nonce, label: request.label });
          testKillPoint("after-sign", request.label);
          await this.#broadcast(raw, hash, request);
          testKillPoint("after-broadcast", request.label);
          this.#o.journal?.setTxStatus(hash, "sent");
          return { hash, nonce };
        });
        log?.info({ txHash: hash, nonce, gasLimit }, "transaction sent");
        const receipt = await this.#waitForReceipt(hash, request);
        this.#o.journal?.setTxStatus(hash, "mined", { blockNumber: receipt.blockNumber });
        log?.info({ txHash: hash, block: receipt.blockNumber, gasUsed: receipt.gasUsed }, "transaction mined");
        testKillPoint("after-mined", request.label);
        return { hash, nonce, receipt };
      } catch (e) {
        if (!(e instanceof NonceTaken)) throw e;
        this.#o.journal?.setTxStatus(e.hash, "dropped", { error: "nonce taken by another transaction" });
        log?.warn({ nonce: e.nonce, attempt }, "nonce already used by another transaction; re-syncing");
        if (attempt >= attempts) {
          throw new AgentError("NONCE_CONFLICT", `${request.label}: nonce taken ${attempt} times in a row; is another process using ${this.address}?`, {
            context: { address: this.address, nonce: e.nonce },
          });
        }
      }
    }
  }

  /**
   * After a restart: settles what the journal holds as signed or sent. Mined ones are recorded,
   * ones the node still knows are awaited, ones whose nonce was used by something else are marked
   * dropped, and the rest are broadcast again (same bytes, same hash).
   */
  async resumePending(): Promise<{ hash: string; label: string; status: TxStatus }[]> {
    const { journal, provider, retry, log } = this.#o;
    if (journal === undefined) return [];
    const results: { hash: string; label: string; status: TxStatus }[] = [];
    for (const tx of journal.unsettledTxs(this.address)) {
      const request: TxRequest = { to: "", data: "", label: tx.label };
      let receipt = await withRetry("eth_getTransactionReceipt", () => provider.getTransactionReceipt(tx.hash), retry, log);
      if (receipt === null) {
        const known = await withRetry("eth_getTransactionByHash", () => provider.getTransaction(tx.hash), retry, log);
        const mined = await withRetry("eth_getTransactionCount", () => provider.getTransactionCount(this.address, "latest"), retry, log);
        if (known === null && mined > tx.nonce) {
          journal.setTxStatus(tx.hash, "dropped", { error: "nonce used by another transaction" });
          results.push({ hash: tx.hash, label: tx.label, status: "dropped" });
          continue;
        }
        if (known === null) {
          try {
            await this.#broadcast(tx.raw, tx.hash, request);
          } catch (e) {
            if (!(e instanceof NonceTaken)) throw e;
            journal.setTxStatus(tx.hash, "dropped", { error: "nonce used by another transaction" });
            results.push({ hash: tx.hash, label: tx.label, status: "dropped" });
            continue;
          }
          log?.info({ txHash: tx.hash, tx: tx.label }, "re-broadcast a journalled transaction");
        }
        receipt = await this.#waitForReceipt(tx.hash, request).catch((e: unknown) => {
          if (e instanceof AgentError && e.code === "TX_REVERTED") return null;
          throw e;
        });
      }
      const status: TxStatus = receipt !== null && receipt.status === 1 ? "mined" : "reverted";
      journal.setTxStatus(tx.hash, status, receipt ? { blockNumber: receipt.blockNumber } : {});
      results.push({ hash: tx.hash, label: tx.label, status });
    }
    this.#nonces.invalidate();
    return results;
  }

  async #broadcast(raw: string, hash: string, request: TxRequest): Promise<void> {
    const { provider, retry, log } = this.#o;
    try {
      await withRetry(`eth_sendRawTransaction of ${request.label} (${hash})`, () => provider.broadcastTransaction(raw), retry, log);
    } catch (e) {
      // An earlier attempt may have reached the node although its answer was lost.
      // Geth answers "already known", Hardhat "Known transaction: 0x…" (which ethers cannot classify,
      // so the node's words are only in the error's JSON-RPC answer).
      if (isError(e, "NONCE_EXPIRED") || /already known|known transaction/i.test(`${shortMessage(e)} ${nodeMessage(e)}`)) {
        const known = await withRetry(`eth_getTransactionByHash for ${request.label}`, () => provider.getTransaction(hash), retry, log);
        if (known !== null) {
          log?.info({ txHash: hash, tx: request.label, answer: nodeMessage(e) ?? shortMessage(e) }, `${request.label}: the node already has ${hash} (the answer to an earlier broadcast was lost); not sending it again`);
          return;
        }
        if (isError(e, "NONCE_EXPIRED")) throw new NonceTaken(hash, Transaction.from(raw).nonce);
      }
      const data = broadcastRevertData(e);
      if (data !== undefined) throw await this.#broadcastRevert(hash, data, request);
      throw this.#translate(e, request);
    }
  }

  /**
   * The node answered the broadcast with a revert (the state changed since the estimate: another
   * sender won a race). Hardhat's automine has mined it by then (the nonce is spent): journalled
   * as reverted; a node that refused it outright: journalled as dropped.
   */
  async #broadcastRevert(hash: string, data: string, request: TxRequest): Promise<AgentError> {
    const { provider, retry, log } = this.#o;
    const decoded = decodeRevert(data, this.#interfaces(request));
    const receipt = await withRetry("eth_getTransactionReceipt", () => provider.getTransactionReceipt(hash), retry, log);
    if (receipt !== null) {
      this.#o.journal?.setTxStatus(hash, "reverted", { blockNumber: receipt.blockNumber });
      return new AgentError("TX_REVERTED", `${request.label}: transaction ${hash} reverted in block ${receipt.blockNumber}: ${decoded.summary}`, {
        context: { txHash: hash, block: receipt.blockNumber, revert: decoded },
      });
    }
    this.#o.journal?.setTxStatus(hash, "dropped", { error: `rejected by the node: ${decoded.summary}` });
    return new AgentError("TX_REVERTED", `${request.label}: the node rejected ${hash}: ${decoded.summary}`, { context: { txHash: hash, revert: decoded } });
  }

  async #waitForReceipt(hash: string, request: TxRequest): Promise<TransactionReceipt> {
    const { provider, retry, log, txTimeoutMs, pollIntervalMs } = this.#o;
    const deadline = Date.now() + txTimeoutMs;
    for (;;) {
      const receipt = await withRetry(`eth_getTransactionReceipt of ${request.label}`, () => provider.getTransactionReceipt(hash), retry, log);
      if (receipt !== null) {
        if (receipt.status === 1) return receipt;
        this.#o.journal?.setTxStatus(hash, "reverted", { blockNumber: receipt.blockNumber });
        throw await this.#minedRevert(hash, receipt, request);
      }
      if (Date.now() > deadline) {
        throw new AgentError("TX_TIMEOUT", `${request.label}: no receipt for ${hash} after ${txTimeoutMs} ms`, { context: { txHash: hash } });
      }
      await sleep(pollIntervalMs);
    }
  }

  /**
   * Replays a reverted transaction as a call on the state after its block, to learn why. A
   * reverted transaction changed nothing, and what made it fail usually came before it in the
   * block (another sender's transaction), so that state reproduces the error.
   */
  async #minedRevert(hash: string, receipt: TransactionReceipt, request: TxRequest): Promise<AgentError> {
    const { provider, retry, log } = this.#o;
    const tx = await withRetry("eth_getTransactionByHash", () => provider.getTransaction(hash), retry, log);
    let data: string | undefined;
    if (tx !== null) {
      try {
        await provider.call({ from: tx.from, to: tx.to, data: tx.data, value: tx.value, blockTag: receipt.blockNumber });
      } catch (e) {
        data = revertData(e);
      }
    }
    const decoded = decodeRevert(data, this.#interfaces(request));
    return new AgentError("TX_REVERTED", `${request.label}: transaction ${hash} reverted in block ${receipt.blockNumber}: ${decoded.summary}`, {
      context: { txHash: hash, block: receipt.blockNumber, revert: decoded },
    });
  }

  /** An RPC call before broadcast (estimation): transient errors retried, the rest translated. */
  async #rpc<T>(what: string, fn: () => Promise<T>, request: TxRequest): Promise<T> {
    try {
      return await withRetry(what, fn, this.#o.retry, this.#o.log);
    } catch (e) {
      throw this.#translate(e, request);
    }
  }

  #translate(e: unknown, request: TxRequest): unknown {
    if (e instanceof AgentError) return e;
    if (isError(e, "INSUFFICIENT_FUNDS")) {
      return new AgentError("INSUFFICIENT_FUNDS", `${request.label}: ${this.address} cannot pay for value and gas`, { cause: e });
    }
    if (isError(e, "CALL_EXCEPTION")) {
      const decoded = decodeRevert(revertData(e), this.#interfaces(request));
      return new AgentError("TX_REVERTED", `${request.label}: would revert: ${decoded.summary}`, { cause: e, context: { revert: decoded } });
    }
    return e;
  }

  #interfaces(request: TxRequest): Interface[] {
    return [...(request.iface ? [request.iface] : []), ...(this.#o.errorInterfaces ?? [])];
  }
}

/** The node's own message in an ethers error (`error` when ethers could not classify it, else `info.error`). */
function nodeMessage(e: unknown): string | undefined {
  const answer = (e as { error?: { message?: unknown } } | null)?.error ?? (e as { info?: { error?: { message?: unknown } } } | null)?.info?.error;
  return typeof answer?.message === "string" ? answer.message : undefined;
}

/** Ms after which an estimate is taken as stale and the call simulated again right before signing. */
const RECHECK_AFTER_MS = 1_000;

/** Our nonce was used by a transaction that is not ours. */
class NonceTaken extends Error {
  readonly hash: string;
  readonly nonce: number;
  constructor(hash: string, nonce: number) {
    super(`nonce ${nonce} already used`);
    this.hash = hash;
    this.nonce = nonce;
  }
}
