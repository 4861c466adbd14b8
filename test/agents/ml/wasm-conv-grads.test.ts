import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { selectBackend } from "../../../agents/ml/backend.js";
import { initialWeights } from "../../../agents/ml/init.js";
import { buildModel } from "../../../agents/ml/model.js";
import { generateSml } from "../../../agents/ml/sml.js";
import { parseSpec, presets, weightLayout } from "../../../agents/ml/spec.js";

type Case = { x: [number, number, number, number]; k: [number, number]; out: number; stride: number; pad: "same" | "valid" };

/** Deterministic values in [−0.5, 0.5), the same on every backend. */
function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5);
}

/** dx and dW of conv2d(x, W) under a fixed upstream gradient dy, on the active backend. */
async function convGrads(c: Case): Promise<{ dx: Float32Array; dw: Float32Array; dwShape: number[] }> {
  const filterShape = [...c.k, c.x[3], c.out] as [number, number, number, number];
  const x = tf.tensor4d(values(c.x.reduce((a, b) => a * b), 1), c.x);
  const w = tf.tensor4d(values(filterShape.reduce((a, b) => a * b), 2), filterShape);
  const y = tf.conv2d(x, w, c.stride, c.pad);
  const dy = tf.tensor(values(y.size, 3), y.shape);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad))([x, w], dy);
  const out = { dx: (await dx!.data()) as Float32Array, dw: (await dw!.data()) as Float32Array, dwShape: dw!.shape };
  tf.dispose([x, w, y, dy, dx!, dw!]);
  return out;
}

/** Normwise relative error: max |a − b| over max |b|. */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  b.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(a[i]! - v));
    scale = Math.max(scale, Math.abs(v));
  });
  return diff / scale;
}

async function on<T>(backend: "cpu" | "wasm", f: () => Promise<T>): Promise<T> {
  await tf.setBackend(backend);
  return await f();
}

const CASES: Case[] = [];
for (const pad of ["same", "valid"] as const) {
  for (const stride of [1, 2, 3]) {
    CASES.push(
      { x: [1, 7, 7, 1], k: [3, 3], out: 2, stride, pad },
      { x: [3, 9, 8, 3], k: [3, 2], out: 5, stride, pad },
      { x: [8, 12, 12, 8], k: [5, 5], out: 16, stride, pad },
      { x: [2, 6, 6, 4], k: [1, 1], out: 3, stride, pad },
      { x: [5, 10, 11, 2], k: [4, 3], out: 4, stride, pad }, // even kernel: "same" pads unevenly
    );
  }
}

const tinyCnn = parseSpec({
  ...JSON.parse(JSON.stringify(presets.mnistCnn)),
  name: "tiny-cnn",
  input: { shape: [10, 10, 1] },
  classes: 2,
  sml: { kind: "conv", filters: 2, kernelSize: 3, bits: 4 },
  layers: [
    { type: "conv2d", filters: 4, kernelSize: 3, activation: "relu" },
    { type: "maxPooling2d", poolSize: 2 },
    { type: "conv2d", filters: 4, kernelSize: 3, strides: 2, padding: "same", activation: "relu" },
    { type: "flatten" },
    { type: "dense", units: 2, activation: "softmax" },
  ],
});

// The backend is process-wide: put the previous one back.
describe("ml/wasm-conv-grads: convolution gradients on the wasm backend", function () {
  this.timeout(120_000);
  let previous: string;
  before(async () => {
    await tf.ready();
    previous = tf.getBackend();
    await selectBackend({ force: "wasm", spec: presets.mnistCnn });
  });
  after(async () => {
    await tf.setBackend(previous);
  });

  it("matches cpu's dx and dW to 1e-5 (max |Δ| / max |cpu|) over shapes, kernels, strides, paddings, channels and batch sizes", async () => {
    for (const c of CASES) {
      const cpu = await on("cpu", () => convGrads(c));
      const wasm = await on("wasm", () => convGrads(c));
      const label = JSON.stringify(c);
      expect(wasm.dwShape, label).to.deep.equal([...c.k, c.x[3], c.out]);
      expect(wasm.dx.length, label).to.equal(c.x.reduce((a, b) => a * b));
      expect(relativeError(wasm.dw, cpu.dw), `dW ${label}`).to.be.below(1e-5);
      expect(relativeError(wasm.dx, cpu.dx), `dx ${label}`).to.be.below(1e-5);
    }
  });

  it("matches cpu's filter gradient for NCHW inputs, run as a kernel", async () => {
    const grad = (): Float32Array => {
      const x = tf.tensor4d(values(2 * 3 * 9 * 8, 4), [2, 3, 9, 8]);
      const dy = tf.tensor4d(values(2 * 5 * 5 * 4, 5), [2, 5, 5, 4]);
      const attrs = { strides: [2, 2], pad: "same", dataFormat: "NCHW", dimRoundingMode: undefined, filterShape: [3, 3, 3, 5] };
      const dw = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      const out = dw.dataSync() as Float32Array;
      tf.dispose([x, dy, dw]);
      return out;
    };
    const cpu = await on("cpu", async () => grad());
    const wasm = await on("wasm", async () => grad());
    expect(relativeError(wasm, cpu)).to.be.below(1e-5);
  });

  it("matches cpu's max-pooling gradient bit for bit and its average-pooling gradient to 1e-5, batches and channels above one", async () => {
    const pools: [number, number, "same" | "valid"][] = [
      [2, 2, "valid"],
      [3, 2, "same"], // overlapping windows: one input can be the maximum of several
      [3, 1, "valid"],
    ];
    const grads = async (): Promise<Float32Array[]> => {
      // Rounded values give ties inside windows, as ReLU's zeros do.
      const x = tf.tidy(() => tf.tensor4d(values(3 * 9 * 9 * 4, 6), [3, 9, 9, 4]).mul(8).round()) as tf.Tensor4D;
      const out: Float32Array[] = [];
      for (const [size, stride, pad] of pools) {
        const weights = tf.tidy(() => tf.maxPool(x, size, stride, pad).onesLike().cumsum(3));
        for (const pool of [tf.maxPool, tf.avgPool]) {
          const g = tf.grad((a: tf.Tensor) => pool(a as tf.Tensor4D, size, stride, pad).mul(weights).sum())(x);
          out.push((await g.data()) as Float32Array);
          g.dispose();
        }
        weights.dispose();
      }
      x.dispose();
      return out;
    };
    const cpu = await on("cpu", grads);
    const wasm = await on("wasm", grads);
    pools.forEach((p, i) => {
      expect(Buffer.from(wasm[2 * i]!.buffer).equals(Buffer.from(cpu[2 * i]!.buffer)), `maxPool ${p}`).to.equal(true);
      expect(relativeError(wasm[2 * i + 1]!, cpu[2 * i + 1]!), `avgPool ${p}`).to.be.below(1e-5);
    });
  });

  it("gives bit-identical gradients when run twice on wasm", async () => {
    await tf.setBackend("wasm");
    for (const c of [CASES[2]!, CASES[9]!, CASES[14]!]) {
      const a = await convGrads(c);
      const b = await convGrads(c);
      expect(Buffer.from(a.dw.buffer).equals(Buffer.from(b.dw.buffer)), JSON.stringify(c)).to.equal(true);
      expect(Buffer.from(a.dx.buffer).equals(Buffer.from(b.dx.buffer)), JSON.stringify(c)).to.equal(true);
    }
  });

  it("trains a small CNN on wasm: its loss falls, and neither tensors nor wasm buffers accumulate", async () => {
    await tf.setBackend("wasm");
    const seed = `0x${"ab".repeat(32)}`;
    const model = buildModel(tinyCnn, {
      smlWeights: generateSml(seed, tinyCnn.sml, tinyCnn.input.shape),
      initialWeights: initialWeights(seed, `0x${"cd".repeat(20)}`, weightLayout(tinyCnn), new Set(["sml.kernel"])),
    });
    const optimizer = tf.train.adam(0.01);
    model.compile({ optimizer, loss: tinyCnn.loss });
    // Label 1: the bright square sits in the top half; label 0: in the bottom half.
    const n = 32;
    const xs = tf.buffer([n, 10, 10, 1]);
    const labels = Float32Array.from({ length: n }, (_, i) => i % 2);
    for (let i = 0; i < n; i++) {
      const row = labels[i] === 1 ? 1 + (i % 3) : 6 + (i % 3);
      const col = i % 7;
      for (let r = row; r < row + 2; r++) for (let c = col; c < col + 3; c++) xs.set(1, i, r, c, 0);
    }
    const x = xs.toTensor();
    const y = tf.tensor1d(labels);
    const losses: number[] = [];
    const counts: { tensors: number; buffers: number }[] = [];
    try {
      for (let step = 0; step < 40; step++) {
        losses.push((await model.trainOnBatch(x, y)) as number);
        if (step === 4 || step === 39) counts.push({ tensors: tf.memory().numTensors, buffers: tf.engine().backend.numDataIds() });
      }
    } finally {
      tf.dispose([x, y]);
      model.dispose();
      optimizer.dispose();
    }
    expect(losses.every(Number.isFinite)).to.equal(true);
    expect(losses[39]!).to.be.below(losses[0]! / 4);
    expect(counts[1]).to.deep.equal(counts[0]);
  });
});
