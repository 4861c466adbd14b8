import type { AgentRuntime } from "../core/runtime.js";
import type { Keeper } from "../keeper/index.js";
import type { Settlement, TaskMarket, ValidatorRegistry } from "../../types/index.js";

/** A shard key as the unlock events carry it (JSON-safe). */
export interface ShardKeyJson {
  index: number;
  cidHash: string;
  key: string;
}

/** One revealed submission, in reveal order, with the CID its `ModelRevealed` event named. */
export interface RevealedSubmission {
  miner: string;
  modelHash: string;
  checkpointRoot: string;
  /** Undefined when no `ModelRevealed` event of this miner was seen (scores 0). */
  modelCid: string | undefined;
}

/** Everything a scorer needs to check a task's submissions; all of it public once the test keys are out. */
export interface ScoringInput {
  taskId: bigint;
  round: number;
  /** The task seed (SML, init, watermark, batch order). */
  seed: string;
  /** The committee draw's seed (`CommitteeDrawn.seed`); picks the replayed segment. */
  seed2: string;
  specCid: string;
  trainKeys: ShardKeyJson[];
  testKeys: ShardKeyJson[];
  submissions: RevealedSubmission[];
}

/** One submission's verdict: accuracy in bps, or 0 with why. */
export interface Verdict {
  scoreBps: number;
  reason?: string;
  detail?: string;
}

/** Computes one verdict per submission, in order. Must not throw for a bad submission. */
export type Scorer = (input: ScoringInput) => Promise<Verdict[]>;

/** Fetches a task's public data (document, shard ciphertexts) ahead of any committee duty. */
export type Prefetcher = (task: { taskId: bigint; specCid: string }) => Promise<void>;

/** What the verifier keeps about a round it watches. */
export interface RoundRecord {
  members?: string[];
  seed2?: string;
  commitDeadline?: number;
  revealDeadline?: number;
  committed?: boolean;
  revealed?: boolean;
  /** Set when a window closed before we could act; logged once. */
  missed?: string;
}

/** The verifier's record of a task (`tasks.data` in its state). */
export interface TaskData {
  specCid?: string;
  token?: string;
  trainKeys?: ShardKeyJson[];
  testKeys?: ShardKeyJson[];
  /** Model CID per miner (checksummed address), from `ModelRevealed`. */
  cids?: Record<string, string>;
  rounds?: Record<string, RoundRecord>;
  /** The market phase it ended in. */
  ended?: string;
}

/** The verifier's own phase of a task. */
export type VerifierPhase = "watching" | "done";

export interface VerifierOptions {
  market: string;
  settlement: string;
  registry: string;
  startBlock: number;
  scorer: Scorer;
  /** Runs in the background once per task and process, from the start of the task on. */
  prefetch?: Prefetcher;
  /** Act as keeper: draw, finalize and call the market's timeouts when they are due. */
  keeper: boolean;
  /**
   * How long a keeper call must have been due before a validator other than the task's designated
   * keeper sends it (ms). Keepers that all send at once pay for reverts; 0 sends at once.
   */
  keeperGraceMs: number;
}

/** What every duty of the verifier works with: its runtime, options, contracts and state helpers. */
export interface VerifierContext {
  readonly rt: AgentRuntime;
  readonly o: VerifierOptions;
  readonly market: TaskMarket;
  readonly settlement: Settlement;
  readonly registry: ValidatorRegistry;
  /** This validator's address. */
  readonly me: string;
  readonly keeper: Keeper;
  /** Tasks whose prefetch this process started (and that did not fail). */
  readonly prefetched: Set<bigint>;
  /** The task's record in the state. */
  data(taskId: bigint): TaskData | undefined;
  /** Merges `patch` into the task's record (a task first seen through a later event is followed too). */
  merge(taskId: bigint, patch: Partial<TaskData>): void;
  /** Merges `patch` into one round of the task's record. */
  mergeRound(taskId: bigint, round: number, patch: RoundRecord): void;
  /** Reads the events up to the chain's head into the state. */
  follow(): Promise<unknown>;
}
