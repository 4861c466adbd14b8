import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildManifest, decodeCheckpoint, encodeCheckpoint } from "../checkpoints.js";
import type { Checkpoint, CheckpointManifest } from "../checkpoints.js";
import type { Dataset } from "../datasets/dataset.js";
import { MlError } from "../errors.js";
import { initialWeights } from "../init.js";
import type { NamedTensors } from "../init.js";
import type { ReplayedState } from "../replay.js";
import { epochPermutation, stepsPerEpoch } from "../order.js";
import { generateSml } from "../sml.js";
import { weightLayout } from "../spec.js";
import type { TaskSpec } from "../spec.js";
import { decodeTensors, encodeTensors } from "../tensors.js";
import type { Tensor } from "../tensors.js";
import { resolveHyper } from "../train.js";
import type { Hyper } from "../train.js";
import { watermarkKey, watermarkTensorName } from "../watermark.js";
import { findPython, TorchWorker } from "./torch-python.js";
import type { PythonChoice, PythonOptions } from "./torch-python.js";

/**
 * The PyTorch engine, TypeScript side: the same training as train() in agents/ml/train.ts, run by
 * the Python worker in engines/torch/. Everything keyed by keccak is computed here and handed over
 * as tensors (seeded init, the SML, the watermark key, each epoch's batch order), so the worker
 * needs no keccak and starts from bit-identical weights; it returns podl-checkpoint/1 files, which
 * are hashed here into the same manifest and artifact v1 as the tfjs engine's. Exchange files live
 * in a temporary folder removed afterwards.
 */

export type TorchTrainOptions = PythonOptions & {
  seed: string;
  miner: string;
  data: Dataset;
  hyper?: Partial<Hyper>;
  /** Defaults to spec.watermark.strength. */
  watermarkStrength?: number;
  /** A worker already started (replay and tests reuse one); otherwise one is started and closed. */
  worker?: { python: string };
  /** Epoch events carry the worker's wall and CPU milliseconds since it started training. */
  onProgress?: (e: { type: "checkpoint"; i: number; step: number } | { type: "epoch"; epoch: number; step: number; loss: number; elapsedMs: number; cpuMs: number }) => void | Promise<void>;
  /** As train()'s, given the epoch's weights (SML excluded) instead of a live tf model. */
  stopAfterEpoch?: (e: { epoch: number; step: number; weights: NamedTensors }) => boolean | Promise<boolean>;
  /** Ends the worker and rejects with the signal's reason (the miner's commit deadline). */
  signal?: AbortSignal;
};

export type TorchTrainResult = {
  weights: NamedTensors;
  checkpoints: Checkpoint[];
  manifest: CheckpointManifest;
  steps: number;
  hyper: Hyper;
  history: { epoch: number; loss: number }[];
  trainMs: number;
  python: PythonChoice;
};

/** Whether the torch engine can run here, and with which interpreter (never throws). */
export async function checkTorch(opts: PythonOptions = {}): Promise<{ ok: true; choice: PythonChoice } | { ok: false; reason: string }> {
  try {
    return { ok: true, choice: await findPython(opts) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/** Trains `spec` with PyTorch: the result has train()'s shape, less the tf model. */
export async function trainTorch(spec: TaskSpec, opts: TorchTrainOptions): Promise<TorchTrainResult> {
  const started = performance.now();
  const hyper = resolveHyper(spec, opts.hyper);
  const python = await findPython(opts);
  const dir = await mkdtemp(join(tmpdir(), "podl-torch-"));
  const worker = new TorchWorker(python.python, opts);
  const abort = () => worker.close();
  opts.signal?.addEventListener("abort", abort, { once: true });
  try {
    opts.signal?.throwIfAborted();
    const { data } = opts;
    const input = sessionInputs(spec, opts, hyper, data, data.n, Array.from({ length: hyper.epochs }, (_, e) => e));
    input.set("sml.kernel", f32(generateSml(opts.seed, spec.sml, spec.input.shape)));
    for (const [name, t] of initialWeights(opts.seed, opts.miner, weightLayout(spec), new Set(["sml.kernel"]))) input.set(name, f32(t));
    await writeFile(join(dir, "input.safetensors"), encodeTensors(input));
    const strength = opts.watermarkStrength ?? spec.watermark.strength;
    worker.send({ cmd: "train", spec, hyper, strength, input: join(dir, "input.safetensors"), outDir: dir, askAfterEpoch: opts.stopAfterEpoch !== undefined });
    const checkpoints: Checkpoint[] = [];
    const history: { epoch: number; loss: number }[] = [];
    for (;;) {
      const m = await worker.next();
      if (m.type === "checkpoint") {
        checkpoints.push(decodeCheckpoint(await readFile(String(m.path))));
        await opts.onProgress?.({ type: "checkpoint", i: Number(m.i), step: Number(m.step) });
      } else if (m.type === "epoch") {
        const e = { epoch: Number(m.epoch), step: Number(m.step), loss: Number(m.loss), elapsedMs: Number(m.elapsedMs), cpuMs: Number(m.cpuMs) };
        history.push({ epoch: e.epoch, loss: e.loss });
        await opts.onProgress?.({ type: "epoch", ...e });
        if (m.weights !== undefined) {
          const stop = await opts.stopAfterEpoch!({ epoch: e.epoch, step: e.step, weights: await readNamed(String(m.weights), spec) });
          worker.send({ cmd: stop ? "stop" : "continue" });
        }
      } else if (m.type === "done") {
        const trained = await readNamed(String(m.weights), spec);
        const weights: NamedTensors = new Map([["sml.kernel", generateSml(opts.seed, spec.sml, spec.input.shape)], ...trained]);
        const epochs = Number(m.epochs);
        return {
          weights,
          checkpoints,
          manifest: buildManifest(checkpoints, spec.checkpointEvery),
          steps: Number(m.steps),
          hyper: { ...hyper, epochs },
          history,
          trainMs: performance.now() - started,
          python,
        };
      } else throw new MlError("ENGINE_FAILED", `torch worker: unexpected message ${m.type}`);
    }
  } catch (e) {
    opts.signal?.throwIfAborted();
    throw e;
  } finally {
    opts.signal?.removeEventListener("abort", abort);
    worker.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * replaySegments (agents/ml/replay.ts) with PyTorch: the weights reached by re-running each segment
 * from its checkpoint. Only the rows the segments' batches use are sent.
 */
export async function replayTorch(
  spec: TaskSpec,
  opts: PythonOptions & { seed: string; miner: string; data: Dataset; hyper: Hyper; watermarkStrength?: number },
  segments: readonly { from: Checkpoint; toStep: number }[],
): Promise<ReplayedState[]> {
  const { data, hyper } = opts;
  const perEpoch = stepsPerEpoch(data.n, hyper.batchSize);
  const epochs = [...new Set(segments.flatMap(({ from, toStep }) => Array.from({ length: toStep - from.step }, (_, k) => Math.floor((from.step + k) / perEpoch))))];
  const perms = new Map(epochs.map((e) => [e, epochPermutation(opts.seed, opts.miner, e, data.n)]));
  const used = new Uint8Array(data.n);
  for (const { from, toStep } of segments) {
    for (let step = from.step; step < toStep; step++) {
      const start = (step % perEpoch) * hyper.batchSize;
      for (const r of perms.get(Math.floor(step / perEpoch))!.subarray(start, Math.min(start + hyper.batchSize, data.n))) used[r] = 1;
    }
  }
  const rows = Uint32Array.from(used.keys()).filter((r) => used[r] === 1);
  const size = data.inputShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(rows.length * size);
  rows.forEach((r, k) => x.set(data.x.subarray(r * size, (r + 1) * size), k * size));
  const subset: Dataset = { ...data, x, y: Int32Array.from(rows, (r) => data.y[r]!), n: rows.length };
  const local = new Int32Array(data.n).fill(-1);
  rows.forEach((r, k) => (local[r] = k));

  const python = await findPython(opts);
  const dir = await mkdtemp(join(tmpdir(), "podl-torch-"));
  const worker = new TorchWorker(python.python, opts);
  try {
    const input = sessionInputs(spec, opts, hyper, subset, data.n, [], perms, local);
    input.set("sml.kernel", f32(generateSml(opts.seed, spec.sml, spec.input.shape)));
    // The session wants every tensor; the segments' checkpoints overwrite all but the SML.
    for (const [name, t] of segments[0]!.from.weights) input.set(name, f32(t));
    await writeFile(join(dir, "input.safetensors"), encodeTensors(input));
    const files = await Promise.all(
      segments.map(async ({ from, toStep }, k) => {
        const path = join(dir, `from-${k}.safetensors`);
        await writeFile(path, encodeCheckpoint(from));
        return { from: path, toStep };
      }),
    );
    worker.send({ cmd: "replay", spec, hyper, strength: opts.watermarkStrength ?? spec.watermark.strength, input: join(dir, "input.safetensors"), segments: files, outDir: dir });
    const m = await worker.next();
    if (m.type !== "replayed") throw new MlError("ENGINE_FAILED", `torch worker: unexpected message ${m.type}`);
    return await Promise.all((m.paths as string[]).map(async (p) => {
      const { weights, optimizer } = decodeCheckpoint(await readFile(p));
      return { weights, optimizer };
    }));
  } finally {
    worker.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The model's softmax outputs for `x` ([n, ...input]) with PyTorch, on the given weights (SML included). */
export async function forwardTorch(spec: TaskSpec, weights: NamedTensors, x: Float32Array, n: number, opts: PythonOptions = {}): Promise<Float32Array> {
  const python = await findPython(opts);
  const dir = await mkdtemp(join(tmpdir(), "podl-torch-"));
  const worker = new TorchWorker(python.python, opts);
  try {
    const w = new Map<string, Tensor>([...weights].map(([name, t]) => [name, f32(t)]));
    await writeFile(join(dir, "weights.safetensors"), encodeTensors(w));
    await writeFile(join(dir, "x.safetensors"), encodeTensors(new Map([["x", { dtype: "F32", shape: [n, ...spec.input.shape], data: x }]])));
    worker.send({ cmd: "forward", spec, weights: join(dir, "weights.safetensors"), x: join(dir, "x.safetensors"), out: join(dir, "y.safetensors") });
    const m = await worker.next();
    const { tensors } = decodeTensors(await readFile(String(m.path)), { maxBytes: 1 << 30 });
    return tensors.get("y")!.data as Float32Array;
  } finally {
    worker.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Data, labels, watermark key and batch orders (mapped through `local` for a row subset). */
function sessionInputs(
  spec: TaskSpec,
  opts: { seed: string; miner: string },
  hyper: Hyper,
  data: Dataset,
  fullN: number,
  epochs: number[],
  perms?: Map<number, Uint32Array>,
  local?: Int32Array,
): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  m.set("x", { dtype: "F32", shape: [data.n, ...data.inputShape], data: data.x });
  m.set("y", { dtype: "I32", shape: [data.n], data: data.y });
  m.set("meta.n", { dtype: "I32", shape: [1], data: Int32Array.of(fullN) });
  const kernel = weightLayout(spec).find((w) => w.name === watermarkTensorName(spec))!;
  const key = watermarkKey(opts.seed, opts.miner, spec.watermark.bits, kernel.shape);
  m.set("watermark.x", { dtype: "F32", shape: [key.rows, key.cols], data: key.projection });
  m.set("watermark.b", { dtype: "F32", shape: [key.rows], data: Float32Array.from(key.bits, (v) => 2 * v - 1) });
  for (const e of epochs) m.set(`order.${e}`, { dtype: "I32", shape: [fullN], data: Int32Array.from(epochPermutation(opts.seed, opts.miner, e, fullN)) });
  for (const [e, perm] of perms ?? []) m.set(`order.${e}`, { dtype: "I32", shape: [fullN], data: Int32Array.from(perm, (r) => local![r]!) });
  void hyper;
  return m;
}

async function readNamed(path: string, spec: TaskSpec): Promise<NamedTensors> {
  const { tensors } = decodeTensors(await readFile(path), { maxBytes: 1 << 30 });
  const out: NamedTensors = new Map();
  for (const w of weightLayout(spec)) {
    const t = tensors.get(w.name);
    if (t !== undefined) out.set(w.name, { shape: t.shape, data: t.data as Float32Array });
  }
  return out;
}

function f32(t: { shape: number[]; data: Float32Array }): Tensor {
  return { dtype: "F32", shape: t.shape, data: t.data };
}
