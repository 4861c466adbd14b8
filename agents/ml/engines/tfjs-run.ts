import type { EngineEvent, EngineResult, TrainJob } from "../engine.js";
import { getNamedWeights } from "../model.js";
import { createStopper } from "../stop-rule.js";
import { train, type ProgressEvent } from "../train.js";
import { watermarkReader } from "../watermark.js";

/**
 * One TrainJob on today's TensorFlow.js train(), on whichever backend is active in this thread
 * (the worker selects it). The stop rule is decided here, next to the model, from its weights.
 * Checkpoints leave only through `emit` (whose listener may take their buffers), not the result.
 */
export async function runTfjsJob(job: TrainJob, backend: string, emit: (e: EngineEvent) => void): Promise<Omit<EngineResult, "checkpoints">> {
  const { spec, stop } = job;
  const stopper = createStopper(stop, stop.untilWatermark ? watermarkReader(spec, job.seed, job.miner) : undefined);
  let reason: EngineResult["stopped"] | undefined;
  stopper.start();
  const run = await train(spec, {
    seed: job.seed,
    miner: job.miner,
    data: job.data,
    hyper: { ...job.hyper, epochs: stop.maxEpochs },
    ...(job.watermarkStrength === undefined ? {} : { watermarkStrength: job.watermarkStrength }),
    ...(job.lossEvery === undefined ? {} : { lossEvery: job.lossEvery }),
    onProgress: (e: ProgressEvent) => {
      if (e.type === "step") emit(e);
      else if (e.type === "epoch") emit({ type: "epoch", epoch: e.epoch, step: e.step, loss: e.loss, elapsedMs: e.elapsedMs });
      else emit({ type: "checkpoint", checkpoint: e.checkpoint });
    },
    stopAfterEpoch: async ({ epoch, model }) => {
      const decision = await stopper.afterEpoch(epoch + 1, () => getNamedWeights(model));
      if (decision.stop) reason = decision.reason;
      return decision.stop;
    },
  });
  run.model.dispose();
  return {
    weights: run.weights,
    manifest: run.manifest,
    steps: run.steps,
    hyper: run.hyper,
    history: run.history,
    trainMs: run.trainMs,
    stopped: reason ?? "epochs.max",
    backend: `tfjs ${backend}`,
  };
}
