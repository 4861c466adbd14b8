import type { AgentRuntime } from "../core/runtime.js";
import type { createProgress } from "../log/progress.js";
import type { BackendName } from "../ml/backend.js";
import type { TrainingEngine } from "../ml/engine.js";
import type { TrainingJobs } from "./jobs.js";
import type { TaskDocument } from "../protocol/task-document.js";
import type { ContentStore } from "../storage/index.js";
import type { RewardToken, TaskMarket } from "../../types/index.js";

/**
 * The miner's record of a task (`tasks.phase` in its state). posted → eligible (document valid,
 * ciphertexts prefetched, probe measured) → committed (opening stored, commitModel sent) →
 * revealed → done; or skipped (it cannot do the task, with the reason), missed (a window closed
 * first) or failed (a transaction the chain refused).
 */
export type MinerPhase = "posted" | "eligible" | "committed" | "revealed" | "skipped" | "missed" | "failed" | "done";

/** Salt purpose under which the model commitment's opening is stored. */
export const MODEL_SALT = "model";

/** How a miner picks among tasks it can do: DLBC's ranking, or PoLe's reward per expected second. */
export type Strategy = "dlbc" | "pole";

export interface MinerOptions {
  market: string;
  /** The PODL block-reward token (the address book's RewardToken): claimed on its own when a task we won or ommered settles. */
  rewardToken?: string;
  startBlock: number;
  store: ContentStore;
  /** What trains (agents/ml/engine.ts; default: TensorFlow.js on `backend` in worker threads; --engine torch: engines/torch-engine.ts). */
  engine?: TrainingEngine;
  /** Tasks trained at once (default 1). */
  jobs?: number;
  /** Training runs in the background while step() returns (the agent's loop); default false: step() waits for it. */
  background?: boolean;
  /** The active TensorFlow.js backend (chosen once at start-up). */
  backend: BackendName;
  strategy: Strategy;
  maxParams?: number;
  maxFlops?: number;
  /** Largest miner bond accepted, in the task token's base units. */
  maxBond?: bigint;
  /** Cap on epochs (the spec's `epochs.max` and the time left cap them too); only a watermark that does not read yet trains past it. */
  maxEpochs?: number;
  /** Seconds before the commit deadline by which the commitment must be sent. */
  commitMarginSeconds: number;
  fetchTimeoutMs: number;
  /** Call `startNext` when a task it wants is queued and the market has room. */
  startTasks: boolean;
  /**
   * Dials `addresses` (a task document's providers) and the configured peers: before a document
   * is fetched (with none: a peer that was down at start may be up now) and before its shards.
   */
  dial?: (addresses: readonly string[]) => Promise<void>;
  /** Where training progress is drawn (default standard error). */
  progressStream?: Parameters<typeof createProgress>[0]["stream"];
}

export interface TaskData extends Record<string, unknown> {
  specCid: string;
  token: string;
  reward: string;
  keys?: { index: number; cidHash: string; key: string }[];
  /** The test shards' leaves from `TrainingDataUnlocked` (with the keys they rebuild the dataset commitment). */
  testLeaves?: string[];
  /** One epoch's measured seconds, and the epochs the spec and --max-epochs allow. */
  probe?: { epochSeconds: number; trainExamples: number; maxEpochs: number };
  workload?: { modelBytes: string; dataBytes: string; flops: string };
  reason?: string;
  commitment?: string;
  modelCid?: string;
}

export type ChainTask = Awaited<ReturnType<TaskMarket["getTask"]>>;

/** What every duty of the miner works with: its runtime and options, and the helpers they share. */
export interface MinerContext {
  readonly rt: AgentRuntime;
  readonly o: MinerOptions;
  readonly market: TaskMarket;
  /** The block-reward token, when the deployment names one. */
  readonly rewardToken: RewardToken | undefined;
  readonly address: string;
  /** The training engine (the option's, or TensorFlow.js worker threads on the backend). */
  readonly engine: TrainingEngine;
  /** Tasks training now, one per job slot. */
  readonly jobs: TrainingJobs;
  /** Seconds the last commitment took after training (hash, upload, transaction); 0 until measured. */
  postSeconds: number;
  /** Records a task's phase and data in the state. */
  set(taskId: bigint, phase: MinerPhase, data: TaskData): void;
  /** Logs a line and adds it to the step's report (the command's plain-words output). */
  say(taskId: bigint, message: string, level?: "info" | "warn" | "error", fields?: Record<string, unknown>): void;
  /** Logs how long a phase took since `started` (performance.now()). */
  timing(taskId: bigint, phase: string, started: number, extra?: Record<string, unknown>): void;
  /** Where progress bars are drawn. */
  stream(): { stream?: Parameters<typeof createProgress>[0]["stream"] };
  /** Whether the task document is cached already. */
  hasDocument(specCid: string): boolean;
  /** The task document, fetched once per CID. */
  document(specCid: string): Promise<TaskDocument>;
  /** The earliest timestamp a transaction sent now can land with (the runtime's clock). */
  nextTimestamp(): Promise<bigint>;
  /** --commit-margin, grown by what the commitment's RPC calls take at the measured latency and failure rate. */
  commitMargin(): number;
}
