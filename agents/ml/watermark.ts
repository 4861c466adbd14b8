import * as tf from "@tensorflow/tfjs";
import type { NamedTensors } from "./init.js";
import { initSeed, KeccakStream, subSeed } from "./seeds.js";
import { weightLayout } from "./spec.js";
import type { TaskSpec } from "./spec.js";

/**
 * DLBC's watermark, after Uchida et al. (2017): T bits b and a T × M projection X, both from the
 * stream keyed keccak256(abi.encode(keccak256(abi.encode(seed, miner)), "watermark")), are embedded
 * in the first trainable layer's kernel W (shape [..., M·, out]) through the regulariser
 *   λ · Σ_t max(0, m − s_t · (X · w̄)_t),   s_t = 2b_t − 1,   w̄ = W reshaped to [M, out], averaged over out
 * (summed over the bits, as Uchida's E_R is).
 * Uchida's BCE(sigmoid(X · w̄), b) has the same sign target but never stops pulling, and Adam's
 * steps ignore the gradient's scale, so λ would not bound its effect; the hinge stops once every
 * bit clears the margin m.
 * Extraction reads bit t as [(X · w̄)_t > 0]; the confidence is the probability of at least that many
 * matching bits by chance, P[Binomial(T, ½) ≥ matches].
 */

/**
 * A model carries a key's watermark when every bit matches, or when chance would explain its
 * matches with p ≤ this (so a few flipped bits of a long watermark are tolerated). With T bits a
 * stranger's model passes with probability about max(2^−T, this): use T ≥ 20 for real tasks.
 */
export const DETECTION_P_VALUE = 1e-6;

/** The hinge's margin on (X · w̄)_t: a bit counts as embedded once its projection clears this. */
export const WATERMARK_MARGIN = 0.5;

export type WatermarkKey = { bits: Uint8Array; projection: Float32Array; rows: number; cols: number };

/** b ∈ {0,1}^T, then X row-major with entries uniform in [−1, 1). */
export function watermarkKey(seed: string, miner: string, bits: number, kernelShape: readonly number[]): WatermarkKey {
  const cols = kernelShape.slice(0, -1).reduce((a, b) => a * b, 1);
  const stream = new KeccakStream(subSeed(initSeed(seed, miner), "watermark"));
  const b = new Uint8Array(bits);
  for (let t = 0; t < bits; t++) b[t] = stream.nextUint32() & 1;
  const projection = new Float32Array(bits * cols);
  for (let i = 0; i < projection.length; i++) projection[i] = 2 * stream.nextUnit() - 1;
  return { bits: b, projection, rows: bits, cols };
}

/** The regulariser's tensors, made once per training run (callers dispose them); b holds signs ±1. */
export function watermarkTensors(key: WatermarkKey): { x: tf.Tensor2D; b: tf.Tensor1D } {
  return { x: tf.tensor2d(key.projection, [key.rows, key.cols]), b: tf.tensor1d(Float32Array.from(key.bits, (v) => 2 * v - 1)) };
}

/** λ · Σ hinge(s · X · w̄) as a scalar tensor, differentiable in `kernel`. */
export function watermarkLoss(kernel: tf.Tensor, x: tf.Tensor2D, b: tf.Tensor1D, strength: number): tf.Scalar {
  return tf.tidy(() => {
    const out = kernel.shape[kernel.shape.length - 1]!;
    const wBar = tf.mean(tf.reshape(kernel, [-1, out]), 1);
    const logits = tf.squeeze(tf.matMul(x, tf.reshape(wBar, [-1, 1])), [1]);
    return tf.mul(tf.sum(tf.relu(tf.sub(WATERMARK_MARGIN, tf.mul(b, logits)))), strength) as tf.Scalar;
  });
}

export type WatermarkReading = { matches: number; bits: number; pValue: number; detected: boolean };

/** Extract the bits from a kernel (plain float arithmetic, no tensors) and say how sure we are. */
export function extractWatermark(key: WatermarkKey, kernel: Float32Array, kernelShape: readonly number[]): WatermarkReading {
  const out = kernelShape[kernelShape.length - 1]!;
  if (kernel.length !== key.cols * out) throw new RangeError(`kernel has ${kernel.length} values, the key expects ${key.cols} × ${out}`);
  const wBar = new Float64Array(key.cols);
  for (let r = 0; r < key.cols; r++) {
    let s = 0;
    for (let o = 0; o < out; o++) s += kernel[r * out + o]!;
    wBar[r] = s / out;
  }
  let matches = 0;
  for (let t = 0; t < key.rows; t++) {
    let dot = 0;
    for (let r = 0; r < key.cols; r++) dot += key.projection[t * key.cols + r]! * wBar[r]!;
    if ((dot > 0 ? 1 : 0) === key.bits[t]) matches++;
  }
  const pValue = binomialTail(key.rows, matches);
  return { matches, bits: key.rows, pValue, detected: matches === key.rows || pValue <= DETECTION_P_VALUE };
}

/** The tensor the watermark lives in: the first trainable kernel in weightLayout order. */
export function watermarkTensorName(spec: TaskSpec): string {
  return weightLayout(spec).find((w) => w.trainable && w.name.endsWith(".kernel"))!.name;
}

/**
 * Reads `miner`'s watermark from named weights as verifySubmission does (a miner checks its own
 * model before committing to it); the key is made once, on the first reading.
 */
export function watermarkReader(spec: TaskSpec, seed: string, miner: string): (weights: NamedTensors) => WatermarkReading {
  const name = watermarkTensorName(spec);
  let key: WatermarkKey | undefined;
  return (weights) => {
    const kernel = weights.get(name);
    if (kernel === undefined) throw new RangeError(`no ${name} among the weights`);
    key ??= watermarkKey(seed, miner, spec.watermark.bits, kernel.shape);
    return extractWatermark(key, kernel.data, kernel.shape);
  };
}

/** P[Binomial(n, ½) ≥ k], summed in log space so large n neither overflows nor underflows. */
export function binomialTail(n: number, k: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  // log C(n, j) built up from j = k; terms shrink for j > n/2, and we sum them all.
  let logC = 0;
  for (let j = 1; j <= k; j++) logC += Math.log((n - j + 1) / j);
  const logHalfN = n * Math.log(0.5);
  let total = 0;
  for (let j = k; j <= n; j++) {
    total += Math.exp(logC + logHalfN);
    logC += Math.log((n - j) / (j + 1));
  }
  return Math.min(1, total);
}
