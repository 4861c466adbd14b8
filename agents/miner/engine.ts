import { getNamedWeights } from "../ml/model.js";
import { checkTorch, trainTorch } from "../ml/engines/torch.js";
import { isMlError } from "../ml/errors.js";
import type { NamedTensors } from "../ml/init.js";
import type { TaskSpec } from "../ml/spec.js";
import { train } from "../ml/train.js";
import type { TrainOptions, TrainResult } from "../ml/train.js";

/**
 * Which engine trains the miner's models (issue 14): TensorFlow.js in this process, or PyTorch in a
 * Python worker (agents/ml/engines/torch.ts). Without --engine, torch is chosen when a CUDA-enabled
 * PyTorch is importable; --engine torch uses it on the CPU too; --engine tfjs forces the default.
 * Whatever the choice, the note says why, and a spec the torch engine cannot train (dropout) is
 * trained with tfjs, saying so. Both produce the same checkpoints and artifact v1.
 */

export const ENGINE_NAMES = ["torch", "tfjs"] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
export type MinerEngine = { name: "tfjs" } | { name: "torch"; python: string; device: string };

export async function chooseEngine(flag: EngineName | undefined, python?: string): Promise<{ engine: MinerEngine; note: string }> {
  if (flag === "tfjs") return { engine: { name: "tfjs" }, note: "training engine tfjs (--engine tfjs)" };
  const found = await checkTorch(python === undefined ? {} : { python });
  if (!found.ok) return { engine: { name: "tfjs" }, note: `training engine tfjs: ${flag === "torch" ? "--engine torch asked for PyTorch, but " : ""}${found.reason}` };
  const { check } = found.choice;
  const torch = { name: "torch" as const, python: found.choice.python, device: check.device };
  const where = `PyTorch ${check.torch} on ${check.gpu ?? check.device} via ${found.choice.python}`;
  if (flag === "torch") return { engine: torch, note: `training engine torch (${where})` };
  if (check.cuda) return { engine: torch, note: `training engine torch: ${where} (CUDA found; --engine tfjs to use TensorFlow.js)` };
  return { engine: { name: "tfjs" }, note: `training engine tfjs: ${where} has no CUDA (--engine torch to train with it on the CPU)` };
}

export type EngineRun = Pick<TrainResult, "weights" | "checkpoints" | "manifest" | "steps" | "hyper" | "history" | "trainMs">;

export type EngineTrainOptions = Omit<TrainOptions, "onProgress" | "stopAfterEpoch"> & {
  onProgress?: (e: { type: "epoch"; epoch: number; step: number; loss: number } | { type: "checkpoint" | "step" }) => void | Promise<void>;
  /** As train()'s, with the epoch's weights read on demand (a tf model, or the torch worker's file). */
  stopAfterEpoch?: (e: { epoch: number; step: number; weights: () => Promise<NamedTensors> }) => boolean | Promise<boolean>;
  /** Told why a torch miner trains this spec with tfjs. */
  onFallback?: (reason: string) => void;
};

export async function trainWithEngine(engine: MinerEngine, spec: TaskSpec, opts: EngineTrainOptions): Promise<EngineRun> {
  const { stopAfterEpoch, onFallback, ...rest } = opts;
  if (engine.name === "torch") {
    try {
      return await trainTorch(spec, {
        ...rest,
        python: engine.python,
        ...(stopAfterEpoch === undefined ? {} : { stopAfterEpoch: ({ epoch, step, weights }) => stopAfterEpoch({ epoch, step, weights: async () => weights }) }),
      });
    } catch (e) {
      if (!isMlError(e, "ENGINE_UNAVAILABLE")) throw e;
      onFallback?.(e.message);
    }
  }
  const run = await train(spec, {
    ...rest,
    ...(stopAfterEpoch === undefined ? {} : { stopAfterEpoch: ({ epoch, step, model }) => stopAfterEpoch({ epoch, step, weights: () => getNamedWeights(model) }) }),
  });
  run.model.dispose();
  return run;
}
