import * as tf from "@tensorflow/tfjs";
import type { TaskSpec } from "../../../../agents/ml/spec.js";

/**
 * An independent reading of a spec with stock tf.layers (random weights), used to check
 * countModel against tf.LayersModel.countParams() and to run small training steps on a backend.
 * The production builder (agents/ml/model.ts) names weights per weightLayout; this one need not.
 */
export function referenceModel(spec: TaskSpec): tf.Sequential {
  const model = tf.sequential();
  const inputShape = spec.input.shape;
  if (spec.sml.kind === "dense") {
    model.add(tf.layers.dense({ inputShape, units: spec.sml.units, useBias: false, trainable: false }));
  } else {
    model.add(
      tf.layers.conv2d({ inputShape, filters: spec.sml.filters, kernelSize: spec.sml.kernelSize, padding: "same", useBias: false, trainable: false }),
    );
  }
  for (const l of spec.layers) {
    switch (l.type) {
      case "dense":
        model.add(tf.layers.dense({ units: l.units, activation: l.activation, useBias: l.useBias }));
        break;
      case "conv2d":
        model.add(
          tf.layers.conv2d({ filters: l.filters, kernelSize: l.kernelSize, strides: l.strides, padding: l.padding, activation: l.activation, useBias: l.useBias }),
        );
        break;
      case "maxPooling2d":
        model.add(tf.layers.maxPooling2d({ poolSize: l.poolSize, strides: l.strides, padding: l.padding }));
        break;
      case "flatten":
        model.add(tf.layers.flatten());
        break;
      case "dropout":
        model.add(tf.layers.dropout({ rate: l.rate }));
        break;
      case "batchNormalization":
        model.add(tf.layers.batchNormalization({ momentum: l.momentum, epsilon: l.epsilon }));
        break;
    }
  }
  return model;
}
