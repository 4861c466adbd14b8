import { getAddress } from "ethers";
import { isAgentError } from "../config/errors.js";
import type { Clock } from "../core/clock.js";
import type { Logger } from "../log/logger.js";

export interface KeeperOptions {
  clock: Clock;
  /** This keeper's address. */
  me: string;
  /** The registered validators, in registry order: they take turns as each task's designated keeper. */
  validators: () => Promise<readonly string[]>;
  /**
   * How long a call must have been due before a keeper other than the task's designated one sends
   * it (ms). Keepers that all send at once pay for reverts; 0 sends at once.
   */
  graceMs: number;
}

/**
 * Sends due permissionless calls in turn with other keepers: the task's designated keeper at once,
 * the others once the call has been due for the grace period and nobody has sent it.
 */
export class Keeper {
  readonly #o: KeeperOptions;
  /** When each call (`taskId:what`) was first seen due, by this process's clock. */
  readonly #dueSince = new Map<string, number>();

  constructor(options: KeeperOptions) {
    this.#o = options;
  }

  /**
   * Sends a due call when it is this keeper's turn. Another keeper may have sent it first: a revert
   * at estimation costs no gas and is logged, not thrown.
   */
  async keep(taskId: bigint, log: Logger, what: string, send: () => Promise<unknown>): Promise<void> {
    if (!(await this.#mayKeep(taskId, what))) return;
    this.#dueSince.delete(`${taskId}:${what}`);
    try {
      await send();
      log.info(`keeper: ${what} sent`);
    } catch (e) {
      if (!isAgentError(e, "TX_REVERTED")) throw e;
      log.info({ revert: (e.context.revert as { summary?: string } | undefined)?.summary }, `keeper: ${what} not needed (${e.message})`);
    }
  }

  /**
   * Whether to send a due call now: at once when this keeper is the task's designated keeper
   * (registered validators in registry order, task id modulo their count), otherwise only once the
   * call has been due for the grace period.
   */
  async #mayKeep(taskId: bigint, what: string): Promise<boolean> {
    const { clock, graceMs, me } = this.#o;
    const key = `${taskId}:${what}`;
    const since = this.#dueSince.get(key) ?? clock.wallMs();
    this.#dueSince.set(key, since);
    if (graceMs === 0 || clock.wallMs() - since >= graceMs) return true;
    const validators = await this.#o.validators();
    return validators.length > 0 && getAddress(validators[Number(taskId % BigInt(validators.length))]!) === me;
  }
}
