import * as tf from "@tensorflow/tfjs";
import { MlError } from "./errors.js";

/** One example's prediction: the most probable class and its softmax probability. */
export type Prediction = { index: number; probability: number };

/**
 * The model's most probable class for each of `n` examples (`x` row-major; the model's own input
 * shape), `chunk` examples at a time. Ties go to the lower class index, as argMax does.
 */
export async function predictClasses(model: tf.LayersModel, x: Float32Array, n: number, chunk = 1024): Promise<Prediction[]> {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const per = inputShape.reduce((a, b) => a * b, 1);
  if (x.length !== n * per) {
    throw new MlError("DATASET_INVALID", `inputs hold ${x.length} values; ${n} examples of the model's input [${inputShape}] need ${n * per}`);
  }
  const out: Prediction[] = [];
  for (let start = 0; start < n; start += chunk) {
    const m = Math.min(chunk, n - start);
    const probs = tf.tidy(() => model.predict(tf.tensor(x.subarray(start * per, (start + m) * per), [m, ...inputShape])) as tf.Tensor2D);
    const values = (await probs.data()) as Float32Array;
    const classes = probs.shape[1];
    probs.dispose();
    for (let i = 0; i < m; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (values[i * classes + c]! > values[i * classes + best]!) best = c;
      out.push({ index: best, probability: values[i * classes + best]! });
    }
  }
  return out;
}
