import * as tf from "@tensorflow/tfjs";
import type { Checkpoint } from "./checkpoints.js";
import type { NamedTensors } from "./init.js";
import { batchIndices } from "./order.js";
import { KeccakStream, subSeed } from "./seeds.js";
import type { TaskSpec } from "./spec.js";
import type { Dataset } from "./datasets/dataset.js";
import { createSession } from "./train.js";
import type { Hyper } from "./train.js";

/**
 * Replay (Proof-of-Learning, D-PoDL): re-run the steps between checkpoint i and i+1 from
 * checkpoint i's weights and optimizer state, on the same batches (keccak order), and compare
 * with checkpoint i+1. The distance is normalised by the segment's own update:
 *   d = ‖replayed − claimed‖₂ / ‖claimed − start‖₂   over every tensor but the SML,
 * so it means the same for any model size and learning rate. See docs/ml.md for how
 * DEFAULT_TOLERANCE was measured.
 */

export const DEFAULT_REPLAY_SEGMENTS = 2;
export const DEFAULT_TOLERANCE = 1e-3; // measured: honest ≤ 3e-6 (cpu, wasm), forged ≥ 0.4 (docs/ml.md)

export type ReplayOptions = { seed: string; miner: string; data: Dataset; hyper: Hyper };
/** Who re-runs the segments: replaySegments (TensorFlow.js) by default, or another engine's (replayTorch). */
export type Replayer = (spec: TaskSpec, opts: ReplayOptions, segments: readonly { from: Checkpoint; toStep: number }[]) => Promise<NamedTensors[]>;
export type SegmentResult = { i: number; distance: number; accepted: boolean };

/** ‖a − b‖₂ over the named tensors both hold, the SML excluded. */
export function l2Distance(a: NamedTensors, b: NamedTensors): number {
  let sum = 0;
  for (const [name, ta] of a) {
    if (name === "sml.kernel") continue;
    const tb = b.get(name);
    if (tb === undefined || tb.data.length !== ta.data.length) return Number.POSITIVE_INFINITY;
    for (let k = 0; k < ta.data.length; k++) {
      const d = ta.data[k]! - tb.data[k]!;
      sum += d * d;
    }
  }
  return Math.sqrt(sum);
}

export function normalisedDistance(replayed: NamedTensors, claimed: NamedTensors, start: NamedTensors): number {
  const num = l2Distance(replayed, claimed);
  const den = l2Distance(claimed, start);
  if (num === 0) return 0;
  return den === 0 ? Number.POSITIVE_INFINITY : num / den;
}

/**
 * Which segments to replay: the first drawn from `seed2` (keccak256(abi.encode(seed2, "replay"))),
 * then the ones with the largest updates ‖W_{i+1} − W_i‖ (NaN counting as infinite), up to r distinct
 * segments.
 */
export function chooseSegments(checkpoints: readonly Checkpoint[], r: number, seed2: string): number[] {
  const segments = checkpoints.length - 1;
  const chosen: number[] = [];
  if (segments <= 0 || r <= 0) return chosen;
  chosen.push(new KeccakStream(subSeed(seed2, "replay")).nextBelow(segments));
  // A NaN size (a non-finite checkpoint) ranks as the largest: `b.size - a.size` is NaN for it,
  // which `||` would read as a tie, so a NaN planted anywhere could push a forged segment out of the sample.
  const bySize = Array.from({ length: segments }, (_, i) => {
    const size = l2Distance(checkpoints[i + 1]!.weights, checkpoints[i]!.weights);
    return { i, size: Number.isNaN(size) ? Number.POSITIVE_INFINITY : size };
  }).sort((a, b) => (a.size === b.size ? a.i - b.i : b.size > a.size ? 1 : -1));
  for (const { i } of bySize) {
    if (chosen.length >= Math.min(r, segments)) break;
    if (!chosen.includes(i)) chosen.push(i);
  }
  return chosen;
}

/** Re-runs the steps from `from` up to step `toStep` and returns the weights reached. */
export async function replaySegment(spec: TaskSpec, opts: ReplayOptions, from: Checkpoint, toStep: number): Promise<NamedTensors> {
  const results = await replaySegments(spec, opts, [{ from, toStep }]);
  return results[0]!;
}

/**
 * Several segments on one session. Only the rows their batches use are loaded and mapped through
 * the SML (two segments of 25 steps of 64 touch under half of 7,000 MNIST images).
 */
export async function replaySegments(spec: TaskSpec, opts: ReplayOptions, segments: readonly { from: Checkpoint; toStep: number }[]): Promise<NamedTensors[]> {
  const { data } = opts;
  const used = new Uint8Array(data.n);
  const perm = new Map<number, Uint32Array>();
  for (const { from, toStep } of segments) {
    for (let step = from.step; step < toStep; step++) for (const r of batchIndices(opts.seed, opts.miner, data.n, opts.hyper.batchSize, step, perm)) used[r] = 1;
  }
  const rows = Uint32Array.from(used.keys()).filter((r) => used[r] === 1);
  const size = data.inputShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(rows.length * size);
  rows.forEach((r, k) => x.set(data.x.subarray(r * size, (r + 1) * size), k * size));
  const subsetData: Dataset = { ...data, x, y: Int32Array.from(rows, (r) => data.y[r]!), n: rows.length };
  const session = createSession(spec, { seed: opts.seed, miner: opts.miner, data: subsetData }, opts.hyper, { rows, fullN: data.n });
  try {
    const out: NamedTensors[] = [];
    for (const { from, toStep } of segments) {
      await session.restore(from);
      for (let step = from.step; step < toStep; step++) tf.dispose(session.step(step));
      out.push((await session.snapshot(from.i + 1, toStep)).weights);
    }
    return out;
  } finally {
    session.dispose(true);
  }
}

/** Replays the chosen segments and accepts each whose normalised distance is within tolerance. */
export async function replayCheck(
  spec: TaskSpec,
  opts: ReplayOptions,
  checkpoints: readonly Checkpoint[],
  check: { r?: number; tolerance?: number; seed2: string; replayer?: Replayer },
): Promise<{ accepted: boolean; segments: SegmentResult[] }> {
  const tolerance = check.tolerance ?? DEFAULT_TOLERANCE;
  const chosen = chooseSegments(checkpoints, check.r ?? DEFAULT_REPLAY_SEGMENTS, check.seed2);
  const replayed = await (check.replayer ?? replaySegments)(
    spec,
    opts,
    chosen.map((i) => ({ from: checkpoints[i]!, toStep: checkpoints[i + 1]!.step })),
  );
  const segments = chosen.map((i, k) => {
    const distance = normalisedDistance(replayed[k]!, checkpoints[i + 1]!.weights, checkpoints[i]!.weights);
    return { i, distance, accepted: distance <= tolerance }; // NaN is never within tolerance
  });
  return { accepted: segments.every((s) => s.accepted), segments };
}
