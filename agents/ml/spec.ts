import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import { describeValue } from "./describe.js";
import { MlError } from "./errors.js";

/**
 * Task spec v1 (DESIGN §5): the model a task asks for, as plain JSON on IPFS.
 *
 * The layer subset is small on purpose: every layer here has the same meaning in TensorFlow.js
 * and PyTorch, so a second engine can build the same model from the same spec. Optional fields
 * get their defaults at parse time, so the parsed spec (and its hash) is the same whether a
 * default was written out or not. Everything is checked — shapes, parameter and FLOP counts,
 * limits — before any tensor exists.
 */

/** Caps that hold whatever a spec's own `limits` say: nobody trains a model above these. */
export const HARD_LIMITS = {
  maxParams: 100_000_000,
  maxFlops: 20_000_000_000, // per sample, forward
  maxLayers: 64,
  maxSpecBytes: 1 << 20,
} as const;

const dim = z.number().int().positive().max(2 ** 31 - 1);
const ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "elu"] as const;
const activation = z.enum(ACTIVATIONS);
const padding = z.enum(["valid", "same"]);

const freeRange = z
  .object({ free: z.object({ min: z.number().positive(), max: z.number().positive() }).strict() })
  .strict()
  .refine((r) => r.free.min <= r.free.max, { message: "free.min must not exceed free.max" });
const freeIntRange = z
  .object({ free: z.object({ min: dim, max: dim }).strict() })
  .strict()
  .refine((r) => r.free.min <= r.free.max, { message: "free.min must not exceed free.max" });

const DenseLayer = z
  .object({ type: z.literal("dense"), units: dim, activation, useBias: z.boolean().default(true) })
  .strict();
const Conv2dLayer = z
  .object({
    type: z.literal("conv2d"),
    filters: dim,
    kernelSize: dim,
    strides: dim.default(1),
    padding: padding.default("valid"),
    activation,
    useBias: z.boolean().default(true),
  })
  .strict();
const MaxPooling2dLayer = z
  .object({ type: z.literal("maxPooling2d"), poolSize: dim, strides: dim.optional(), padding: padding.default("valid") })
  .strict();
const FlattenLayer = z.object({ type: z.literal("flatten") }).strict();
const DropoutLayer = z.object({ type: z.literal("dropout"), rate: z.number().min(0).lt(1) }).strict();
const BatchNormalizationLayer = z
  .object({
    type: z.literal("batchNormalization"),
    momentum: z.number().min(0).max(1).default(0.99),
    epsilon: z.number().positive().default(0.001),
  })
  .strict();

export const LayerSchema = z.discriminatedUnion("type", [
  DenseLayer,
  Conv2dLayer,
  MaxPooling2dLayer, // strides default to poolSize: filled in by TaskSpecSchema
  FlattenLayer,
  DropoutLayer,
  BatchNormalizationLayer,
]);

const SmlSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("dense"), units: dim, bits: z.number().int().min(1).max(16) }).strict(),
  z.object({ kind: z.literal("conv"), filters: dim, kernelSize: dim, bits: z.number().int().min(1).max(16) }).strict(),
]);

/** A step schedule (agents/ml/lr-schedule.ts): the rate times `factor` every `every` epochs; absent = constant. */
const DECAY_FACTOR = "must be a number above 0 and below 1";
const DecaySchema = z
  .object({
    every: z.number().int("must be a whole number of epochs").min(1, "must be at least 1 epoch"),
    factor: z.number({ invalid_type_error: DECAY_FACTOR }).gt(0, DECAY_FACTOR).lt(1, DECAY_FACTOR),
  })
  .strict();

/** Seeded training augmentation (agents/ml/augment.ts); absent = none. Images only. */
const SHIFT_RANGE = "must be an integer from 0 to 4 (pixels)";
const AugmentSchema = z.object({ shift: z.number({ invalid_type_error: SHIFT_RANGE }).int(SHIFT_RANGE).min(0, SHIFT_RANGE).max(4, SHIFT_RANGE) }).strict();

export const TaskSpecSchema = z
  .object({
    version: z.literal(1),
    name: z.string().min(1).max(200),
    input: z.object({ shape: z.array(dim).min(1).max(3) }).strict(),
    classes: z.number().int().min(2).max(1000),
    sml: SmlSchema,
    layers: z.array(LayerSchema).min(1).max(HARD_LIMITS.maxLayers),
    loss: z.literal("sparseCategoricalCrossentropy"),
    metric: z.literal("accuracy"),
    optimizer: z
      .object({ name: z.enum(["sgd", "adam", "rmsprop"]), learningRate: z.union([z.number().positive(), freeRange]), decay: DecaySchema.optional() })
      .strict(),
    batchSize: z.union([dim, freeIntRange]),
    epochs: z.object({ max: dim }).strict(),
    checkpointEvery: dim,
    watermark: z.object({ bits: z.number().int().min(1).max(4096), strength: z.number().positive().max(100) }).strict(),
    limits: z.object({ maxParams: dim, maxFlops: z.number().int().positive() }).strict(),
    augment: AugmentSchema.optional(),
  })
  .strict()
  .transform((s) => ({
    ...s,
    layers: s.layers.map((l) => (l.type === "maxPooling2d" ? { ...l, strides: l.strides ?? l.poolSize } : l)),
  }));

export type TaskSpec = z.output<typeof TaskSpecSchema>;
export type Layer = TaskSpec["layers"][number];
export type Sml = TaskSpec["sml"];
export type Activation = (typeof ACTIVATIONS)[number];

/** One tensor of a model, named the way artifacts, checkpoints and the model builder name it. */
export type WeightSpec = { name: string; shape: number[]; trainable: boolean };

/** Per-layer view of a spec: output shape, weights and forward FLOPs per sample. */
export type LayerInfo = { name: string; outputShape: number[]; weights: WeightSpec[]; flops: number };

/**
 * Parses and checks a task spec (a JSON string or an already-parsed value). Throws MlError
 * SPEC_INVALID (malformed JSON, schema violation, inconsistent shapes) or SPEC_LIMIT (over the
 * spec's own limits or HARD_LIMITS), with the path of the offending field; allocates no tensor.
 */
export function parseSpec(json: unknown): TaskSpec {
  let value = json;
  if (typeof json === "string") {
    if (json.length > HARD_LIMITS.maxSpecBytes) {
      throw new MlError("SPEC_LIMIT", `spec: ${json.length} bytes exceeds ${HARD_LIMITS.maxSpecBytes}`, {
        context: { path: "", bytes: json.length },
      });
    }
    try {
      value = JSON.parse(json);
    } catch (cause) {
      throw new MlError("SPEC_INVALID", `spec: malformed JSON (${(cause as Error).message})`, { cause, context: { path: "" } });
    }
  }
  const result = TaskSpecSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.join(".");
    const message =
      issue.code === "invalid_union_discriminator"
        ? `unknown ${issue.path[issue.path.length - 1]} ${describeValue(valueAt(value, issue.path))} (expected ${issue.options.join(", ")})`
        : issue.message;
    throw new MlError("SPEC_INVALID", `spec.${path || "(root)"}: ${message}`, {
      cause: result.error,
      context: { path, issues: result.error.issues },
    });
  }
  const spec = result.data;
  const { params, flops } = countModel(spec);
  const maxParams = Math.min(spec.limits.maxParams, HARD_LIMITS.maxParams);
  if (params > maxParams) {
    throw new MlError("SPEC_LIMIT", `spec: model has ${params} parameters, over the limit of ${maxParams}`, {
      context: { path: "limits.maxParams", params, limit: maxParams },
    });
  }
  const maxFlops = Math.min(spec.limits.maxFlops, HARD_LIMITS.maxFlops);
  if (flops > maxFlops) {
    throw new MlError("SPEC_LIMIT", `spec: model needs ${flops} FLOPs per sample, over the limit of ${maxFlops}`, {
      context: { path: "limits.maxFlops", flops, limit: maxFlops },
    });
  }
  return spec;
}

/**
 * Walks the spec's layers (the SML first) and returns each one's output shape, weights and
 * FLOPs. Throws SPEC_INVALID for a layer that cannot take its input (conv on a flat input,
 * dense on an unflattened one, a window larger than its input) and for a last layer that is
 * not dense(classes, softmax).
 *
 * FLOPs per sample, forward: 2 per multiply-accumulate, 1 per bias add, 1 per element for a
 * non-linear activation, poolSize² per pooled output, 2 per element for batch normalisation.
 */
export function describeLayers(spec: TaskSpec): LayerInfo[] {
  const infos: LayerInfo[] = [];
  let shape = [...spec.input.shape];
  const fail = (path: string, message: string): never => {
    throw new MlError("SPEC_INVALID", `spec.${path}: ${message}`, { context: { path, inputShape: shape } });
  };
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

  const sml = spec.sml;
  if (sml.kind === "dense") {
    if (shape.length !== 1) fail("sml", `a dense SML needs a flat input, got [${shape}]`);
    const d = shape[0]!;
    shape = [sml.units];
    infos.push({ name: "sml", outputShape: shape, weights: [{ name: "sml.kernel", shape: [d, sml.units], trainable: false }], flops: 2 * d * sml.units });
  } else {
    if (shape.length !== 3) fail("sml", `a conv SML needs an [height, width, channels] input, got [${shape}]`);
    const [h, w, c] = shape as [number, number, number];
    shape = [h, w, sml.filters]; // stride 1, "same" padding: the SML keeps the image size
    const kernel = [sml.kernelSize, sml.kernelSize, c, sml.filters];
    infos.push({ name: "sml", outputShape: shape, weights: [{ name: "sml.kernel", shape: kernel, trainable: false }], flops: 2 * size(kernel) * h * w });
  }

  spec.layers.forEach((layer, i) => {
    const name = `layers.${i}`;
    const weights: WeightSpec[] = [];
    let flops = 0;
    switch (layer.type) {
      case "dense": {
        if (shape.length !== 1) fail(name, `dense needs a flat input, got [${shape}]; add a flatten layer`);
        const d = shape[0]!;
        weights.push({ name: `${name}.kernel`, shape: [d, layer.units], trainable: true });
        if (layer.useBias) weights.push({ name: `${name}.bias`, shape: [layer.units], trainable: true });
        shape = [layer.units];
        flops = 2 * d * layer.units + (layer.useBias ? layer.units : 0) + activationFlops(layer.activation, layer.units);
        break;
      }
      case "conv2d": {
        if (shape.length !== 3) fail(name, `conv2d needs an [height, width, channels] input, got [${shape}]`);
        const [h, w, c] = shape as [number, number, number];
        const oh = windowOut(h, layer.kernelSize, layer.strides, layer.padding);
        const ow = windowOut(w, layer.kernelSize, layer.strides, layer.padding);
        if (oh < 1 || ow < 1) fail(name, `kernel ${layer.kernelSize} does not fit the input [${shape}]`);
        const kernel = [layer.kernelSize, layer.kernelSize, c, layer.filters];
        weights.push({ name: `${name}.kernel`, shape: kernel, trainable: true });
        if (layer.useBias) weights.push({ name: `${name}.bias`, shape: [layer.filters], trainable: true });
        shape = [oh, ow, layer.filters];
        const outputs = size(shape);
        flops = 2 * layer.kernelSize * layer.kernelSize * c * outputs + (layer.useBias ? outputs : 0) + activationFlops(layer.activation, outputs);
        break;
      }
      case "maxPooling2d": {
        if (shape.length !== 3) fail(name, `maxPooling2d needs an [height, width, channels] input, got [${shape}]`);
        const [h, w, c] = shape as [number, number, number];
        const strides = layer.strides ?? layer.poolSize;
        const oh = windowOut(h, layer.poolSize, strides, layer.padding);
        const ow = windowOut(w, layer.poolSize, strides, layer.padding);
        if (oh < 1 || ow < 1) fail(name, `pool ${layer.poolSize} does not fit the input [${shape}]`);
        shape = [oh, ow, c];
        flops = layer.poolSize * layer.poolSize * size(shape);
        break;
      }
      case "flatten":
        shape = [size(shape)];
        break;
      case "dropout":
        break; // identity at inference
      case "batchNormalization": {
        const c = shape[shape.length - 1]!;
        weights.push(
          { name: `${name}.gamma`, shape: [c], trainable: true },
          { name: `${name}.beta`, shape: [c], trainable: true },
          { name: `${name}.movingMean`, shape: [c], trainable: false },
          { name: `${name}.movingVariance`, shape: [c], trainable: false },
        );
        flops = 2 * size(shape);
        break;
      }
    }
    infos.push({ name, outputShape: shape, weights, flops });
  });

  const last = spec.layers[spec.layers.length - 1]!;
  const lastPath = `layers.${spec.layers.length - 1}`;
  if (last.type !== "dense" || last.units !== spec.classes || last.activation !== "softmax") {
    fail(lastPath, `the last layer must be dense with ${spec.classes} units (the classes) and softmax`);
  }
  if ((spec.augment?.shift ?? 0) > 0 && spec.input.shape.length !== 3) {
    shape = spec.input.shape;
    fail("augment.shift", `shifts need an [height, width, channels] input, got [${shape}]`);
  }
  return infos;
}

/** Parameter counts (all weights, SML and batch-norm statistics included) and forward FLOPs per sample. */
export function countModel(spec: TaskSpec): { params: number; trainableParams: number; flops: number } {
  let params = 0;
  let trainableParams = 0;
  let flops = 0;
  for (const info of describeLayers(spec)) {
    flops += info.flops;
    for (const w of info.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      params += n;
      if (w.trainable) trainableParams += n;
    }
  }
  return { params, trainableParams, flops };
}

/** The model's tensors in canonical order: `sml.kernel`, then `layers.<i>.<weight>` in layer order. */
export function weightLayout(spec: TaskSpec): WeightSpec[] {
  return describeLayers(spec).flatMap((info) => info.weights);
}

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit, no whitespace, numbers as JavaScript
 * prints them (shortest round-trip form). Same content, same bytes. Rejects values JSON cannot
 * carry exactly (non-finite numbers, undefined inside arrays, bigint, functions).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new MlError("SPEC_INVALID", `canonical JSON cannot carry ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new MlError("SPEC_INVALID", `canonical JSON cannot carry a ${typeof value}`);
}

export function canonicalSpecJson(spec: TaskSpec): string {
  return canonicalJson(spec);
}

/** keccak256 of the canonical spec JSON (UTF-8), as 0x-prefixed hex. */
export function specHash(spec: TaskSpec): `0x${string}` {
  return `0x${bytesToHex(keccak_256(utf8ToBytes(canonicalSpecJson(spec))))}`;
}

/** The fixed hyperparameters, or the free range's lower end when the miner may choose. */
export function fixedOrMin<T extends number>(v: T | { free: { min: T; max: T } }): T {
  return typeof v === "number" ? v : v.free.min;
}

function valueAt(value: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[k] : undefined), value);
}

function windowOut(input: number, window: number, strides: number, pad: "valid" | "same"): number {
  return pad === "same" ? Math.ceil(input / strides) : Math.floor((input - window) / strides) + 1;
}

function activationFlops(a: Activation, n: number): number {
  return a === "linear" ? 0 : n;
}

const common = {
  version: 1,
  loss: "sparseCategoricalCrossentropy",
  metric: "accuracy",
} as const;

/** Small reference specs: the bench's models and the tests' fixtures. */
export const presets: { irisMlp: TaskSpec; mnistMlp: TaskSpec; mnistCnn: TaskSpec } = {
  irisMlp: parseSpec({
    ...common,
    name: "iris-mlp",
    input: { shape: [4] },
    classes: 3,
    // The SML's width is the watermarked kernel's M. At M = 16, 8 bits at λ 0.01 missed 1 run in
    // 40 and matched 3 foreign keys in 1,000; 16 bits did not embed in 100 epochs at any λ up to 1.
    // M = 32 with 16 bits embedded in 40 of 40 runs at λ 0.1, 0.3 and 1, but matched 2 foreign keys
    // in 4,000; 20 bits at λ 1: 40 of 40 (every run by epoch 16), no accuracy cost, 0 false matches
    // in 4,000 (docs/ml.md, bench/watermark-presets.ts).
    sml: { kind: "dense", units: 32, bits: 4 },
    layers: [
      { type: "dense", units: 16, activation: "relu" },
      { type: "dense", units: 3, activation: "softmax" },
    ],
    optimizer: { name: "adam", learningRate: 0.01 },
    batchSize: 16,
    epochs: { max: 100 },
    checkpointEvery: 10,
    watermark: { bits: 20, strength: 1 },
    limits: { maxParams: 10_000, maxFlops: 10_000 },
  }),
  mnistMlp: parseSpec({
    ...common,
    name: "mnist-mlp",
    input: { shape: [784] },
    classes: 10,
    // 256 SML units: behind a 128-wide SML the secure model trailed the plain one by 1.5 points
    // (bench:ml, three miners); 256 matches it. Watermark strength 0.1: 0.01 embedded nothing in
    // 3 epochs, 0.03 only 28 to 31 of 32 bits.
    sml: { kind: "dense", units: 256, bits: 4 },
    layers: [
      { type: "dense", units: 64, activation: "relu" },
      { type: "dense", units: 10, activation: "softmax" },
    ],
    optimizer: { name: "adam", learningRate: 0.001 },
    batchSize: 64,
    epochs: { max: 20 },
    checkpointEvery: 100,
    watermark: { bits: 32, strength: 0.1 },
    limits: { maxParams: 300_000, maxFlops: 1_000_000 },
  }),
  mnistCnn: parseSpec({
    ...common,
    name: "mnist-cnn",
    input: { shape: [28, 28, 1] },
    classes: 10,
    // 8 SML filters: the watermark lives in layers.0's kernel averaged over its filters, M = 3·3·8
    // = 72 values for 32 bits; behind 4 filters (M = 36) 29 of 32 bits read on 2 miners in 3.
    // Twice the old 8/16/32 widths (bench/results/mnist-cnn.md: accuracy, SML, watermark).
    // 7×7 SML filters: 8 random 3×3 filters nearly span a 3×3 patch, so a model worked at 40 %
    // behind another task's SML; 7×7 (cached, so free per step) brought that to about 15 %.
    // ±2-pixel seeded shifts and 20 epochs: without them the model overfit at about 97 % by epoch 4.
    sml: { kind: "conv", filters: 8, kernelSize: 7, bits: 4 },
    layers: [
      { type: "conv2d", filters: 16, kernelSize: 3, activation: "relu" },
      { type: "maxPooling2d", poolSize: 2 },
      { type: "conv2d", filters: 32, kernelSize: 3, activation: "relu" },
      { type: "maxPooling2d", poolSize: 2 },
      { type: "flatten" },
      { type: "dense", units: 64, activation: "relu" },
      { type: "dense", units: 10, activation: "softmax" },
    ],
    // The rate × 0.3 after epochs 8 and 16: at a constant 1e-3 the test accuracy swung 97.0–98.1 %
    // from epoch to epoch (wasm); PyTorch on the bench's split, last five epochs: constant
    // 96.8–97.8 %, this schedule 98.0–98.3 % (×0.5 every 5: 97.8–98.1; ×0.1 every 10: 97.9–98.0).
    optimizer: { name: "adam", learningRate: 0.001, decay: { every: 8, factor: 0.3 } },
    batchSize: 32,
    epochs: { max: 20 },
    // 50 steps: the demo's 880-step runs replayed 5 segments of 100 steps per submission, and the
    // validators scored three submissions 193 s after the draw, past the 180 s attest commit window.
    checkpointEvery: 50,
    watermark: { bits: 32, strength: 0.1 },
    limits: { maxParams: 100_000, maxFlops: 5_000_000 },
    augment: { shift: 2 },
  }),
};
