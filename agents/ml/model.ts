import * as tf from "@tensorflow/tfjs";
import { initSeed, subSeed } from "./seeds.js";
import { weightLayout } from "./spec.js";
import type { Layer, TaskSpec } from "./spec.js";
import type { LayoutEntry, NamedTensors } from "./init.js";

/**
 * buildModel(spec) → an uncompiled tf.LayersModel: the SML as a fixed, non-trainable first layer,
 * then the spec's layers. Layer `i` of the spec is the Keras layer named `layers.<i>`, and its
 * weights get the canonical names of weightLayout(spec) (`layers.<i>.kernel`, …).
 */

export type BuildOptions = {
  smlWeights: { shape: number[]; data: Float32Array };
  /** Every tensor of weightLayout(spec) but `sml.kernel`. */
  initialWeights: NamedTensors;
  /** Seeds dropout masks (TensorFlow.js reuses a seeded mask every step, which keeps replay exact). */
  dropoutKey?: { seed: string; miner: string };
};

export function buildModel(spec: TaskSpec, opts: BuildOptions): tf.LayersModel {
  const model = assemble(spec, true, opts.dropoutKey);
  setNamedWeights(model, new Map([["sml.kernel", opts.smlWeights], ...opts.initialWeights]));
  return model;
}

/**
 * The same model without its SML, for the bench's PoLe comparison (secure vs plain) only. Its
 * weights are TensorFlow.js defaults until the caller sets them (see modelLayout).
 */
export function buildPlainModel(spec: TaskSpec): tf.LayersModel {
  return assemble(spec, false, undefined);
}

/** Names, shapes and trainability of the model's tensors, read off the model itself. */
export function modelLayout(model: tf.LayersModel): LayoutEntry[] {
  return model.layers.flatMap((l) =>
    l.weights.map((w) => ({ name: `${l.name}.${canonicalSuffix(w.originalName)}`, shape: [...w.shape] as number[], trainable: l.trainable && w.trainable })),
  );
}

/**
 * The model's tensors in layer order, i.e. weightLayout order (copies, safe after dispose). Read
 * asynchronously: the webgpu backend cannot read synchronously in Node (no OffscreenCanvas).
 */
export async function getNamedWeights(model: tf.LayersModel): Promise<NamedTensors> {
  const vars = modelVariables(model);
  const data = await Promise.all(vars.map(async (v) => Float32Array.from((await v.read().data()) as Float32Array)));
  return new Map(modelLayout(model).map((w, k) => [w.name, { shape: w.shape, data: data[k]! }]));
}

/** Writes named tensors (every tensor of modelLayout(model)) into the model. */
export function setNamedWeights(model: tf.LayersModel, named: NamedTensors): void {
  const tensors = modelLayout(model).map((w) => {
    const t = named.get(w.name);
    if (t === undefined) throw new RangeError(`missing weight ${w.name}`);
    return tf.tensor(t.data, w.shape);
  });
  model.setWeights(orderLike(model, tensors));
  tf.dispose(tensors);
}

/** True when the model's layout is exactly weightLayout(spec). */
export function matchesLayout(model: tf.LayersModel, spec: TaskSpec): boolean {
  const a = modelLayout(model);
  const b = weightLayout(spec);
  return a.length === b.length && a.every((w, k) => w.name === b[k]!.name && w.shape.join() === b[k]!.shape.join() && w.trainable === b[k]!.trainable);
}

function assemble(spec: TaskSpec, withSml: boolean, dropoutKey: BuildOptions["dropoutKey"]): tf.Sequential {
  const inputShape = spec.input.shape;
  const model = tf.sequential();
  if (withSml) {
    model.add(
      spec.sml.kind === "dense"
        ? tf.layers.dense({ name: "sml", inputShape, units: spec.sml.units, useBias: false, trainable: false })
        : tf.layers.conv2d({ name: "sml", inputShape, filters: spec.sml.filters, kernelSize: spec.sml.kernelSize, padding: "same", useBias: false, trainable: false }),
    );
  }
  spec.layers.forEach((layer, i) => {
    const l = makeLayer(layer, `layers.${i}`, dropoutKey, model.layers.length === 0 ? inputShape : undefined);
    model.add(l);
  });
  return model;
}

const SUFFIX: Record<string, string> = { moving_mean: "movingMean", moving_variance: "movingVariance" };

function canonicalSuffix(originalName: string): string {
  const last = originalName.slice(originalName.lastIndexOf("/") + 1);
  return SUFFIX[last] ?? last;
}

/** The model's variables in weightLayout order (layer order, then each layer's own weight order). */
export function modelVariables(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.flatMap((l) => l.weights);
}

/** The variables training updates, in weightLayout order (a frozen layer's variables still say trainable). */
export function trainableVariables(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.flatMap((l) => (l.trainable ? l.weights.filter((w) => w.trainable) : []));
}

/** model.setWeights wants model.weights order (trainable first); ours is layer order. */
function orderLike(model: tf.LayersModel, layerOrdered: tf.Tensor[]): tf.Tensor[] {
  const vars = modelVariables(model);
  const byId = new Map(vars.map((v, k) => [v.id, layerOrdered[k]!]));
  return model.weights.map((v) => byId.get(v.id)!);
}

function makeLayer(layer: Layer, name: string, dropoutKey: BuildOptions["dropoutKey"], inputShape: number[] | undefined): tf.layers.Layer {
  const first = inputShape === undefined ? {} : { inputShape };
  switch (layer.type) {
    case "dense":
      return tf.layers.dense({ ...first, name, units: layer.units, activation: layer.activation, useBias: layer.useBias });
    case "conv2d":
      return tf.layers.conv2d({ ...first, name, filters: layer.filters, kernelSize: layer.kernelSize, strides: layer.strides, padding: layer.padding, activation: layer.activation, useBias: layer.useBias });
    case "maxPooling2d":
      return tf.layers.maxPooling2d({ ...first, name, poolSize: layer.poolSize, strides: layer.strides ?? layer.poolSize, padding: layer.padding });
    case "flatten":
      return tf.layers.flatten({ ...first, name });
    case "dropout": {
      const seed = dropoutKey === undefined ? 0 : Number.parseInt(subSeed(initSeed(dropoutKey.seed, dropoutKey.miner), name).slice(2, 10), 16);
      return tf.layers.dropout({ ...first, name, rate: layer.rate, seed });
    }
    case "batchNormalization":
      return tf.layers.batchNormalization({ ...first, name, momentum: layer.momentum, epsilon: layer.epsilon });
  }
}
