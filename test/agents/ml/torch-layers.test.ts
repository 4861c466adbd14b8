import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import type { Dataset } from "../../../agents/ml/datasets/dataset.js";
import { forwardTorch, trainTorch } from "../../../agents/ml/engines/torch.js";
import type { NamedTensors } from "../../../agents/ml/init.js";
import { buildModel } from "../../../agents/ml/model.js";
import { normalisedDistance } from "../../../agents/ml/replay.js";
import { KeccakStream } from "../../../agents/ml/seeds.js";
import { parseSpec, weightLayout } from "../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../agents/ml/spec.js";
import { train } from "../../../agents/ml/train.js";
import { torchOrSkip } from "./helpers/torch.js";

const SEED = `0x${"5e".repeat(32)}`;
const MINER = "0x1111111111111111111111111111111111111111";
const base = { version: 1, loss: "sparseCategoricalCrossentropy", metric: "accuracy", batchSize: 8, epochs: { max: 3 }, checkpointEvery: 5, watermark: { bits: 8, strength: 0.1 }, limits: { maxParams: 100_000, maxFlops: 10_000_000 } };

/** Every dense activation, batch normalisation on a flat input, dropout (identity at inference). */
const FLAT = parseSpec({
  ...base,
  name: "flat-kinds",
  input: { shape: [6] },
  classes: 3,
  sml: { kind: "dense", units: 12, bits: 4 },
  layers: [
    { type: "dense", units: 10, activation: "relu" },
    { type: "dense", units: 10, activation: "sigmoid" },
    { type: "batchNormalization", momentum: 0.9, epsilon: 0.01 },
    { type: "dense", units: 9, activation: "tanh" },
    { type: "dropout", rate: 0.3 },
    { type: "dense", units: 8, activation: "elu", useBias: false },
    { type: "dense", units: 7, activation: "softmax" },
    { type: "dense", units: 6, activation: "linear" },
    { type: "dense", units: 3, activation: "softmax" },
  ],
  optimizer: { name: "rmsprop", learningRate: 0.01 },
});

/** Convolutions valid and same (odd sizes, stride 2, an even kernel: TensorFlow's asymmetric padding), pooling valid and same, batch normalisation on images, flatten. */
const IMAGE = parseSpec({
  ...base,
  name: "image-kinds",
  input: { shape: [10, 10, 2] },
  classes: 4,
  sml: { kind: "conv", filters: 3, kernelSize: 3, bits: 4 },
  layers: [
    { type: "conv2d", filters: 4, kernelSize: 3, activation: "relu" },
    { type: "conv2d", filters: 5, kernelSize: 3, strides: 2, padding: "same", activation: "tanh" },
    { type: "batchNormalization" },
    { type: "maxPooling2d", poolSize: 3, strides: 2, padding: "same" },
    { type: "conv2d", filters: 4, kernelSize: 2, padding: "same", activation: "elu", useBias: false },
    { type: "maxPooling2d", poolSize: 2, strides: 1 },
    { type: "flatten" },
    { type: "dense", units: 6, activation: "sigmoid" },
    { type: "dense", units: 4, activation: "softmax" },
  ],
  optimizer: { name: "sgd", learningRate: 0.05 },
});

/** Weights in [-1, 1) from a keccak stream; variances in [0.5, 1.5). */
function randomWeights(spec: TaskSpec, key: string): NamedTensors {
  const s = new KeccakStream(key);
  return new Map(
    weightLayout(spec).map((w) => {
      const size = w.shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: size }, () => (w.name.endsWith("movingVariance") ? 0.5 + s.nextUnit() : 2 * s.nextUnit() - 1));
      return [w.name, { shape: w.shape, data }];
    }),
  );
}

function randomData(spec: TaskSpec, n: number, key: string): Dataset {
  const s = new KeccakStream(key);
  const size = spec.input.shape.reduce((a, b) => a * b, 1);
  return { x: Float32Array.from({ length: n * size }, () => s.nextUnit()), y: Int32Array.from({ length: n }, () => s.nextBelow(spec.classes)), n, inputShape: spec.input.shape, classes: spec.classes };
}

describe("ml/engines/torch: every layer kind the spec allows, in both engines", function () {
  this.timeout(300_000);

  before(async function () {
    await torchOrSkip(this);
    await tf.setBackend("cpu");
  });

  for (const spec of [FLAT, IMAGE]) {
    it(`gives the same forward pass to 1e-5 on the same weights (${spec.name}: ${[...new Set(spec.layers.map((l) => l.type))].join(", ")})`, async () => {
      const weights = randomWeights(spec, `0x${"ab".repeat(32)}`);
      const data = randomData(spec, 16, `0x${"cd".repeat(32)}`);
      const { "sml.kernel": _sml, ...rest } = Object.fromEntries(weights);
      const model = buildModel(spec, { smlWeights: weights.get("sml.kernel")!, initialWeights: new Map(Object.entries(rest)) });
      const expected = tf.tidy(() => (model.predict(tf.tensor(data.x, [data.n, ...data.inputShape])) as tf.Tensor).dataSync() as Float32Array);
      model.dispose();
      const got = await forwardTorch(spec, weights, data.x, data.n);
      expect(got.length).to.equal(expected.length);
      const worst = got.reduce((m, v, k) => Math.max(m, Math.abs(v - expected[k]!)), 0);
      expect(worst).to.be.below(1e-5);
    });
  }

  it("trains the trainable kinds (batch-norm statistics included) with sgd and rmsprop to the tfjs weights", async () => {
    for (const spec of [{ ...FLAT, layers: FLAT.layers.filter((l) => l.type !== "dropout") }, IMAGE]) {
      const data = randomData(spec, 40, `0x${"ef".repeat(32)}`);
      const opts = { seed: SEED, miner: MINER, data, hyper: { epochs: 2 } };
      const tfRun = await train(spec, opts);
      tfRun.model.dispose();
      const torchRun = await trainTorch(spec, opts);
      expect(torchRun.manifest.entries.length).to.equal(tfRun.manifest.entries.length);
      const last = tfRun.checkpoints.length - 1;
      const d = normalisedDistance(torchRun.checkpoints[last]!.weights, tfRun.checkpoints[last]!.weights, tfRun.checkpoints[0]!.weights);
      expect(d, spec.name).to.be.below(1e-4);
      expect([...torchRun.checkpoints[last]!.optimizer.keys()]).to.deep.equal([...tfRun.checkpoints[last]!.optimizer.keys()]);
    }
  });

  it("refuses dropout in training with ENGINE_UNAVAILABLE and the reason", async () => {
    const data = randomData(FLAT, 16, `0x${"ef".repeat(32)}`);
    let error: unknown;
    await trainTorch(FLAT, { seed: SEED, miner: MINER, data, hyper: { epochs: 1 } }).catch((e: unknown) => (error = e));
    expect(error).to.have.property("code", "ENGINE_UNAVAILABLE");
    expect(String(error)).to.match(/layers\.4 is dropout/);
  });

  it("refuses seeded shift augmentation with ENGINE_UNAVAILABLE and the reason", async () => {
    const spec = parseSpec({ ...IMAGE, augment: { shift: 2 } });
    const data = randomData(spec, 16, `0x${"ef".repeat(32)}`);
    let error: unknown;
    await trainTorch(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: 1 } }).catch((e: unknown) => (error = e));
    expect(error).to.have.property("code", "ENGINE_UNAVAILABLE");
    expect(String(error)).to.match(/augment\.shift is set/);
  });

  it("refuses a learning-rate schedule with ENGINE_UNAVAILABLE and the reason", async () => {
    const spec = parseSpec({ ...IMAGE, optimizer: { ...IMAGE.optimizer, decay: { every: 1, factor: 0.5 } } });
    const data = randomData(spec, 16, `0x${"ee".repeat(32)}`);
    let error: unknown;
    await trainTorch(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: 1 } }).catch((e: unknown) => (error = e));
    expect(error).to.have.property("code", "ENGINE_UNAVAILABLE");
    expect(String(error)).to.match(/optimizer\.decay is set/);
  });
});
