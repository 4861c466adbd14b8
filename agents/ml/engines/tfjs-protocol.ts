import type { BackendName } from "../backend.js";
import type { EngineEvent, EngineResult, Throughput, TrainJob } from "../engine.js";
import type { TaskSpec } from "../spec.js";

/** Messages between engines/tfjs-worker.ts and its worker threads (tfjs-worker-main.ts). */

export type Request =
  | { type: "train"; id: number; backend: BackendName; job: TrainJob }
  | { type: "throughput"; id: number; backend: BackendName; spec: TaskSpec; batches: number }
  /** Loads and starts the backend, so that the first real request does not pay for it. */
  | { type: "warm"; id: number; backend: BackendName };

export type WorkerError = { name: string; message: string; code?: string; stack?: string };

export type Reply =
  | { type: "event"; id: number; event: EngineEvent }
  | { type: "done"; id: number; value: Omit<EngineResult, "checkpoints"> | Throughput | null }
  | { type: "error"; id: number; error: WorkerError };
