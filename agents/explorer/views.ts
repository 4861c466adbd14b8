import type { ExplorerDb, EventRow } from "./db.js";
import { deriveMiners, deriveTask, deriveValidators, TERMINAL_EVENTS, type MinerView, type Phase, type TaskView, type ValidatorView } from "./derive.js";
import type { LiveViews } from "./live.js";
import { queueWithTerms, type QueueEntry } from "./terms.js";

type Ev = EventRow & { time: number };

export interface Page<T> {
  total: number;
  offset: number;
  limit: number;
  items: T[];
}

export interface LearningBlockView {
  height: number;
  taskId: number;
  winner: string;
  head: string;
  modelHash: string;
  /** Winner's median accuracy, basis points. */
  score: number;
  time: number;
}

/** Seconds each phase of a finished task took, for the phase-duration plot. */
export interface PhaseDurations {
  taskId: number;
  queued: number;
  keys: number;
  training: number;
  reveal: number;
  attestation: number;
}

const ETH = "0x0000000000000000000000000000000000000000";
const UNIT = 10n ** 18n;

/**
 * The API's answers, read from the explorer's database. Views that fold over every task (miners,
 * validators' earnings, filtered task lists) are computed once per index revision.
 */
export class ExplorerViews {
  #db: ExplorerDb;
  #cache: { key: string; tasks: Map<number, TaskView>; events: Ev[] } | undefined;

  constructor(db: ExplorerDb) {
    this.#db = db;
  }

  get live(): LiveViews | undefined {
    return this.#db.snapshot<LiveViews>("live");
  }

  /** The chain time the views are as of: the indexed block's. */
  get now(): number {
    return this.live?.time ?? Math.floor(Date.now() / 1000);
  }

  status(): { indexedBlock: number; time: number; events: number; chainHeight: string; chainHead: string; queueLength: number; activeCount: number; params?: Record<string, string>; settlementParams?: Record<string, string> } {
    const live = this.live;
    return {
      indexedBlock: live?.block ?? 0,
      time: live?.time ?? 0,
      events: this.#db.counts().events,
      chainHeight: live?.chainHeight ?? "0",
      chainHead: live?.chainHead ?? "0x",
      queueLength: live?.queueLength ?? 0,
      activeCount: live?.activeCount ?? 0,
      ...(live ? { params: live.params } : {}),
      ...(live?.settlementParams ? { settlementParams: live.settlementParams } : {}),
    };
  }

  task(taskId: number): TaskView | undefined {
    return deriveTask(this.#db.events({ taskId }), this.live, this.now);
  }

  tasks(options: { offset: number; limit: number; phase?: Phase | undefined }): Page<TaskView> {
    if (options.phase === undefined) {
      const { ids, total } = this.#db.taskIds(options);
      return { total, offset: options.offset, limit: options.limit, items: ids.map((id) => this.task(id)!).filter(Boolean) };
    }
    const all = [...this.#all().tasks.values()].filter((t) => t.phase === options.phase).sort((a, b) => b.taskId - a.taskId);
    return { total: all.length, offset: options.offset, limit: options.limit, items: all.slice(options.offset, options.offset + options.limit) };
  }

  overview(recent: number): {
    status: ReturnType<ExplorerViews["status"]>;
    queue: QueueEntry[];
    active: TaskView[];
    recent: TaskView[];
    chain: LearningBlockView[];
    phaseDurations: PhaseDurations[];
    stakes: { address: string; stake: string }[];
  } {
    const live = this.live;
    const open = this.#db.openTaskIds(TERMINAL_EVENTS).map((id) => this.task(id)!).filter(Boolean);
    const openById = new Map(open.map((t) => [t.taskId, t]));
    const scales = this.#unitScales();
    const recentTasks = this.#db.taskIdsWith(["TaskSettled"], recent).map((id) => this.task(id)!).filter(Boolean);
    return {
      status: this.status(),
      queue: live ? queueWithTerms(live, openById, (token) => scales.get(token.toLowerCase()) ?? (token === ETH ? UNIT : 0n)) : [],
      active: open.filter((t) => t.phase !== "queued"),
      recent: recentTasks,
      chain: this.chain({ offset: 0, limit: 500 }).items.reverse(),
      phaseDurations: this.#db.taskIdsWith(["TaskSettled"], 50).reverse().flatMap((id) => durations(this.task(id)!)),
      stakes: this.validators({ offset: 0, limit: 100 }).items.filter((v) => BigInt(v.stake) > 0n).map((v) => ({ address: v.address, stake: v.stake })),
    };
  }

  validators(options: { offset: number; limit: number }): Page<ValidatorView> {
    const { tasks, events } = this.#all();
    const all = deriveValidators(events, [...tasks.values()].flatMap((t) => t.payouts));
    return { total: all.length, ...options, items: all.slice(options.offset, options.offset + options.limit) };
  }

  miners(options: { offset: number; limit: number }): Page<MinerView> {
    const all = deriveMiners([...this.#all().tasks.values()]);
    return { total: all.length, ...options, items: all.slice(options.offset, options.offset + options.limit) };
  }

  /** Learning blocks, newest first. */
  chain(options: { offset: number; limit: number }): Page<LearningBlockView> {
    const all = this.#db.events({ names: ["LearningBlock"] }).map((e) => ({
      height: Number(e.args.height),
      taskId: Number(e.args.taskId),
      winner: String(e.args.winner),
      head: String(e.args.head),
      modelHash: String(e.args.modelHash),
      score: Number(e.args.score),
      time: e.time,
    }));
    all.reverse();
    return { total: all.length, ...options, items: all.slice(options.offset, options.offset + options.limit) };
  }

  /** Every task derived once per index revision (events count, indexed block). */
  #all(): { tasks: Map<number, TaskView>; events: Ev[] } {
    const counts = this.#db.counts();
    const key = `${counts.events}:${counts.block}:${this.live?.block ?? 0}`;
    if (this.#cache?.key === key) return this.#cache;
    const events = this.#db.events();
    const byTask = new Map<number, Ev[]>();
    for (const e of events) if (e.taskId !== null) push(byTask, e.taskId, e);
    const tasks = new Map<number, TaskView>();
    for (const [id, list] of byTask) {
      const t = deriveTask(list, this.live, this.now);
      if (t) tasks.set(id, t);
    }
    this.#cache = { key, tasks, events };
    return this.#cache;
  }

  /** Listed tokens' unit scales (reference units per 1e18), lower-case address → scale. */
  #unitScales(): Map<string, bigint> {
    const scales = new Map<string, bigint>();
    for (const e of this.#db.events({ names: ["RewardTokenSet"] })) scales.set(String(e.args.token).toLowerCase(), BigInt(String(e.args.unitScale)));
    return scales;
  }
}

/** Phase durations of a settled task from its timeline (absent steps give no entry). */
function durations(t: TaskView): PhaseDurations[] {
  const at = (step: string) => t.timeline.find((x) => x.step.startsWith(step))?.time;
  const [posted, started, trained, tested, seated, settled] = ["posted", "started", "training data", "test data", "committee", "settled"].map(at);
  if ([posted, started, trained, tested, seated, settled].some((x) => x === undefined)) return [];
  return [{ taskId: t.taskId, queued: started! - posted!, keys: trained! - started!, training: tested! - trained!, reveal: seated! - tested!, attestation: settled! - seated! }];
}

function push<K>(map: Map<K, Ev[]>, key: K, e: Ev): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [e]);
  else list.push(e);
}
