import { getAddress, Interface, isAddress, type Log, type Provider } from "ethers";
import { EventCursor } from "../chain/cursor.js";
import { EventDecoder } from "../chain/events.js";
import { withRetry, sleep, backoffMs, shortMessage, type RetryPolicy } from "../chain/retry.js";
import { isAgentError } from "../config/errors.js";
import { createProgress, type Progress } from "../log/progress.js";
import type { Logger } from "../log/logger.js";
import { Settlement__factory, TaskMarket__factory, ValidatorRegistry__factory } from "../../types/index.js";
import type { ExplorerDb } from "./db.js";
import { readLiveViews, type ExplorerContracts } from "./live.js";
import { plain } from "./plain.js";

export type { ExplorerContracts } from "./live.js";

export interface IndexerOptions {
  provider: Provider;
  db: ExplorerDb;
  contracts: ExplorerContracts;
  /** The deployment's block: where a fresh index starts. */
  startBlock: number;
  confirmations: number;
  chunkBlocks: number;
  maxReorgDepth: number;
  retry: RetryPolicy;
  log: Logger;
  /** Draw a progress bar (or log tenths) when this many blocks or more are behind. */
  progressBlocks?: number;
}

/** What an update tells listeners (the server's SSE stream). */
export interface IndexUpdate {
  block: number;
  handled: number;
  rewound?: { from: number; to: number };
}

const CURSOR = "explorer";
/** Event arguments not worth keeping: the shard keys (counted instead). */
const DROPPED_ARGS = new Set(["keys", "testLeaves"]);
/** Blocks and transactions read at once (ethers batches concurrent JSON-RPC requests). */
const FILL_BATCH = 64;

/**
 * Follows the market, settlement and registry events with the agents' reorg-safe cursor (same
 * confirmations rule, chunked eth_getLogs from the deployment's block) into the explorer's
 * database, then fills in what the logs lack (block times, the posted task's request from its
 * transaction) and refreshes the snapshot of live views. Resumable: the cursor's position and
 * the events live in the same database, and each event is stored once.
 */
export class ExplorerIndexer {
  #o: IndexerOptions;
  #decoder: EventDecoder;
  #cursor: EventCursor;
  #names = new Map<string, string>();
  #market = new Interface(TaskMarket__factory.abi);
  #listeners = new Set<(u: IndexUpdate) => void>();

  constructor(options: IndexerOptions) {
    this.#o = options;
    const { contracts } = options;
    this.#decoder = new EventDecoder();
    const add = (role: string, address: string | undefined, abi: Interface) => {
      if (address === undefined) return;
      this.#decoder.add(address, abi);
      this.#names.set(getAddress(address), role);
    };
    add("market", contracts.market, this.#market);
    add("registry", contracts.registry, new Interface(ValidatorRegistry__factory.abi));
    add("settlement", contracts.settlement, new Interface(Settlement__factory.abi));
    this.#cursor = new EventCursor({
      name: CURSOR,
      provider: options.provider,
      store: options.db,
      address: this.#decoder.addresses,
      startBlock: options.startBlock,
      confirmations: options.confirmations,
      chunkBlocks: options.chunkBlocks,
      maxReorgDepth: options.maxReorgDepth,
      retry: options.retry,
      log: options.log,
    });
  }

  subscribe(listener: (u: IndexUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Indexes every confirmed block not indexed yet, fills times and requests, refreshes the live views. */
  async poll(): Promise<IndexUpdate> {
    const { provider, retry, log, db } = this.#o;
    const head = await withRetry("eth_blockNumber", () => provider.getBlockNumber(), retry, log);
    const from = (db.getCursor(CURSOR)?.block ?? this.#o.startBlock - 1) + 1;
    const behind = head - this.#o.confirmations - from + 1;
    let progress: Progress | undefined;
    if (behind >= (this.#o.progressBlocks ?? 10_000)) progress = createProgress({ label: "explorer: indexing", total: behind, unit: "blocks", log });
    const result = await this.#cursor.poll((entry) => {
      this.#store(entry);
      progress?.update(entry.blockNumber - from + 1);
    });
    progress?.finish(`${result.handled} events`);
    await this.#fill();
    const block = db.getCursor(CURSOR)?.block ?? this.#o.startBlock - 1;
    if (block >= this.#o.startBlock) db.putSnapshot("live", await readLiveViews(provider, this.#o.contracts, block, retry, log));
    const update: IndexUpdate = { block, handled: result.handled, ...(result.rewound ? { rewound: result.rewound } : {}) };
    if (result.handled > 0 || result.rewound) for (const listener of this.#listeners) listener(update);
    return update;
  }

  /** Polls until `signal` aborts; an RPC outage is logged and retried with back-off, like the agents' loops. */
  async run(options: { signal: AbortSignal; intervalMs: number }): Promise<void> {
    let failures = 0;
    while (!options.signal.aborted) {
      try {
        await this.poll();
        failures = 0;
        await sleep(options.intervalMs, options.signal);
      } catch (e) {
        if (!isAgentError(e, "RPC_UNAVAILABLE")) throw e;
        const delayMs = backoffMs(this.#o.retry, failures++);
        this.#o.log.error({ err: shortMessage(e), failures, delayMs }, "explorer: RPC unavailable; will retry");
        await sleep(delayMs, options.signal);
      }
    }
  }

  #store(entry: Log): void {
    const decoded = this.#decoder.decode(entry);
    if (decoded === undefined) return;
    const args = plain(decoded.args) as Record<string, unknown>;
    for (const key of DROPPED_ARGS) {
      if (Array.isArray(args[key])) {
        args[`${key}Count`] = (args[key] as unknown[]).length;
        delete args[key];
      }
    }
    const taskId = typeof args.taskId === "string" ? Number(args.taskId) : null;
    const who = [args.miner, args.validator, args.account, args.winner, args.publisher].find((v) => typeof v === "string" && isAddress(v));
    this.#o.db.putEvent({
      id: decoded.id,
      block: entry.blockNumber,
      logIndex: entry.index,
      tx: entry.transactionHash,
      contract: this.#names.get(decoded.address) ?? decoded.address,
      name: decoded.name,
      taskId,
      account: typeof who === "string" ? getAddress(who) : null,
      args,
    });
  }

  /** Block times and posted requests the logs do not carry, read in concurrent batches. */
  async #fill(): Promise<void> {
    const { provider, retry, log, db } = this.#o;
    const missing = db.blocksWithoutTime();
    for (let i = 0; i < missing.length; i += FILL_BATCH) {
      const batch = missing.slice(i, i + FILL_BATCH);
      const blocks = await Promise.all(batch.map((n) => withRetry("eth_getBlockByNumber", () => provider.getBlock(n), retry, log)));
      db.transaction(() => blocks.forEach((b, j) => b && db.putBlockTime(batch[j]!, b.timestamp)));
    }
    const posted = db.postsWithoutRequest();
    for (let i = 0; i < posted.length; i += FILL_BATCH) {
      const batch = posted.slice(i, i + FILL_BATCH);
      const txs = await Promise.all(batch.map((p) => withRetry("eth_getTransactionByHash", () => provider.getTransaction(p.tx), retry, log)));
      db.transaction(() => txs.forEach((tx, j) => db.setPostRequest(batch[j]!.id, tx ? this.#request(tx.data, tx.to) : null)));
    }
  }

  /** The `postTask` request, when the transaction called the market directly (not through another contract). */
  #request(data: string, to: string | null): Record<string, unknown> | null {
    if (to === null || this.#names.get(getAddress(to)) !== "market") return null;
    const parsed = this.#market.parseTransaction({ data });
    if (parsed?.name !== "postTask") return null;
    return plain(parsed.args[0]) as Record<string, unknown>;
  }
}
