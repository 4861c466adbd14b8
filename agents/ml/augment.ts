import * as tf from "@tensorflow/tfjs";
import { KeccakStream, augmentSeed } from "./seeds.js";

/**
 * Seeded random-shift augmentation (spec `augment.shift`): on every training step each example of
 * the batch moves by its own (dx, dy) in [-shift, shift]², drawn from the keccak stream of
 * keccak256(abi.encode(seed, miner, step, "augment")), so a validator replaying a segment draws the
 * same shifts. The shift applies to the input of the first trainable layer (the SML's feature map
 * behind an SML, the image for a plain model), with zero fill; it is one gather of rows computed
 * here, outside the gradient, and never applies at evaluation.
 */

/** The shifts of one step's `count` examples: [dx0, dy0, dx1, dy1, ...], each in [-shift, shift]. */
export function drawShifts(seed: string, miner: string, step: number, count: number, shift: number): Int8Array {
  const out = new Int8Array(2 * count);
  if (shift === 0) return out;
  const stream = new KeccakStream(augmentSeed(seed, miner, step));
  for (let i = 0; i < out.length; i++) out[i] = stream.nextBelow(2 * shift + 1) - shift;
  return out;
}

/**
 * For a batch of [n, h, w] pixels: the source pixel of every output pixel when example i moves by
 * (dx, dy) (output (y, x) reads input (y - dy, x - dx)), or n·h·w (the appended zero row) when
 * that falls outside the image.
 */
export function shiftSources(shifts: Int8Array, h: number, w: number): Int32Array {
  const n = shifts.length / 2;
  const zero = n * h * w;
  const out = new Int32Array(zero);
  for (let i = 0; i < n; i++) {
    const dx = shifts[2 * i]!;
    const dy = shifts[2 * i + 1]!;
    for (let y = 0; y < h; y++) {
      const sy = y - dy;
      for (let x = 0; x < w; x++) {
        const sx = x - dx;
        out[(i * h + y) * w + x] = sy < 0 || sy >= h || sx < 0 || sx >= w ? zero : (i * h + sy) * w + sx;
      }
    }
  }
  return out;
}

/** Shifts each example of an [n, h, w, c] batch by its (dx, dy), filling with zeros (a copy: bit-exact). */
export function shiftBatch(batch: tf.Tensor, shifts: Int8Array): tf.Tensor {
  const [n, h, w, c] = batch.shape as [number, number, number, number];
  return tf.tidy(() => {
    const pixels = tf.concat([tf.reshape(batch, [n * h * w, c]), tf.zeros([1, c])], 0);
    return tf.reshape(tf.gather(pixels, tf.tensor1d(shiftSources(shifts, h, w), "int32")), [n, h, w, c]);
  });
}
