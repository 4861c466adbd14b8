import type { EventCursor } from "../chain/cursor.js";
import { EventDecoder } from "../chain/events.js";
import { isAgentError } from "../config/errors.js";
import type { AgentRuntime } from "../core/runtime.js";
import { Keeper } from "../keeper/index.js";
import { PHASE_NAMES } from "../protocol/phases.js";
import {
  Settlement__factory,
  TaskMarket__factory,
  ValidatorRegistry__factory,
  type Settlement,
  type TaskMarket,
  type ValidatorRegistry,
} from "../../types/index.js";
import type { TaskData, VerifierContext, VerifierOptions } from "./context.js";
import { TaskDataUnavailable } from "./errors.js";
import { onEvent } from "./events.js";
import { DUTIES } from "./phases.js";
import { ensureStake } from "./stake.js";

export type { Prefetcher, RevealedSubmission, Scorer, ScoringInput, ShardKeyJson, Verdict, VerifierOptions, VerifierPhase } from "./context.js";

/** What one step did, for `--exit-when-idle` / `--max-tasks` and for tests. */
export interface StepReport {
  /** Tasks that reached their end this step (credits withdrawn). */
  ended: bigint[];
  /** Tasks still followed. */
  open: number;
}

/**
 * The verifier's state machine (DESIGN §3.7–3.8, §8). Each `step` follows the market, registry and
 * settlement events into the state, then brings every task it follows up to date with the chain:
 * as keeper it sends the permissionless calls that are due (checked against the contracts'
 * conditions first, so it does not pay for reverts); as a committee member it scores every
 * revealed submission, stores scores and salt, commits, reveals in the reveal window; once the
 * task ends it withdraws its credits. Idempotent, so a restarted agent carries on.
 */
export class Verifier {
  readonly market: TaskMarket;
  readonly settlement: Settlement;
  readonly registry: ValidatorRegistry;
  readonly #rt: AgentRuntime;
  readonly #events: EventDecoder;
  readonly #cursor: EventCursor;
  readonly #me: string;
  readonly #ctx: VerifierContext;

  constructor(rt: AgentRuntime, options: VerifierOptions) {
    this.#rt = rt;
    this.#me = rt.wallet.address;
    this.market = TaskMarket__factory.connect(options.market, rt.chain.provider);
    this.settlement = Settlement__factory.connect(options.settlement, rt.chain.provider);
    this.registry = ValidatorRegistry__factory.connect(options.registry, rt.chain.provider);
    this.#events = new EventDecoder([
      { address: options.market, iface: this.market.interface },
      { address: options.settlement, iface: this.settlement.interface },
      { address: options.registry, iface: this.registry.interface },
    ]);
    this.#cursor = rt.cursor("verifier", { address: this.#events.addresses, startBlock: options.startBlock });
    const data = (taskId: bigint) => rt.store.getTask(taskId)?.data as TaskData | undefined;
    const merge = (taskId: bigint, patch: Partial<TaskData>) => {
      const record = rt.store.getTask(taskId);
      // A task first seen through a later event (the cursor started after its post) is followed too.
      rt.store.putTask(taskId, record?.phase ?? "watching", { ...record?.data, ...patch });
    };
    this.#ctx = {
      rt,
      o: options,
      market: this.market,
      settlement: this.settlement,
      registry: this.registry,
      me: this.#me,
      keeper: new Keeper({ clock: rt.clock, me: this.#me, validators: () => this.registry.validators(), graceMs: options.keeperGraceMs }),
      prefetched: new Set<bigint>(),
      data,
      merge,
      mergeRound: (taskId, round, patch) => {
        const rounds = { ...data(taskId)?.rounds };
        rounds[round] = { ...rounds[round], ...patch };
        merge(taskId, { rounds });
      },
      follow: () => this.#follow(),
    };
  }

  get address(): string {
    return this.#me;
  }

  /**
   * Stakes `amount` (ETH, or the registry's stake token after an approval) unless this key is
   * already bonded; tops up when its stake is below `minStake`. Returns the stake after.
   */
  async ensureStake(amount: bigint): Promise<bigint> {
    return await ensureStake(this.#ctx, amount);
  }

  /** One round: follow the events, then advance every task not yet done. */
  async step(): Promise<StepReport> {
    const polled = await this.#follow();
    if (polled.rewound !== undefined) this.#rt.log.warn({ ...polled.rewound }, "chain reorganised; re-reading every open task from the contracts");
    const ended: bigint[] = [];
    let open = 0;
    for (const task of this.#rt.store.listTasks("watching")) {
      try {
        if (await this.#advance(task.taskId, task.data as TaskData)) {
          ended.push(task.taskId);
          continue;
        }
      } catch (e) {
        // One task's trouble (RPC outage, its data not reachable yet, a revert) must not stall the
        // others; the next step tries again while the windows allow.
        if (!isAgentError(e) && !(e instanceof TaskDataUnavailable)) throw e;
        this.#rt.log.warn({ taskId: task.taskId, code: e.code, err: e.message }, `task ${task.taskId}: ${e.message}; will retry`);
      }
      open++;
    }
    return { ended, open };
  }

  async #follow(): ReturnType<EventCursor["poll"]> {
    return await this.#cursor.poll(async (log) => {
      const event = this.#events.decode(log);
      if (event !== undefined) onEvent(this.#ctx, event.name, event.args);
    });
  }

  /** Tasks this verifier followed to their end. */
  endedTasks(): bigint[] {
    return this.#rt.store.listTasks("done").map((t) => t.taskId);
  }

  /** Brings one task up to date by the market's phase (phases.ts); true when it ended (and its credits were withdrawn). */
  async #advance(taskId: bigint, data: TaskData): Promise<boolean> {
    const tlog = this.#rt.log.child({ taskId });
    const [t, head] = await Promise.all([this.market.getTask(taskId), this.#rt.chain.provider.getBlock("latest")]);
    const duty = DUTIES[PHASE_NAMES[Number(t.phase)] ?? "none"];
    return await duty(this.#ctx, { taskId, data, t, now: BigInt(head!.timestamp), block: BigInt(head!.number), tlog });
  }
}
