import * as tf from "@tensorflow/tfjs";
import { initSeed, subSeed } from "./seeds.js";
import { weightLayout } from "./spec.js";
import type { Layer, TaskSpec } from "./spec.js";
import type { NamedTensors } from "./init.js";

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
  const inputShape = spec.input.shape;
  const model = tf.sequential();
  model.add(
    spec.sml.kind === "dense"
      ? tf.layers.dense({ name: "sml", inputShape, units: spec.sml.units, useBias: false, trainable: false })
      : tf.layers.conv2d({ name: "sml", inputShape, filters: spec.sml.filters, kernelSize: spec.sml.kernelSize, padding: "same", useBias: false, trainable: false }),
  );
  spec.layers.forEach((layer, i) => model.add(makeLayer(layer, `layers.${i}`, opts.dropoutKey)));
  setNamedWeights(model, spec, new Map([["sml.kernel", opts.smlWeights], ...opts.initialWeights]));
  return model;
}

/** The model's tensors in weightLayout order (copies, safe to keep after the model is disposed). */
export function getNamedWeights(model: tf.LayersModel, spec: TaskSpec): NamedTensors {
  const layout = weightLayout(spec);
  const values = modelWeights(model);
  const out: NamedTensors = new Map();
  layout.forEach((w, k) => out.set(w.name, { shape: [...w.shape], data: values[k]!.dataSync() as Float32Array }));
  return out;
}

/** Writes named tensors (all of weightLayout(spec)) into the model. */
export function setNamedWeights(model: tf.LayersModel, spec: TaskSpec, named: NamedTensors): void {
  const layout = weightLayout(spec);
  const tensors = layout.map((w) => {
    const t = named.get(w.name);
    if (t === undefined) throw new RangeError(`missing weight ${w.name}`);
    return tf.tensor(t.data, w.shape);
  });
  const ordered = orderLike(model, tensors);
  model.setWeights(ordered);
  tf.dispose(tensors);
}

/** The model's variables in weightLayout order (layer order, then each layer's own weight order). */
export function modelVariables(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.flatMap((l) => l.weights);
}

function modelWeights(model: tf.LayersModel): tf.Tensor[] {
  return modelVariables(model).map((v) => v.read());
}

/** model.setWeights wants model.weights order (trainable first); ours is layer order. */
function orderLike(model: tf.LayersModel, layerOrdered: tf.Tensor[]): tf.Tensor[] {
  const vars = modelVariables(model);
  const byId = new Map(vars.map((v, k) => [v.id, layerOrdered[k]!]));
  return model.weights.map((v) => byId.get(v.id)!);
}

function makeLayer(layer: Layer, name: string, dropoutKey: BuildOptions["dropoutKey"]): tf.layers.Layer {
  switch (layer.type) {
    case "dense":
      return tf.layers.dense({ name, units: layer.units, activation: layer.activation, useBias: layer.useBias });
    case "conv2d":
      return tf.layers.conv2d({ name, filters: layer.filters, kernelSize: layer.kernelSize, strides: layer.strides, padding: layer.padding, activation: layer.activation, useBias: layer.useBias });
    case "maxPooling2d":
      return tf.layers.maxPooling2d({ name, poolSize: layer.poolSize, strides: layer.strides ?? layer.poolSize, padding: layer.padding });
    case "flatten":
      return tf.layers.flatten({ name });
    case "dropout": {
      const seed = dropoutKey === undefined ? 0 : Number.parseInt(subSeed(initSeed(dropoutKey.seed, dropoutKey.miner), name).slice(2, 10), 16);
      return tf.layers.dropout({ name, rate: layer.rate, seed });
    }
    case "batchNormalization":
      return tf.layers.batchNormalization({ name, momentum: layer.momentum, epsilon: layer.epsilon });
  }
}
