import * as tf from "@tensorflow/tfjs";
import { buildModel, buildPlainModel, getNamedWeights, modelLayout, setNamedWeights, trainableVariables } from "./model.js";
import { initialWeights } from "./init.js";
import type { NamedTensors } from "./init.js";
import { ARTIFACT_FORMAT } from "./artifact.js";
import type { ArtifactV1 } from "./artifact.js";
import { manifestOf, weightsHash } from "./checkpoints.js";
import type { Checkpoint, CheckpointManifest, ManifestEntry } from "./checkpoints.js";
import { batchIndices, stepsPerEpoch } from "./order.js";
import { generateSml } from "./sml.js";
import { fixedOrMin, weightLayout } from "./spec.js";
import type { TaskSpec } from "./spec.js";
import type { Dataset } from "./datasets/dataset.js";
import { watermarkKey, watermarkLoss, watermarkTensors } from "./watermark.js";
import { restoreAdamPowers } from "./adam-powers.js";
import { drawShifts, shiftBatch } from "./augment.js";
import { learningRateAt, setLearningRate } from "./lr-schedule.js";

/**
 * The training loop: seeded init, keccak batch order, the watermark regulariser, checkpoints every
 * `checkpointEvery` steps. Deterministic given spec, seed, miner and data on one backend. The
 * entry point chooses the backend; this module only uses whichever is active.
 *
 * The SML is fixed and first, so its output for a sample is the same in every epoch: when the
 * mapped data fits in SML_CACHE_BYTES we map the dataset once and train the layers after it on
 * the mapped features (the same arithmetic as mapping each batch, done once instead of per epoch).
 */

export const SML_CACHE_BYTES = 256 << 20;

export type Hyper = { batchSize: number; learningRate: number; epochs: number };

export type ProgressEvent =
  | { type: "step"; step: number; epoch: number; loss: number | undefined }
  /** The checkpoint itself rides along (a worker transfers its buffers; its hash is already in the manifest). */
  | { type: "checkpoint"; i: number; step: number; checkpoint: Checkpoint }
  | { type: "epoch"; epoch: number; step: number; loss: number; elapsedMs: number; model: tf.LayersModel };

export type TrainOptions = {
  seed: string;
  miner: string;
  data: Dataset;
  hyper?: Partial<Hyper>;
  /** Defaults to spec.watermark.strength; 0 trains without the regulariser. */
  watermarkStrength?: number;
  /** Start from these weights instead of the seeded init (fine-tuning in the bench). */
  startWeights?: NamedTensors;
  /** Train the model without its SML (the bench's PoLe baseline only). */
  plain?: boolean;
  /** Map the dataset through the SML once when it fits (default); false maps every batch. */
  smlCache?: boolean;
  /** Read the loss back every this many steps for progress events (a GPU sync); 0 = only per epoch. */
  lossEvery?: number;
  onProgress?: (e: ProgressEvent) => void | Promise<void>;
  /**
   * Asked after each epoch but the last (after its progress event): true ends training there, with
   * a last checkpoint at that step, and `hyper.epochs` is then the most it trains. The result's
   * `hyper.epochs` and `steps` say what was trained (the miner trains on until its watermark reads).
   */
  stopAfterEpoch?: (e: { epoch: number; step: number; model: tf.LayersModel }) => boolean | Promise<boolean>;
};

export type TrainResult = {
  model: tf.LayersModel;
  weights: NamedTensors;
  checkpoints: Checkpoint[];
  manifest: CheckpointManifest;
  steps: number;
  hyper: Hyper;
  history: { epoch: number; loss: number }[];
  trainMs: number;
};

export function resolveHyper(spec: TaskSpec, h: Partial<Hyper> = {}): Hyper {
  return {
    batchSize: h.batchSize ?? fixedOrMin(spec.batchSize),
    learningRate: h.learningRate ?? fixedOrMin(spec.optimizer.learningRate),
    epochs: h.epochs ?? spec.epochs.max,
  };
}

/** Trains a model for `hyper.epochs` epochs. The caller disposes `result.model`. */
export async function train(spec: TaskSpec, opts: TrainOptions): Promise<TrainResult> {
  const hyper = resolveHyper(spec, opts.hyper);
  const started = performance.now();
  const session = createSession(spec, opts, hyper);
  const { data } = opts;
  const perEpoch = stepsPerEpoch(data.n, hyper.batchSize);
  const total = perEpoch * hyper.epochs;
  const checkpoints: Checkpoint[] = [];
  // Hashed as taken: a listener may hand the checkpoint's buffers away (to another thread).
  const entries: ManifestEntry[] = [];
  const checkpoint = async (step: number): Promise<void> => {
    const i = checkpoints.length;
    const cp = await session.snapshot(i, step);
    checkpoints.push(cp);
    entries.push({ i, step, weightsHash: weightsHash(cp) });
    await opts.onProgress?.({ type: "checkpoint", i, step, checkpoint: cp });
  };
  await checkpoint(0);
  const history: { epoch: number; loss: number }[] = [];
  let epochs = hyper.epochs;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      let lossSum: tf.Scalar = tf.scalar(0);
      for (let s = 0; s < perEpoch; s++) {
        const step = epoch * perEpoch + s;
        const loss = session.step(step);
        const next = tf.add(lossSum, loss) as tf.Scalar;
        tf.dispose([lossSum, loss]);
        lossSum = next;
        const done = step + 1;
        if (opts.lossEvery && done % opts.lossEvery === 0) {
          await opts.onProgress?.({ type: "step", step: done, epoch, loss: (await lossSum.data())[0]! / (s + 1) });
        }
        if (done % spec.checkpointEvery === 0 || done === total) await checkpoint(done);
      }
      const loss = (await lossSum.data())[0]! / perEpoch;
      lossSum.dispose();
      history.push({ epoch, loss });
      const done = (epoch + 1) * perEpoch;
      await opts.onProgress?.({ type: "epoch", epoch, step: done, loss, elapsedMs: performance.now() - started, model: session.model });
      if (epoch + 1 < epochs && (await opts.stopAfterEpoch?.({ epoch, step: done, model: session.model }))) {
        epochs = epoch + 1;
        if (checkpoints.at(-1)!.step !== done) await checkpoint(done);
      }
    }
  } catch (e) {
    session.dispose(true);
    throw e;
  }
  const weights = await getNamedWeights(session.model);
  session.dispose(false);
  return {
    model: session.model,
    weights,
    checkpoints,
    manifest: manifestOf(entries, spec.checkpointEvery),
    steps: epochs * perEpoch,
    hyper: { ...hyper, epochs },
    history,
    trainMs: performance.now() - started,
  };
}

export type Session = {
  model: tf.LayersModel;
  /** One optimizer step on global step `step`'s batch; returns the loss (caller disposes). */
  step(step: number): tf.Scalar;
  snapshot(i: number, step: number): Promise<Checkpoint>;
  /** Loads a checkpoint's weights and optimizer state. */
  restore(cp: Checkpoint): Promise<void>;
  dispose(withModel: boolean): void;
};

/**
 * A model, an optimizer and the data on the backend, ready to run any global step; shared by
 * training and replay so both do exactly the same arithmetic.
 */
/**
 * `rows` (replay): `data` holds only these rows, ascending, of a dataset of `fullN` rows; batch
 * order is still drawn over `fullN`, and every step must use listed rows only.
 */
export type RowSubset = { rows: Uint32Array; fullN: number };

export function createSession(spec: TaskSpec, opts: TrainOptions, hyper: Hyper, subset?: RowSubset): Session {
  const { seed, miner, data } = opts;
  const n = subset?.fullN ?? data.n;
  let local: Int32Array | undefined;
  if (subset !== undefined) {
    local = new Int32Array(subset.fullN).fill(-1);
    subset.rows.forEach((r, k) => (local![r] = k));
  }
  let model: tf.LayersModel;
  let sml: { shape: number[]; data: Float32Array } | undefined;
  if (opts.plain) {
    model = buildPlainModel(spec);
    setNamedWeights(model, opts.startWeights ?? initialWeights(seed, miner, modelLayout(model)));
  } else {
    sml = generateSml(seed, spec.sml, spec.input.shape);
    const init = opts.startWeights ?? initialWeights(seed, miner, weightLayout(spec), new Set(["sml.kernel"]));
    model = buildModel(spec, { smlWeights: sml, initialWeights: init, dropoutKey: { seed, miner } });
  }
  const layers = model.layers;
  const hasSml = !opts.plain;
  const head = hasSml ? layers.slice(1) : layers;
  const vars = trainableVariables(model);
  const varList = vars.map((v) => v.read() as tf.Variable);
  const firstKernel = vars.find((v) => v.originalName.endsWith("/kernel"))!;
  const strength = opts.watermarkStrength ?? spec.watermark.strength;
  const wm = strength > 0 ? watermarkTensors(watermarkKey(seed, miner, spec.watermark.bits, firstKernel.shape as number[])) : undefined;
  const optimizer = makeOptimizer(spec, hyper.learningRate);

  // Inputs on the backend once; mapped through the SML once when that fits.
  const x = tf.tensor(data.x, [data.n, ...data.inputShape]);
  const y = tf.tensor1d(data.y, "int32");
  const smlOutputBytes = hasSml ? (data.x.length / data.inputShape.reduce((a, b) => a * b, 1)) * layers[0]!.outputShape.slice(1).reduce((a: number, b) => a * (b as number), 1) * 4 : 0;
  const cached = hasSml && opts.smlCache !== false && smlOutputBytes <= SML_CACHE_BYTES;
  let features = x;
  if (cached) {
    features = mapInChunks(layers[0]!, x);
    x.dispose();
  }
  // The first trainable layer's input: the SML's output (cached or mapped here), shifted when the spec augments.
  const shift = spec.augment?.shift ?? 0;
  const firstInput = (xb: tf.Tensor, step: number): tf.Tensor => {
    const mapped = hasSml && !cached ? (layers[0]!.apply(xb, { training: true }) as tf.Tensor) : xb;
    return shift > 0 ? shiftBatch(mapped, drawShifts(seed, miner, step, mapped.shape[0]!, shift)) : mapped;
  };
  const forward = (start: tf.Tensor): tf.Tensor => head.reduce((h, l) => l.apply(h, { training: true }) as tf.Tensor, start);
  const perm = new Map<number, Uint32Array>();
  const perEpoch = stepsPerEpoch(n, hyper.batchSize);

  return {
    model,
    step(step) {
      const idx = batchIndices(seed, miner, n, hyper.batchSize, step, perm);
      const rows = local === undefined ? Int32Array.from(idx) : Int32Array.from(idx, (i) => local![i]!);
      if (rows.includes(-1)) throw new RangeError(`step ${step} needs rows outside the session's subset`);
      setLearningRate(optimizer, learningRateAt(spec, hyper.learningRate, Math.floor(step / perEpoch)));
      return tf.tidy(() => {
        const indices = tf.tensor1d(rows, "int32");
        const xb = firstInput(tf.gather(features, indices), step);
        const yb = tf.gather(y, indices);
        const cost = optimizer.minimize(
          () => {
            const probs = forward(xb);
            let loss = sparseCrossEntropy(probs, yb, spec.classes);
            if (wm !== undefined) loss = tf.add(loss, watermarkLoss(firstKernel.read(), wm.x, wm.b, strength)) as tf.Scalar;
            return loss;
          },
          true,
          varList,
        );
        return cost!;
      });
    },
    async snapshot(i, step) {
      const state = await optimizer.getWeights();
      const values = await Promise.all(state.map(async (w) => Float32Array.from((await w.tensor.data()) as ArrayLike<number>)));
      const opt: NamedTensors = new Map();
      state.forEach((w, k) => opt.set(k === 0 ? "optimizer.iterations" : `optimizer.${k - 1}`, { shape: [...w.tensor.shape], data: values[k]! }));
      // getWeights wraps the iteration count in a fresh tensor; the slots are the optimizer's own.
      state[0]?.tensor.dispose();
      const weights = await getNamedWeights(model);
      weights.delete("sml.kernel");
      return { i, step, weights, optimizer: opt };
    },
    async restore(cp) {
      setNamedWeights(model, sml === undefined ? cp.weights : new Map([...cp.weights, ["sml.kernel", sml]]));
      const entries = [...cp.optimizer.entries()];
      if (entries.length === 0) return;
      const values = entries.map(([name, t], k) => ({
        name,
        tensor: k === 0 ? tf.scalar(t.data[0]!, "int32") : tf.tensor(t.data, t.shape),
      }));
      await optimizer.setWeights(values);
      tf.dispose(values.map((v) => v.tensor));
      restoreAdamPowers(optimizer, cp.optimizer.get("optimizer.iterations")?.data[0] ?? 0);
    },
    dispose(withModel) {
      tf.dispose([features, y]);
      if (wm !== undefined) tf.dispose([wm.x, wm.b]);
      optimizer.dispose();
      if (withModel) model.dispose();
    },
  };
}

/** Mean sparse categorical cross-entropy on softmax outputs, clipped as Keras does. */
export function sparseCrossEntropy(probs: tf.Tensor, labels: tf.Tensor, classes: number): tf.Scalar {
  return tf.tidy(() => {
    const clipped = tf.clipByValue(probs, 1e-7, 1 - 1e-7);
    const picked = tf.sum(tf.mul(tf.log(clipped), tf.oneHot(labels as tf.Tensor1D, classes)), -1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/** Test accuracy as a fraction, evaluated in chunks (read back asynchronously, as webgpu needs). */
export async function evaluate(model: tf.LayersModel, data: Dataset, chunk = 1024): Promise<number> {
  let correct = 0;
  const size = data.inputShape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < data.n; start += chunk) {
    const end = Math.min(start + chunk, data.n);
    const hits = tf.tidy(() => {
      const xb = tf.tensor(data.x.subarray(start * size, end * size), [end - start, ...data.inputShape]);
      // One forward pass per chunk: predict's default batch of 32 made scoring 5× slower.
      const pred = tf.argMax(model.predict(xb, { batchSize: end - start }) as tf.Tensor, -1);
      return tf.sum(tf.cast(tf.equal(pred, tf.tensor1d(data.y.subarray(start, end), "int32")), "int32"));
    });
    correct += (await hits.data())[0]!;
    hits.dispose();
  }
  return correct / data.n;
}

function makeOptimizer(spec: TaskSpec, lr: number): tf.Optimizer {
  switch (spec.optimizer.name) {
    case "sgd":
      return tf.train.sgd(lr);
    case "adam":
      return tf.train.adam(lr);
    case "rmsprop":
      return tf.train.rmsprop(lr);
  }
}

function mapInChunks(layer: tf.layers.Layer, x: tf.Tensor, chunk = 4096): tf.Tensor {
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < x.shape[0]!; start += chunk) {
    const size = Math.min(chunk, x.shape[0]! - start);
    parts.push(tf.tidy(() => layer.apply(tf.slice(x, start, size), { training: false }) as tf.Tensor));
  }
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}

/** The artifact v1 content of a finished run, with the hyperparameters it trained with (encode with encodeArtifact). */
export function artifactOf(spec: TaskSpec, run: Pick<TrainResult, "weights" | "manifest" | "hyper">, meta: { taskId: string; seed: string; miner: string; manifestCid?: string }): ArtifactV1 {
  return {
    format: ARTIFACT_FORMAT,
    taskId: meta.taskId,
    miner: meta.miner.toLowerCase() as `0x${string}`,
    seed: meta.seed.toLowerCase() as `0x${string}`,
    spec,
    watermark: { bits: spec.watermark.bits, strength: spec.watermark.strength },
    hyper: { batchSize: run.hyper.batchSize, learningRate: run.hyper.learningRate, epochs: run.hyper.epochs },
    checkpoints: {
      root: run.manifest.root as `0x${string}`,
      count: run.manifest.entries.length,
      every: run.manifest.every,
      ...(meta.manifestCid === undefined ? {} : { manifestCid: meta.manifestCid }),
    },
    tensors: run.weights,
  };
}
