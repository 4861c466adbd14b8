import type { EngineEvent, EngineResult, TrainJob, TrainingEngine, Throughput } from "../engine.js";
import { MlError, isMlError } from "../errors.js";
import { fixedOrMin, type TaskSpec } from "../spec.js";
import { createStopper } from "../stop-rule.js";
import { watermarkReader } from "../watermark.js";
import { trainTorch } from "./torch.js";
import type { PythonOptions } from "./torch-python.js";

/**
 * The PyTorch engine behind the TrainingEngine contract (agents/ml/engine.ts): each job runs
 * trainTorch (a Python worker process) with the shared stop rule (stop-rule.ts) answered from the
 * epoch's weights, so the epochs trained follow the same rule as on tfjs. A spec the torch worker
 * cannot train (ENGINE_UNAVAILABLE: dropout in training) goes to `fallback`, saying why.
 */
export class TorchEngine implements TrainingEngine {
  readonly name = "torch";
  readonly #python: PythonOptions;
  readonly #fallback: TrainingEngine;
  readonly #onFallback: (reason: string) => void;

  constructor(python: PythonOptions & { python: string }, fallback: TrainingEngine, onFallback: (reason: string) => void = () => {}) {
    this.#python = python;
    this.#fallback = fallback;
    this.#onFallback = onFallback;
  }

  async train(job: TrainJob, options: { signal?: AbortSignal; onEvent?: (e: EngineEvent) => void } = {}): Promise<EngineResult> {
    const { spec, stop } = job;
    const read = watermarkReader(spec, job.seed, job.miner);
    const stopper = createStopper(stop, stop.untilWatermark ? read : undefined);
    let stopped: EngineResult["stopped"] = "epochs.max";
    try {
      stopper.start();
      const run = await trainTorch(spec, {
        ...this.#python,
        seed: job.seed,
        miner: job.miner,
        data: job.data,
        hyper: { ...job.hyper, epochs: stop.maxEpochs },
        ...(job.watermarkStrength === undefined ? {} : { watermarkStrength: job.watermarkStrength }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        onProgress: (e) => {
          // The first epoch is timed from checkpoint 0, not from the spawn: Python's start and
          // torch's import (seconds) are no epoch, and counted as one they stopped a 30 s Iris task
          // after one epoch ("deadline") in the torch demo.
          if (e.type === "checkpoint" && e.i === 0) stopper.start();
          if (e.type === "epoch") options.onEvent?.({ type: "epoch", epoch: e.epoch, step: e.step, loss: e.loss, elapsedMs: e.elapsedMs });
        },
        stopAfterEpoch: async ({ epoch, weights }) => {
          const decision = await stopper.afterEpoch(epoch + 1, async () => weights);
          if (decision.stop) stopped = decision.reason;
          return decision.stop;
        },
      });
      for (const checkpoint of run.checkpoints) options.onEvent?.({ type: "checkpoint", checkpoint });
      const { python, ...result } = run;
      return { ...result, stopped, backend: `torch ${python.check.torch} on ${python.check.gpu ?? python.check.device} (${python.python})` };
    } catch (e) {
      if (!isMlError(e, "ENGINE_UNAVAILABLE")) throw e;
      this.#onFallback(e.message);
      return await this.#fallback.train(job, options);
    }
  }

  /** Samples per second of the second of two epochs over `batches` batches of random data (the worker's start-up not counted). */
  async throughput(spec: TaskSpec, batches: number, options: { signal?: AbortSignal } = {}): Promise<Throughput> {
    const batch = fixedOrMin(spec.batchSize);
    const n = Math.max(1, batches) * batch;
    const size = spec.input.shape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n * size }, (_, i) => ((i * 2654435761) % 1000) / 1000);
    const y = Int32Array.from({ length: n }, (_, i) => i % spec.classes);
    const marks: number[] = [];
    try {
      await trainTorch(spec, {
        ...this.#python,
        seed: `0x${"11".repeat(32)}`,
        miner: `0x${"22".repeat(20)}`,
        data: { x, y, n, inputShape: spec.input.shape, classes: spec.classes },
        hyper: { epochs: 2 },
        watermarkStrength: 0,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        onProgress: (e) => {
          if (e.type === "epoch") marks.push(e.elapsedMs);
        },
      });
    } catch (e) {
      if (!isMlError(e, "ENGINE_UNAVAILABLE")) throw e;
      return await this.#fallback.throughput(spec, batches, options);
    }
    if (marks.length < 2) throw new MlError("ENGINE_FAILED", "torch worker: the throughput run reported fewer than two epochs");
    const seconds = Math.max(1e-6, (marks[1]! - marks[0]!) / 1000);
    return { samples: n, seconds, samplesPerSecond: n / seconds };
  }

  async close(): Promise<void> {
    await this.#fallback.close();
  }
}

