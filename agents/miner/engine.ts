import type { BackendName } from "../ml/backend.js";
import type { TrainingEngine } from "../ml/engine.js";
import { TfjsWorkerEngine } from "../ml/engines/tfjs-worker.js";
import { TorchEngine } from "../ml/engines/torch-engine.js";
import { checkTorch } from "../ml/engines/torch.js";

/**
 * Which engine trains the miner's models (issue 14): TensorFlow.js in worker threads, or PyTorch in
 * a Python worker (agents/ml/engines/torch-engine.ts). Without --engine, torch is chosen when a
 * CUDA-enabled PyTorch is importable; --engine torch uses it on the CPU too; --engine tfjs forces the
 * default. Whatever the choice, the note says why, and a spec the torch engine cannot train
 * (dropout) is trained with tfjs, saying so. Both produce the same checkpoints and artifact v1.
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

/**
 * The TrainingEngine for a choice: undefined for tfjs (the miner starts its own worker threads on
 * `backend`), a TorchEngine falling back to tfjs worker threads otherwise.
 */
export function buildEngine(choice: MinerEngine, backend: BackendName, onFallback: (reason: string) => void): TrainingEngine | undefined {
  if (choice.name === "tfjs") return undefined;
  return new TorchEngine({ python: choice.python, device: choice.device === "cuda" ? "cuda" : "cpu" }, new TfjsWorkerEngine(backend), onFallback);
}
