import type { Checkpoint, CheckpointManifest } from "./checkpoints.js";
import type { Dataset } from "./datasets/dataset.js";
import type { NamedTensors } from "./init.js";
import type { TaskSpec } from "./spec.js";

/**
 * A training engine: what trains a task's model, behind one framework-neutral contract so that the
 * agents do not care whether TensorFlow.js in a worker thread (engines/tfjs-worker.ts) or PyTorch in
 * a child process does the arithmetic. Everything crossing it is plain data: the task spec, the
 * decrypted dataset, seeds, hyperparameters, a declarative stop rule; float32 tensors by name
 * (`NamedTensors`, row-major) for checkpoints and weights. No framework type appears here.
 *
 * An engine must: initialise from `initialWeights` (seeded, bit-exact), draw batches in the keccak
 * order of order.ts, apply the watermark regulariser, take a checkpoint at step 0, every
 * `spec.checkpointEvery` steps and after the last step, and decide after each epoch with
 * `shouldStop` (stop-rule.ts) — the same rule on every engine, so the epochs trained depend on the
 * rule and the measured epoch times only. docs/ml.md, "Training engines".
 */

export type Hyper = { batchSize: number; learningRate: number; epochs: number };

/**
 * When to stop, asked after each epoch but the last of `maxEpochs`:
 *  - `epochs`: train at least this many unless the budget runs out (the miner's --max-epochs cap);
 *  - `deadline`: wall-clock time (ms since the Unix epoch, as Date.now()) by which training must
 *    have ended; another epoch starts only while the slowest of the last `epochWindow` epochs,
 *    times `safety`, still ends before it (a wall-clock instant, so a worker that took a while to
 *    start, in any language, reads the same budget);
 *  - `untilWatermark`: past `epochs`, go on (up to `maxEpochs`, within the budget) until the
 *    model's own watermark reads (a model whose watermark does not read scores 0).
 * With neither a budget nor `untilWatermark`, training runs exactly `epochs` epochs.
 */
export type StopRule = {
  epochs: number;
  maxEpochs: number;
  deadline?: number;
  epochWindow?: number;
  safety?: number;
  untilWatermark?: boolean;
};

/**
 * Why training ended: the epochs asked for (`epochs`, and past them the watermark once it read; or
 * `maxEpochs`), or the deadline. `hyper.epochs` in the result says how many it trained.
 */
export type StopReason = "epochs.max" | "deadline";

export type TrainJob = {
  spec: TaskSpec;
  data: Dataset;
  /** The task seed (bytes32 hex) and the miner's address. */
  seed: string;
  miner: string;
  /** Defaults from the spec (its fixed or minimum batch size and learning rate); `epochs` is taken from `stop.maxEpochs`. */
  hyper?: Partial<Omit<Hyper, "epochs">>;
  /** Defaults to spec.watermark.strength. */
  watermarkStrength?: number;
  stop: StopRule;
  /** Read the loss back every this many steps for `step` events; 0 (default): per epoch only. */
  lossEvery?: number;
};

export type EngineEvent =
  | { type: "step"; step: number; epoch: number; loss: number | undefined }
  | { type: "epoch"; epoch: number; step: number; loss: number; elapsedMs: number }
  /** A checkpoint as it is taken; the same objects come back in the result, in order. */
  | { type: "checkpoint"; checkpoint: Checkpoint };

export type EngineResult = {
  /** Final weights, the SML included. */
  weights: NamedTensors;
  checkpoints: Checkpoint[];
  manifest: CheckpointManifest;
  steps: number;
  /** What was trained: `epochs` is the number of epochs actually run. */
  hyper: Hyper;
  history: { epoch: number; loss: number }[];
  trainMs: number;
  stopped: StopReason;
  /** The engine's own words for where it ran (e.g. "tfjs wasm, worker thread"). */
  backend: string;
};

export type Throughput = { samples: number; seconds: number; samplesPerSecond: number };

export interface TrainingEngine {
  readonly name: string;
  /**
   * Trains one job. `signal` cancels it (at the commit deadline): the engine stops computing
   * promptly and the promise rejects with the signal's reason. Jobs may run concurrently, each on
   * its own worker.
   */
  train(job: TrainJob, options?: { signal?: AbortSignal; onEvent?: (e: EngineEvent) => void }): Promise<EngineResult>;
  /** Training speed of `spec` on random data: `batches` timed batches after one warm-up batch. */
  throughput(spec: TaskSpec, batches: number, options?: { signal?: AbortSignal }): Promise<Throughput>;
  /** Ends every worker. */
  close(): Promise<void>;
}
