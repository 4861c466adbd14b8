import { countModel, parseSpec, presets, type TaskSpec } from "./spec.js";

/**
 * A starter spec for a dataset (`podl spec init`): an MLP for rows of features, a small CNN for
 * images, sized from the data's shape and class count. The hyperparameters are the bundled
 * presets' (irisMlp, mnistCnn), which settle their tasks in bench:ml; limits leave 50 % headroom
 * over the drafted model so a publisher can widen a layer without editing them.
 */
/** Share of the examples in training shards under `podl publish`'s defaults (7 of 10 shards). */
const TRAIN_SHARE = 0.7;

export interface DataShape {
  name: string;
  inputShape: number[];
  classes: number;
  examples: number;
}

export function draftSpec(data: DataShape): TaskSpec {
  const image = data.inputShape.length === 3;
  const draft = {
    version: 1,
    name: data.name,
    input: { shape: data.inputShape },
    classes: data.classes,
    loss: "sparseCategoricalCrossentropy",
    metric: "accuracy",
    // Watermark: a 32-wide dense SML carries 20 bits at strength 1 (irisMlp); the conv SML 32 bits at 0.1 (mnistCnn).
    // Images get mnistCnn's SML (8 filters of 7×7: a model behind another task's SML falls to ~20 %) and its shifts.
    sml: image ? presets.mnistCnn.sml : { kind: "dense", units: 32, bits: 4 },
    ...(image ? { augment: presets.mnistCnn.augment } : {}),
    layers: image ? cnnLayers(data.inputShape, data.classes) : [
      { type: "dense", units: 32, activation: "relu" },
      { type: "dense", units: data.classes, activation: "softmax" },
    ],
    optimizer: image ? { name: "adam", learningRate: 0.001 } : { name: "adam", learningRate: 0.01 },
    batchSize: data.examples >= 2_000 ? 64 : image ? 32 : 16,
    epochs: { max: image ? 10 : 50 },
    checkpointEvery: 1, // set below from the steps
    watermark: image ? { bits: 32, strength: 0.1 } : { bits: 20, strength: 1 },
    limits: { maxParams: 1, maxFlops: 1 },
  };
  const { params, flops } = countModel(parseSpec({ ...draft, limits: { maxParams: 2 ** 31 - 1, maxFlops: 2 ** 53 - 1 } }));
  // About 64 checkpoints per run (at least every 10 steps): enough segments to spot-check, few uploads.
  const steps = Math.ceil((data.examples * TRAIN_SHARE) / draft.batchSize) * draft.epochs.max;
  const checkpointEvery = Math.max(10, Math.ceil(steps / 64));
  return parseSpec({ ...draft, checkpointEvery, limits: { maxParams: Math.ceil(params * 1.5), maxFlops: Math.ceil(flops * 1.5) } });
}

/** Conv (3×3, relu) and 2×2 pooling while the image is at least 6 pixels across, at most twice; then dense 32 and the classes. */
function cnnLayers(shape: number[], classes: number): object[] {
  const layers: object[] = [];
  let side = Math.min(shape[0]!, shape[1]!);
  for (const filters of [8, 16]) {
    if (side < 6) break;
    layers.push({ type: "conv2d", filters, kernelSize: 3, activation: "relu" }, { type: "maxPooling2d", poolSize: 2 });
    side = Math.floor((side - 2) / 2);
  }
  return [...layers, { type: "flatten" }, { type: "dense", units: 32, activation: "relu" }, { type: "dense", units: classes, activation: "softmax" }];
}

/**
 * A training window (`podl publish --train-window`) for `spec` on `examples` training rows: the
 * declared training FLOPs (3 × forward × examples × epochs) at an assumed 0.2 GFLOP/s, a slow
 * wasm CPU, times 3 for fetching, checkpoints and a busy miner; at least 120 s, whole minutes.
 */
export function suggestedTrainWindow(spec: TaskSpec, examples: number): number {
  const seconds = (3 * countModel(spec).flops * examples * spec.epochs.max) / 0.2e9;
  return Math.max(120, Math.ceil((seconds * 3) / 60) * 60);
}
