import type { Logger } from "../log/logger.js";

/**
 * Says plainly when the chain stops producing blocks. The market's windows are measured in block
 * time, so on a chain that mines only when a transaction arrives (a plain Hardhat node with
 * automine) deadlines never pass once every agent is waiting: `podl status` would print "ends in
 * 12 s" for ever. The watch notes when the head last changed, by this process's clock, and warns
 * once per stall, then once more when blocks come again.
 */

/** The shortest window the local deployment parameters use is 30 s (scripts/demo/deployment.ts localWindows). */
export const STALL_WARN_SECONDS = 30;
const CHECK_EVERY_MS = 10_000;

export interface StallWatchOptions {
  source: { getBlockNumber(): Promise<number> };
  chainId: bigint | number;
  log: Pick<Logger, "warn" | "info">;
  thresholdSeconds?: number;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

export class StallWatch {
  readonly #o: StallWatchOptions;
  readonly #now: () => number;
  #head: number | undefined;
  #since = 0;
  #warned = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: StallWatchOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Checks every 10 s in the background (never keeps the process alive) until `stop`. */
  start(): this {
    this.#timer = setInterval(() => void this.check().catch(() => undefined), CHECK_EVERY_MS).unref(); // an RPC failure is the retry layer's to report
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One look at the head; returns whether the chain is stalled now. */
  async check(): Promise<boolean> {
    const head = await this.#o.source.getBlockNumber();
    const now = this.#now();
    if (head !== this.#head) {
      if (this.#warned) this.#o.log.info({ block: head }, `chain ${this.#o.chainId} produces blocks again (head #${head})`);
      this.#head = head;
      this.#since = now;
      this.#warned = false;
      return false;
    }
    const seconds = Math.floor((now - this.#since) / 1000);
    const threshold = this.#o.thresholdSeconds ?? STALL_WARN_SECONDS;
    if (seconds < threshold) return false;
    if (!this.#warned) {
      this.#o.log.warn(
        { block: head, stalledSeconds: seconds },
        `chain ${this.#o.chainId} has produced no block for ${seconds} s (head #${head}): the market's deadlines only pass with new blocks, so nothing can move on. ` +
          "A local Hardhat node must mine on an interval: start it with this project's config (`npx hardhat node`, a block a second) or send evm_setIntervalMining",
      );
      this.#warned = true;
    }
    return true;
  }
}
