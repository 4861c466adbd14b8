import type { Log, Provider } from "ethers";
import { AgentError, isAgentError } from "../config/errors.js";
import type { Logger } from "../log/logger.js";
import { backoffMs, shortMessage, sleep, withRetry, type RetryPolicy } from "./retry.js";
import type { CursorPosition, CursorStore } from "./stores.js";

export interface CursorOptions {
  /** Names the cursor in the store; one per event stream an agent follows. */
  name: string;
  provider: Provider;
  store: CursorStore;
  /** Contracts to follow (one or several) and optional topic filter. */
  address: string | string[];
  topics?: (string | string[] | null)[];
  /** First block to scan when the store has no position yet (e.g. the deployment block). */
  startBlock: number;
  /** Act only on blocks at least this deep under the head. */
  confirmations: number;
  chunkBlocks: number;
  maxReorgDepth: number;
  retry: RetryPolicy;
  log?: Logger;
}

export type EventHandler = (log: Log) => Promise<void> | void;

export interface PollResult {
  /** Blocks scanned this time (inclusive); `to < from` when there was nothing new. */
  from: number;
  to: number;
  handled: number;
  /** Set when a reorganisation was found: the cursor went back from `from` to `to`. */
  rewound?: { from: number; to: number };
}

/** `txHash:logIndex`: what handlers are idempotent over. */
export function eventId(log: Pick<Log, "transactionHash" | "index">): string {
  return `${log.transactionHash}:${log.index}`;
}

/**
 * Follows contract events with chunked eth_getLogs over [cursor + 1, head − confirmations]. The
 * position and the ids of handled events live in the store, so a restarted agent resumes where it
 * stopped without handling anything twice. The hash of each position is kept: when it no longer
 * matches the chain, the cursor rewinds to the newest remembered block that still does (at most
 * `maxReorgDepth` back) and scans again. Handlers see each `txHash:logIndex` once; after a
 * rewind they also see events that a reorganisation moved, so they must tolerate replays of the
 * same fact (they upsert, and reconcile with contract views when `rewound` is reported).
 */
export class EventCursor {
  readonly name: string;
  #o: CursorOptions;
  #chunk: number;

  constructor(options: CursorOptions) {
    this.name = options.name;
    this.#o = options;
    this.#chunk = options.chunkBlocks;
  }

  get position(): CursorPosition | undefined {
    return this.#o.store.getCursor(this.name);
  }

  /** Handles every confirmed event not yet handled, then returns. */
  async poll(handler: EventHandler): Promise<PollResult> {
    const { provider, store, retry, log } = this.#o;
    const head = await withRetry("eth_blockNumber", () => provider.getBlockNumber(), retry, log);
    const target = head - this.#o.confirmations;
    let position = store.getCursor(this.name);
    let rewound: PollResult["rewound"];
    if (position !== undefined) {
      const at = position.block;
      const block = await withRetry("eth_getBlockByNumber", () => provider.getBlock(at), retry, log);
      if (block?.hash !== position.hash) {
        const back = await this.#rewind(position);
        rewound = { from: position.block, to: back?.block ?? this.#o.startBlock - 1 };
        position = back;
      }
    }
    const from = position === undefined ? this.#o.startBlock : position.block + 1;
    let next = from;
    let handled = 0;
    while (next <= target) {
      const to = Math.min(target, next + this.#chunk - 1);
      // The hash is read before the logs: if the chain reorganises in between, the stored hash
      // is the stale one and the next poll rewinds over this range.
      const block = await withRetry("eth_getBlockByNumber", () => provider.getBlock(to), retry, log);
      if (block?.hash == null) break; // the head moved back under us; the next poll sorts it out
      const logs = await this.#getLogs(next, to);
      for (const entry of logs) {
        if (entry.removed) continue;
        const id = eventId(entry);
        if (store.isProcessed(this.name, id)) continue;
        await handler(entry);
        store.markProcessed(this.name, id, entry.blockNumber);
        handled++;
      }
      store.setCursor(this.name, { block: to, hash: block.hash });
      next = to + 1;
    }
    const result: PollResult = { from, to: next - 1, handled };
    if (rewound) result.rewound = rewound;
    if (handled > 0 || rewound) log?.debug({ cursor: this.name, ...result }, "events handled");
    return result;
  }

  /**
   * Polls until `signal` aborts. An RPC outage that outlasts the retries is logged and the next
   * round waits a back-off (the retry policy's, growing per failed round); anything else (a
   * handler's error, a reorganisation too deep) ends the loop with that error.
   */
  async run(handler: EventHandler, options: { signal: AbortSignal; intervalMs: number }): Promise<void> {
    let failures = 0;
    while (!options.signal.aborted) {
      try {
        await this.poll(handler);
        failures = 0;
        await sleep(options.intervalMs, options.signal);
      } catch (e) {
        // withRetry already spent its retries; back off further with the same policy.
        if (!isAgentError(e, "RPC_UNAVAILABLE")) throw e;
        const delayMs = backoffMs(this.#o.retry, failures++);
        this.#o.log?.error({ cursor: this.name, err: shortMessage(e), failures, delayMs }, "event cursor: RPC unavailable; will retry");
        await sleep(delayMs, options.signal);
      }
    }
  }

  async #getLogs(fromBlock: number, toBlock: number): Promise<Log[]> {
    const { provider, retry, log, address, topics } = this.#o;
    for (;;) {
      try {
        const logs: Log[] = [];
        for (let start = fromBlock; start <= toBlock; ) {
          const stop = Math.min(toBlock, start + this.#chunk - 1);
          const filter = { address, topics: topics ?? [], fromBlock: start, toBlock: stop };
          logs.push(...(await withRetry("eth_getLogs", () => provider.getLogs(filter), retry, log)));
          start = stop + 1;
        }
        return logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
      } catch (e) {
        // Providers cap the range or the result count; a smaller range goes through.
        if (this.#chunk > 1 && /range|too many|limit|exceed|results/i.test(shortMessage(e))) {
          this.#chunk = Math.max(1, Math.floor(this.#chunk / 2));
          log?.warn({ cursor: this.name, chunkBlocks: this.#chunk }, "eth_getLogs range refused; halving it");
          continue;
        }
        throw e;
      }
    }
  }

  /** The newest checkpoint still on the chain, at most `maxReorgDepth` below `stale`. */
  async #rewind(stale: CursorPosition): Promise<CursorPosition | undefined> {
    const { provider, store, retry, log, maxReorgDepth, startBlock } = this.#o;
    const floor = stale.block - maxReorgDepth;
    for (const checkpoint of store.checkpoints(this.name, stale.block - 1)) {
      if (checkpoint.block < floor) break;
      const block = await withRetry("eth_getBlockByNumber", () => provider.getBlock(checkpoint.block), retry, log);
      if (block?.hash === checkpoint.hash) {
        store.rewindCursor(this.name, checkpoint);
        log?.warn({ cursor: this.name, from: stale.block, to: checkpoint.block }, "chain reorganised; rewinding the event cursor");
        return checkpoint;
      }
    }
    if (floor < startBlock) {
      // Everything since the start block is within reach: scan it again.
      store.rewindCursor(this.name, undefined);
      log?.warn({ cursor: this.name, from: stale.block, to: startBlock - 1 }, "chain reorganised; rescanning from the start block");
      return undefined;
    }
    throw new AgentError("REORG_TOO_DEEP", `cursor ${this.name}: no remembered block within ${maxReorgDepth} of ${stale.block} is still on the chain`, {
      context: { cursor: this.name, block: stale.block, maxReorgDepth },
    });
  }
}
