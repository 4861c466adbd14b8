import { createRequire } from "node:module";
import { dirname } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { MlError } from "./errors.js";
import { initialWeights } from "./init.js";
import { buildModel } from "./model.js";
import { generateSml } from "./sml.js";
import { registerWasmConvGrads } from "./wasm-conv-grads.js";
import { registerWasmMaxPoolGrad } from "./wasm-max-pool-grad.js";
import { fixedOrMin, weightLayout } from "./spec.js";
import type { TaskSpec } from "./spec.js";

/**
 * TensorFlow.js backend choice (DESIGN §9): tensorflow (tfjs-node-gpu, then tfjs-node) → webgpu
 * (Dawn through the `webgpu` package) → wasm → cpu. Each is tried only if its packages are
 * installed; `force` picks one and fails loudly instead of falling back. The automatic choice
 * skips a WebGPU fallback adapter (a software rasteriser such as Mesa's lavapipe: MNIST trains
 * about ten times slower on it than on wasm, bench/results/ml.md); forcing webgpu still uses it.
 * Starting wasm registers the convolution filter gradient its package lacks, a faster input
 * gradient (wasm-conv-grads.ts) and a correct max-pooling gradient (wasm-max-pool-grad.ts). A
 * backend that lacks a kernel the spec needs for training is skipped, or refused with
 * BACKEND_UNSUPPORTED_OP when forced. The backend is TensorFlow.js global state: only an
 * entry point (CLI, bench) should call selectBackend.
 */

export const BACKEND_NAMES = ["tensorflow", "webgpu", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = { name: BackendName; reason: string };
export type BackendLog = { info(fields: object, message: string): void };

type Candidate = { name: BackendName; label: string; start: (forced: boolean) => Promise<void> };

const require = createRequire(import.meta.url);

const CANDIDATES: Candidate[] = [
  { name: "tensorflow", label: "@tensorflow/tfjs-node-gpu (CUDA)", start: () => importPackage("@tensorflow/tfjs-node-gpu") },
  { name: "tensorflow", label: "@tensorflow/tfjs-node", start: () => importPackage("@tensorflow/tfjs-node") },
  { name: "webgpu", label: "webgpu (Dawn)", start: startWebGpu },
  { name: "wasm", label: "@tensorflow/tfjs-backend-wasm", start: startWasm },
  { name: "cpu", label: "@tensorflow/tfjs-backend-cpu", start: async () => {} },
];

/**
 * Chooses and activates a backend. Without `force`, the first installed backend that starts and
 * has every kernel `spec` needs wins (cpu always qualifies); the decision and every skipped
 * candidate are logged. With `force`, that backend or an MlError: BACKEND_UNAVAILABLE (not
 * installed, no adapter, failed to start) or BACKEND_UNSUPPORTED_OP (a missing kernel).
 */
export async function selectBackend(opts: { force?: BackendName; spec?: TaskSpec; log?: BackendLog } = {}): Promise<BackendChoice> {
  const candidates = CANDIDATES.filter((c) => opts.force === undefined || c.name === opts.force);
  if (candidates.length === 0) {
    throw new MlError("BACKEND_UNAVAILABLE", `unknown backend ${JSON.stringify(opts.force)} (expected ${BACKEND_NAMES.join(", ")})`);
  }
  const skipped: { backend: string; why: string }[] = [];
  for (const c of candidates) {
    try {
      await c.start(opts.force !== undefined);
    } catch (cause) {
      skipped.push({ backend: c.label, why: (cause as Error).message });
      continue;
    }
    const missing = opts.spec === undefined ? [] : missingKernels(opts.spec, c.name);
    if (missing.length > 0) {
      const why = `lacks ${missing.join(", ")}, which ${opts.spec!.name} needs for training`;
      if (opts.force !== undefined) {
        throw new MlError("BACKEND_UNSUPPORTED_OP", `backend ${c.name} ${why}`, { context: { backend: c.name, missing } });
      }
      skipped.push({ backend: c.label, why });
      continue;
    }
    const failure = await activate(c.name);
    if (failure !== null) {
      skipped.push({ backend: c.label, why: `failed to initialise: ${failure}` });
      continue;
    }
    const reason = opts.force !== undefined ? `forced (${c.label})` : `first available in order (${c.label})`;
    opts.log?.info({ backend: c.name, reason, skipped }, `TensorFlow.js backend: ${c.name}`);
    return { name: c.name, reason };
  }
  throw new MlError("BACKEND_UNAVAILABLE", `backend ${opts.force} is not usable: ${skipped.map((s) => `${s.backend}: ${s.why}`).join("; ")}`, {
    context: { backend: opts.force, skipped },
  });
}

/**
 * The kernels a spec's training needs that have no fallback in TensorFlow.js's gradient code,
 * minus those `backend` registers. Empty: the backend can train the spec.
 */
export function missingKernels(spec: TaskSpec, backend: BackendName): string[] {
  const needed = new Set<string>(["BatchMatMul", "Softmax"]);
  if (spec.sml.kind === "conv") needed.add("Conv2D").add("Conv2DBackpropInput");
  for (const l of spec.layers) {
    if (l.type === "conv2d") needed.add("Conv2D").add("Conv2DBackpropFilter").add("Conv2DBackpropInput");
    if (l.type === "maxPooling2d") needed.add("MaxPool").add("MaxPoolGrad");
    if (l.type === "batchNormalization") needed.add("FusedBatchNorm");
    if (l.type === "dense" || l.type === "conv2d") {
      if (l.activation === "relu") needed.add("Relu");
      if (l.activation === "elu") needed.add("Elu").add("EluGrad");
    }
  }
  const have = new Set(tf.getKernelsForBackend(backend).map((k) => k.kernelName));
  return [...needed].filter((k) => !have.has(k)).sort();
}

export type Throughput = { backend: BackendName; samples: number; seconds: number; samplesPerSecond: number };

/**
 * Training throughput of `spec` on `backend`: the real model (SML, seeded init) compiled with the
 * spec's optimizer, `samples` random examples in batches of the spec's batch size, one
 * trainOnBatch per batch (each reads its loss back, as the training loop does). One warm-up
 * batch (shader compilation, kernel set-up) is not timed. Restores the previous backend.
 */
export async function measureThroughput(spec: TaskSpec, backend: BackendName, samples: number): Promise<Throughput> {
  const previous = tf.getBackend();
  await selectBackend({ force: backend, spec });
  const batchSize = fixedOrMin(spec.batchSize);
  const seed = `0x${"5e".repeat(32)}`;
  const model = buildModel(spec, {
    smlWeights: generateSml(seed, spec.sml, spec.input.shape),
    initialWeights: initialWeights(seed, `0x${"00".repeat(20)}`, weightLayout(spec), new Set(["sml.kernel"])),
  });
  const learningRate = fixedOrMin(spec.optimizer.learningRate);
  const optimizer = { sgd: () => tf.train.sgd(learningRate), adam: () => tf.train.adam(learningRate), rmsprop: () => tf.train.rmsprop(learningRate) }[spec.optimizer.name]();
  model.compile({ optimizer, loss: spec.loss });
  const x = tf.randomUniform([batchSize, ...spec.input.shape], 0, 1, "float32", 1);
  const y = tf.tidy(() => tf.randomUniform([batchSize], 0, spec.classes, "float32", 2).floor());
  try {
    await model.trainOnBatch(x, y);
    const batches = Math.max(1, Math.ceil(samples / batchSize));
    const start = performance.now();
    for (let b = 0; b < batches; b++) await model.trainOnBatch(x, y);
    const seconds = (performance.now() - start) / 1000;
    return { backend, samples: batches * batchSize, seconds, samplesPerSecond: (batches * batchSize) / seconds };
  } finally {
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
    if (previous) await tf.setBackend(previous);
  }
}

let gpu: GPU | undefined;

/**
 * Describes the WebGPU adapter Dawn finds (e.g. lavapipe), or says why there is none. `fallback`:
 * the adapter says it is a fallback adapter, which Dawn reports for a CPU (software) device; the
 * current WebGPU spec has the flag on `adapter.info` (where Dawn 0.6 puts it), older ones on the
 * adapter itself.
 */
export async function probeWebGpu(): Promise<{ adapter: string; fallback: boolean } | { adapter: null; reason: string }> {
  try {
    const adapter = await (await installNavigatorGpu()).requestAdapter();
    if (adapter === null) return { adapter: null, reason: "Dawn found no WebGPU adapter (no GPU driver; install lavapipe with scripts/setup-webgpu.sh)" };
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const fallback = info.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
    return { adapter: `${info.vendor} ${info.architecture} ${info.description}`.trim(), fallback };
  } catch (cause) {
    return { adapter: null, reason: `the webgpu package did not load: ${(cause as Error).message}` };
  }
}

/** Puts Dawn's WebGPU on globalThis, where @tensorflow/tfjs-backend-webgpu looks for it. */
async function installNavigatorGpu(): Promise<GPU> {
  if (gpu !== undefined) return gpu;
  const { create, globals } = await import("webgpu");
  Object.assign(globalThis, globals);
  gpu = create([]);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav === undefined) Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  else Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
  return gpu;
}

async function startWebGpu(forced: boolean): Promise<void> {
  const probe = await probeWebGpu();
  if (probe.adapter === null) throw new Error(probe.reason);
  if (probe.fallback && !forced) {
    throw new Error(`adapter "${probe.adapter}" is a fallback (software, CPU) adapter, slower than wasm or cpu; --backend webgpu forces it`);
  }
  await import("@tensorflow/tfjs-backend-webgpu");
}

async function startWasm(): Promise<void> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  // Node reads the .wasm files from disk; point the loader at the package's dist folder.
  wasm.setWasmPaths(`${dirname(require.resolve("@tensorflow/tfjs-backend-wasm"))}/`);
  registerWasmConvGrads();
  registerWasmMaxPoolGrad();
}

async function importPackage(name: string): Promise<void> {
  try {
    await import(name);
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    throw new Error(code === "ERR_MODULE_NOT_FOUND" ? "not installed" : `failed to load: ${(cause as Error).message}`, { cause });
  }
}

/** Makes `name` the global backend; returns why it could not, or null. */
async function activate(name: BackendName): Promise<string | null> {
  try {
    if (!(await tf.setBackend(name))) return "its factory failed (see the warning above)";
    await tf.ready();
    return null;
  } catch (cause) {
    return (cause as Error).message;
  }
}
