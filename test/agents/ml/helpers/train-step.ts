/**
 * Child-process helper for webgpu.test.ts and backend.test.ts (TensorFlow.js backends are
 * process-wide state, and Dawn is best kept out of the mocha process). Prints one JSON line.
 *
 *   tsx train-step.ts compare   → { adapter, reason?, results: { mlp, cnn } }: three SGD steps of a
 *                                 small MLP and a small CNN on cpu and on webgpu, from the same
 *                                 weights and data, with the largest weight difference.
 *   tsx train-step.ts select <preset> [backend] → { choice, logged, active, adapter, fallback }:
 *                                 selectBackend's automatic choice, or the forced backend's.
 *   tsx train-step.ts pipeline  → { adapter, reason?, ... }: train() on cpu and on webgpu (Iris,
 *                                 3 epochs), the webgpu run verified with replay on webgpu, and the
 *                                 cpu run's checkpoints replayed on webgpu.
 */
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { probeWebGpu, selectBackend } from "../../../../agents/ml/backend.js";
import type { BackendName } from "../../../../agents/ml/backend.js";
import { encodeArtifact, modelHash } from "../../../../agents/ml/artifact.js";
import { loadIris } from "../../../../agents/ml/datasets/index.js";
import { initialWeights } from "../../../../agents/ml/init.js";
import { replayCheck } from "../../../../agents/ml/replay.js";
import { artifactOf, train as trainRun } from "../../../../agents/ml/train.js";
import { verifySubmission } from "../../../../agents/ml/verify.js";
import { buildModel } from "../../../../agents/ml/model.js";
import { generateSml } from "../../../../agents/ml/sml.js";
import { parseSpec, presets, weightLayout } from "../../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../../agents/ml/spec.js";

const SEED = `0x${"ab".repeat(32)}`;
const MINER = `0x${"cd".repeat(20)}`;

const tinyCnn = parseSpec({
  ...JSON.parse(JSON.stringify(presets.mnistCnn)),
  name: "tiny-cnn",
  input: { shape: [8, 8, 1] },
  classes: 3,
  sml: { kind: "conv", filters: 2, kernelSize: 3, bits: 4 },
  layers: [
    { type: "conv2d", filters: 4, kernelSize: 3, activation: "relu" },
    { type: "maxPooling2d", poolSize: 2 },
    { type: "flatten" },
    { type: "dense", units: 3, activation: "softmax" },
  ],
});

/** Deterministic inputs in [0, 1) and labels, the same on every backend. */
function batch(spec: TaskSpec, n: number): { x: Float32Array; y: Float32Array } {
  const per = spec.input.shape.reduce((a, b) => a * b, 1);
  return {
    x: Float32Array.from({ length: n * per }, (_, i) => ((i * 7919) % 1000) / 1000),
    y: Float32Array.from({ length: n }, (_, i) => i % spec.classes),
  };
}

async function train(spec: TaskSpec, backend: BackendName): Promise<{ losses: number[]; weights: Float32Array[] }> {
  await selectBackend({ force: backend, spec });
  const model = buildModel(spec, {
    smlWeights: generateSml(SEED, spec.sml, spec.input.shape),
    initialWeights: initialWeights(SEED, MINER, weightLayout(spec), new Set(["sml.kernel"])),
  });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: spec.loss });
  const { x, y } = batch(spec, 16);
  const xs = tf.tensor(x, [16, ...spec.input.shape]);
  const ys = tf.tensor1d(y);
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) losses.push((await model.trainOnBatch(xs, ys)) as number);
  // Asynchronous reads: the webgpu backend's dataSync needs OffscreenCanvas, which Node lacks.
  const weights = await Promise.all(model.layers.flatMap((l) => l.weights).map(async (v) => (await v.read().data()) as Float32Array));
  tf.dispose([xs, ys]);
  model.dispose();
  return { losses, weights };
}

async function compare(spec: TaskSpec) {
  const cpu = await train(spec, "cpu");
  const gpu = await train(spec, "webgpu");
  let maxWeightDiff = 0;
  cpu.weights.forEach((w, k) => w.forEach((v, i) => (maxWeightDiff = Math.max(maxWeightDiff, Math.abs(v - gpu.weights[k]![i]!)))));
  return { cpuLosses: cpu.losses, gpuLosses: gpu.losses, maxWeightDiff };
}

/** The Iris preset with a watermark strong enough to embed its 8 bits in three epochs. */
const irisQuick = parseSpec({ ...JSON.parse(JSON.stringify(presets.irisMlp)), watermark: { bits: 8, strength: 1 } });

async function pipeline() {
  const data = loadIris();
  const spec = irisQuick;
  const opts = { seed: SEED, miner: MINER, data, hyper: { epochs: 3 } };
  await selectBackend({ force: "cpu", spec });
  const cpu = await trainRun(spec, opts);
  cpu.model.dispose();
  await selectBackend({ force: "webgpu", spec });
  const gpu = await trainRun(spec, opts);
  gpu.model.dispose();
  let maxWeightDiff = 0;
  for (const [name, t] of cpu.weights) t.data.forEach((v, i) => (maxWeightDiff = Math.max(maxWeightDiff, Math.abs(v - gpu.weights.get(name)!.data[i]!))));
  const artifact = encodeArtifact(artifactOf(spec, gpu, { taskId: "1", seed: SEED, miner: MINER }));
  const verdict = await verifySubmission({
    taskId: "1",
    spec: spec,
    seed: SEED,
    miner: MINER,
    test: data,
    train: data,
    artifact,
    expectedModelHash: modelHash(artifact),
    manifest: gpu.manifest,
    fetchCheckpoint: async (i) => gpu.checkpoints[i]!,
    replay: { seed2: SEED, r: 2 },
  });
  const cross = await replayCheck(spec, { seed: SEED, miner: MINER, data, hyper: cpu.hyper }, cpu.checkpoints, { seed2: SEED, r: 3 });
  return {
    steps: gpu.steps,
    checkpoints: gpu.checkpoints.length,
    maxWeightDiff,
    scoreBps: verdict.scoreBps,
    reason: verdict.reason ?? null,
    detail: verdict.reason === undefined ? null : verdict.detail,
    replayed: verdict.reason === undefined ? (verdict.replay ?? []).length : 0,
    crossDistances: cross.segments.map((s) => s.distance),
  };
}

async function main(mode: string | undefined, preset: string | undefined, force: string | undefined): Promise<void> {
  if (mode === "compare") {
    const probe = await probeWebGpu();
    if (probe.adapter === null) {
      console.log(JSON.stringify(probe));
    } else {
      console.log(JSON.stringify({ adapter: probe.adapter, results: { mlp: await compare(presets.irisMlp), cnn: await compare(tinyCnn) } }));
    }
  } else if (mode === "pipeline") {
    const probe = await probeWebGpu();
    console.log(JSON.stringify(probe.adapter === null ? probe : { adapter: probe.adapter, ...(await pipeline()) }));
  } else if (mode === "select") {
    const logged: { fields: object; message: string }[] = [];
    const spec = preset === "tinyCnn" ? tinyCnn : presets[preset as keyof typeof presets];
    const log = { info: (fields: object, message: string) => void logged.push({ fields, message }) };
    const choice = await selectBackend({ spec, log, ...(force === undefined ? {} : { force: force as BackendName }) });
    const probe = await probeWebGpu();
    console.log(JSON.stringify({ choice, logged, active: tf.getBackend(), adapter: probe.adapter, fallback: probe.adapter !== null && probe.fallback }));
  } else {
    throw new Error(`usage: train-step.ts compare | pipeline | select <preset> [backend]`);
  }
}

// hardhat test loads every .ts under test/ as a test file: act only when run as a script.
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) await main(process.argv[2], process.argv[3], process.argv[4]);
