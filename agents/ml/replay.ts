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
 * so it means the same for any model size and learning rate; the same for the optimizer's moments,
 * and the larger of the two counts (segmentDistance). See docs/ml.md for how DEFAULT_TOLERANCE was
 * measured and for the cheaters that chose the segments (chooseSegments).
 */

export const DEFAULT_REPLAY_SEGMENTS = 5; // bench/results/cheaters.json: two uniform draws and the three jump picks
// Measured (docs/ml.md): honest replay on the training backend is bit-exact (0; adam-powers.ts), across
// backends ≤ 2.5e-5 (cpu, wasm, webgpu; Adam moments ≤ 1.2e-5); forgeries ≥ 0.04.
export const DEFAULT_TOLERANCE = 1e-3;

const ITERATIONS = "optimizer.iterations";

export type ReplayOptions = { seed: string; miner: string; data: Dataset; hyper: Hyper };
/** Who re-runs the segments: replaySegments (TensorFlow.js) by default, or another engine's (replayTorch). */
/** Replays segments elsewhere (the torch engine): each segment's end state, weights and optimizer state. */
export type Replayer = (spec: TaskSpec, opts: ReplayOptions, segments: readonly { from: Checkpoint; toStep: number }[]) => Promise<ReplayedState[]>;
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

/** ‖W_{i+1} − W_i‖ for every segment i, a NaN (a non-finite checkpoint) counted as infinite. */
export function updateSizes(checkpoints: readonly Checkpoint[]): number[] {
  return Array.from({ length: Math.max(0, checkpoints.length - 1) }, (_, i) => {
    const size = l2Distance(checkpoints[i + 1]!.weights, checkpoints[i]!.weights);
    return Number.isNaN(size) ? Number.POSITIVE_INFINITY : size;
  });
}

/**
 * Which segments to replay, up to r distinct ones (bench/cheaters.ts measures why; docs/ml.md):
 * 1. one drawn uniformly from `seed2` (keccak256(abi.encode(seed2, "replay"))): a miner who fakes a
 *    share of its segments is caught with at least that probability, whatever their sizes;
 * 2. the largest jump ‖ΔW_i‖ / ‖ΔW_{i−1}‖ (i ≥ 1): a shortcut to a model trained elsewhere shows as an
 *    update much larger than the one before it, even late in training where it is smaller than the
 *    early honest updates;
 * 3. the segment before that jump: the jump replays from the optimizer state its predecessor claims,
 *    and forged Adam moments make an honestly computed segment jump anywhere;
 * 4. the largest update ‖ΔW_i‖ (a jump from the seeded initialisation has no predecessor);
 * 5. more uniform draws from the same stream.
 */
export function chooseSegments(checkpoints: readonly Checkpoint[], r: number, seed2: string): number[] {
  return chooseFromSizes(updateSizes(checkpoints), r, seed2);
}

/** chooseSegments given the segments' update sizes (the cheater bench draws many seeds per run). */
export function chooseFromSizes(sizes: readonly number[], r: number, seed2: string): number[] {
  const segments = sizes.length;
  const chosen: number[] = [];
  const want = Math.min(r, Math.max(segments, 0));
  if (want <= 0) return chosen;
  const add = (i: number) => {
    if (chosen.length < want && i >= 0 && !chosen.includes(i)) chosen.push(i);
  };
  const stream = new KeccakStream(subSeed(seed2, "replay"));
  add(stream.nextBelow(segments));
  const jump = largestFirst(jumpRatios(sizes))[0]!;
  add(jump);
  add(jump - 1);
  add(largestFirst(sizes)[0]!);
  // Further picks: uniform among the segments not chosen yet, from the same stream.
  while (chosen.length < want) {
    const rest = Array.from({ length: segments }, (_, i) => i).filter((i) => !chosen.includes(i));
    add(rest[stream.nextBelow(rest.length)]!);
  }
  return chosen;
}

/** ‖ΔW_i‖ / ‖ΔW_{i−1}‖, 0 for segment 0; a zero or infinite predecessor, or an infinite update, ranks as infinite. */
export function jumpRatios(sizes: readonly number[]): number[] {
  return sizes.map((size, i) => {
    if (i === 0) return 0;
    const ratio = size / sizes[i - 1]!;
    return Number.isNaN(ratio) || sizes[i - 1] === 0 ? Number.POSITIVE_INFINITY : ratio;
  });
}

/** Segment indices by size, largest first (ties: the earlier segment first). Sizes must not be NaN (map it to ∞ first): a NaN would compare as a tie. */
export function largestFirst(sizes: readonly number[]): number[] {
  return sizes
    .map((size, i) => ({ i, size }))
    .sort((a, b) => (a.size === b.size ? a.i - b.i : b.size > a.size ? 1 : -1))
    .map(({ i }) => i);
}

/** Re-runs the steps from `from` up to step `toStep` and returns the weights reached. */
export async function replaySegment(spec: TaskSpec, opts: ReplayOptions, from: Checkpoint, toStep: number): Promise<NamedTensors> {
  const results = await replaySegments(spec, opts, [{ from, toStep }]);
  return results[0]!;
}

/** Several segments on one session: the weights each reaches (see replaySegmentStates). */
export async function replaySegments(spec: TaskSpec, opts: ReplayOptions, segments: readonly { from: Checkpoint; toStep: number }[]): Promise<NamedTensors[]> {
  return (await replaySegmentStates(spec, opts, segments)).map((s) => s.weights);
}

/**
 * Several segments on one session: the weights and optimizer state each reaches. Only the rows
 * their batches use are loaded and mapped through the SML (two segments of 25 steps of 64 touch
 * under half of 7,000 MNIST images).
 */
export async function replaySegmentStates(spec: TaskSpec, opts: ReplayOptions, segments: readonly { from: Checkpoint; toStep: number }[]): Promise<ReplayedState[]> {
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
    const out: ReplayedState[] = [];
    for (const { from, toStep } of segments) {
      await session.restore(from);
      for (let step = from.step; step < toStep; step++) tf.dispose(session.step(step));
      const { weights, optimizer } = await session.snapshot(from.i + 1, toStep);
      out.push({ weights, optimizer });
    }
    return out;
  } finally {
    session.dispose(true);
  }
}

export type ReplayedState = Pick<Checkpoint, "weights" | "optimizer">;

/**
 * How far a replayed segment lands from the claimed checkpoint: the larger of the weights' normalised
 * distance and the optimizer state's (moments normalised by their own change over the segment; an
 * iteration count that differs is infinitely far). Checkpoint i+1's optimizer state is where segment
 * i+1 starts, so a forged one (Adam moments that carry a jump) must fail segment i, not pass it.
 */
export function segmentDistance(replayed: ReplayedState, claimed: Checkpoint, start: Checkpoint): number {
  const weights = normalisedDistance(replayed.weights, claimed.weights, start.weights);
  const iterations = (o: NamedTensors) => o.get(ITERATIONS)?.data[0];
  if (iterations(replayed.optimizer) !== iterations(claimed.optimizer)) return Number.POSITIVE_INFINITY;
  const moments = (o: NamedTensors) => new Map([...o].filter(([name]) => name !== ITERATIONS));
  const [rep, cl] = [moments(replayed.optimizer), moments(claimed.optimizer)];
  if (rep.size !== cl.size) return Number.POSITIVE_INFINITY;
  // Checkpoint 0 holds no moments yet (Adam makes them on its first step): they start at zero.
  const from = moments(start.optimizer);
  for (const [name, t] of cl) if (!from.has(name)) from.set(name, { shape: t.shape, data: new Float32Array(t.data.length) });
  const optimizer = normalisedDistance(rep, cl, from);
  return Math.max(weights, optimizer); // NaN when either is: never within tolerance
}

/** Replays the chosen segments and accepts each whose distance (segmentDistance) is within tolerance. */
export async function replayCheck(
  spec: TaskSpec,
  opts: ReplayOptions,
  checkpoints: readonly Checkpoint[],
  check: { r?: number; tolerance?: number; seed2: string; replayer?: Replayer },
): Promise<{ accepted: boolean; segments: SegmentResult[] }> {
  const tolerance = check.tolerance ?? DEFAULT_TOLERANCE;
  const chosen = chooseSegments(checkpoints, check.r ?? DEFAULT_REPLAY_SEGMENTS, check.seed2);
  const replayed = await (check.replayer ?? replaySegmentStates)(
    spec,
    opts,
    chosen.map((i) => ({ from: checkpoints[i]!, toStep: checkpoints[i + 1]!.step })),
  );
  const segments = chosen.map((i, k) => {
    const distance = segmentDistance(replayed[k]!, checkpoints[i + 1]!, checkpoints[i]!);
    return { i, distance, accepted: distance <= tolerance }; // NaN is never within tolerance
  });
  return { accepted: segments.every((s) => s.accepted), segments };
}
