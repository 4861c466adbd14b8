import type { Provider } from "ethers";
import type { Logger } from "../log/logger.js";
import { withRetry, type RetryPolicy } from "./retry.js";

/**
 * Hands out the nonces of one key, one transaction at a time: the next caller waits until the
 * previous transaction was accepted by the node (or failed). After any failure the next nonce is
 * read again from the chain (pending count), so a nonce taken by another process, a dropped
 * transaction or a crash leaves no gap and no collision behind.
 */
export class NonceManager {
  readonly address: string;
  #provider: Provider;
  #retry: RetryPolicy;
  #log: Logger | undefined;
  #next: number | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(address: string, provider: Provider, retry: RetryPolicy, log?: Logger) {
    this.address = address;
    this.#provider = provider;
    this.#retry = retry;
    this.#log = log;
  }

  /** Runs `use` with the next nonce; it must resolve once the node holds the transaction. */
  async withNonce<T>(use: (nonce: number) => Promise<T>): Promise<T> {
    const turn = this.#queue.then(async () => {
      if (this.#next === undefined) await this.resync();
      const nonce = this.#next!;
      try {
        const result = await use(nonce);
        this.#next = nonce + 1;
        return result;
      } catch (e) {
        this.#next = undefined;
        throw e;
      }
    });
    this.#queue = turn.catch(() => undefined);
    return await turn;
  }

  /** Reads the next nonce from the chain (pending transactions included). */
  async resync(): Promise<number> {
    const next = await withRetry(
      "eth_getTransactionCount",
      () => this.#provider.getTransactionCount(this.address, "pending"),
      this.#retry,
      this.#log,
    );
    if (this.#next !== undefined && this.#next !== next) this.#log?.info({ from: this.#next, to: next }, "nonce re-synced from the chain");
    this.#next = next;
    return next;
  }

  /** Forget the cached nonce; the next transaction re-reads it. */
  invalidate(): void {
    this.#next = undefined;
  }
}

const managers = new WeakMap<Provider, Map<string, NonceManager>>();

/** The one nonce manager of `address` on `provider`, shared by every sender in the process. */
export function nonceManagerFor(address: string, provider: Provider, retry: RetryPolicy, log?: Logger): NonceManager {
  let byAddress = managers.get(provider);
  if (byAddress === undefined) managers.set(provider, (byAddress = new Map()));
  const key = address.toLowerCase();
  let manager = byAddress.get(key);
  if (manager === undefined) byAddress.set(key, (manager = new NonceManager(address, provider, retry, log)));
  return manager;
}
