import type { EngineResult } from "../ml/engine.js";
import { isTransientRpcError } from "../chain/retry.js";
import type { EventCursor } from "../chain/cursor.js";
import { EventDecoder } from "../chain/events.js";
import { isAgentError } from "../config/errors.js";
import type { AgentRuntime } from "../core/runtime.js";
import { TERMINAL_PHASES } from "../protocol/phases.js";
import { fetchTaskDocument, isSubmissionError } from "../protocol/submission.js";
import type { TaskDocument } from "../protocol/task-document.js";
import { RewardToken__factory, TaskMarket__factory, type TaskMarket } from "../../types/index.js";
import { COMMIT_RPC_CALLS } from "../chain/latency.js";
import type { TrainingEngine } from "../ml/engine.js";
import { TfjsWorkerEngine } from "../ml/engines/tfjs-worker.js";
import type { MinerContext, MinerOptions, MinerPhase, TaskData } from "./context.js";
import { onEvent } from "./intake.js";
import { finish } from "./payout.js";
import { FINAL_PHASES, TRANSITIONS } from "./phases.js";
import { trainTask } from "./schedule.js";
import { choose, maybeStart } from "./selection.js";
import { submit } from "./submission.js";
import { TrainingJobs, startJobs } from "./jobs.js";

export { MODEL_SALT, type MinerOptions, type MinerPhase, type Strategy } from "./context.js";
export { PROBE_BATCHES } from "./intake.js";
export { FINAL_PHASES } from "./phases.js";
export { orderCandidates, type Candidate } from "./selection.js";

/** What one step did, for the command's plain-words output. */
export interface StepReport {
  /** Tasks still followed. */
  open: number;
  /** Tasks finished in any way (done, skipped, missed, failed). */
  ended: number;
  events: string[];
}

/**
 * The miner's state machine. Each step follows the market's events, brings every open task up to
 * date with the chain (evaluate, reconcile a commitment, reveal, withdraw), then starts training the
 * best candidates by the strategy, one per free job slot (--jobs), on the training engine (worker
 * threads by default), while its loop keeps following the chain and serving IPFS. The opening of a commitment is in the state before
 * `commitModel` is sent, so a miner killed at any point reveals after a restart.
 */
export class Miner {
  readonly market: TaskMarket;
  readonly address: string;
  readonly #rt: AgentRuntime;
  readonly #events: EventDecoder;
  readonly #cursor: EventCursor;
  readonly #ctx: MinerContext;
  readonly #jobs: TrainingJobs;
  /** Models trained and not yet committed, by task (kept for a retry of the commitment). */
  readonly #trained = new Map<bigint, EngineResult>();
  #report: string[] = [];

  constructor(rt: AgentRuntime, options: MinerOptions) {
    this.#rt = rt;
    this.address = rt.wallet.address;
    this.market = TaskMarket__factory.connect(options.market, rt.chain.provider);
    this.#events = new EventDecoder([{ address: options.market, iface: this.market.interface }]);
    this.#cursor = rt.cursor("market", { address: this.#events.addresses, startBlock: options.startBlock });
    const documents = new Map<string, TaskDocument>();
    let engine: TrainingEngine;
    if (options.engine === undefined) {
      const tfjs = new TfjsWorkerEngine(options.backend);
      // Started now, in the background: the first probe and training find their threads ready.
      tfjs.warm(options.jobs ?? 1).catch((e: unknown) => rt.log.warn({ err: (e as Error).message }, `training worker did not start: ${(e as Error).message}`));
      engine = tfjs;
    } else engine = options.engine;
    this.#jobs = new TrainingJobs(options.jobs ?? 1, isRetryable, (taskId, e) => rt.log.warn({ taskId, err: e.message }, `task ${taskId}: ${e.message}; will retry`));
    this.#ctx = {
      engine,
      jobs: this.#jobs,
      rt,
      o: options,
      market: this.market,
      rewardToken: options.rewardToken === undefined ? undefined : RewardToken__factory.connect(options.rewardToken, rt.chain.provider),
      address: this.address,
      postSeconds: 0,
      set: (taskId, phase, data) => rt.store.putTask(taskId, phase, data),
      say: (taskId, message, level = "info", fields = {}) => {
        rt.log[level]({ taskId, ...fields }, message);
        this.#report.push(message);
      },
      timing: (taskId, phase, started, extra = {}) => rt.log.info({ taskId, phase, seconds: (performance.now() - started) / 1000, ...extra }, "timing"),
      stream: () => (options.progressStream === undefined ? {} : { stream: options.progressStream }),
      hasDocument: (specCid) => documents.has(specCid),
      document: async (specCid) => {
        const cached = documents.get(specCid);
        if (cached !== undefined) return cached;
        const doc = await fetchTaskDocument(options.store, specCid, { timeoutMs: options.fetchTimeoutMs });
        documents.set(specCid, doc);
        return doc;
      },
      nextTimestamp: async () => await rt.clock.nextTimestamp(),
      commitMargin: () => rt.chain.health.marginSeconds(options.commitMarginSeconds, COMMIT_RPC_CALLS, rt.retry),
    };
  }

  /** Stops training (the tasks stay eligible for a restart) and ends the engine's workers. */
  async close(): Promise<void> {
    await this.#jobs.close();
    if (this.#ctx.o.engine === undefined) await this.#ctx.engine.close();
  }

  async step(): Promise<StepReport> {
    this.#report = [];
    await this.#cursor.poll(async (log) => {
      const event = this.#events.decode(log);
      if (event !== undefined) onEvent(this.#ctx, event.name, event.args);
    });
    this.#jobs.check();
    for (const task of this.#open()) {
      // A new task's prefetch and probe wait while every job slot trains: they would compete with it.
      if (this.#jobs.has(task.taskId) || (task.phase === "posted" && this.#jobs.free === 0)) continue;
      try {
        await this.#advance(task.taskId, task.phase as MinerPhase, task.data as TaskData);
      } catch (e) {
        // A network failure is retried next step; anything else is a bug and ends the agent.
        if (!isRetryable(e)) throw e;
        this.#rt.log.warn({ taskId: task.taskId, err: (e as Error).message }, `task ${task.taskId}: ${(e as Error).message}; will retry`);
      }
    }
    const started = await startJobs(this.#jobs, () => choose(this.#ctx), (c, signal) => this.#mine(c.taskId, c.data, signal));
    if (started.length === 0 && this.#ctx.o.startTasks) await maybeStart(this.#ctx);
    if (!this.#ctx.o.background) {
      await Promise.all(started);
      this.#jobs.check();
    }
    const all = this.#rt.store.listTasks();
    const ended = all.filter((t) => FINAL_PHASES.has(t.phase)).length;
    return { open: all.length - ended, ended, events: this.#report };
  }

  #open() {
    return this.#rt.store.listTasks().filter((t) => !FINAL_PHASES.has(t.phase));
  }

  /** One task's transition (phases.ts), or its end once the chain ended it. */
  async #advance(taskId: bigint, phase: MinerPhase, data: TaskData): Promise<void> {
    const t = await this.market.getTask(taskId);
    const next = await this.#ctx.nextTimestamp();
    if (TERMINAL_PHASES.has(t.phase)) {
      this.#trained.delete(taskId);
      return await finish(this.#ctx, taskId, phase, data, t);
    }
    await TRANSITIONS[phase]?.(this.#ctx, taskId, data, t, next);
  }

  /** Decrypt, train, upload, store the opening, commit. */
  async #mine(taskId: bigint, data: TaskData, signal: AbortSignal): Promise<void> {
    const t = await this.market.getTask(taskId);
    const doc = await this.#ctx.document(data.specCid);
    // A model trained by an earlier try of this job (the network failed after training) is committed,
    // not trained again: by then the schedule finds no time left for training and would give it up.
    let run = this.#trained.get(taskId);
    if (run === undefined) {
      run = await trainTask(this.#ctx, taskId, data, t, doc, signal);
      if (run === undefined) return;
      this.#trained.set(taskId, run);
    }
    await submit(this.#ctx, taskId, data, t, doc.spec, run);
    this.#trained.delete(taskId);
  }
}

/** Failures the next step may not meet: the network (RPC or IPFS) or a receipt that did not come in time. */
export function isRetryable(e: unknown): boolean {
  return isAgentError(e, "RPC_UNAVAILABLE") || isAgentError(e, "TX_TIMEOUT") || isSubmissionError(e, "UNAVAILABLE") || isTransientRpcError(e);
}
