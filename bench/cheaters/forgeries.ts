import * as tf from "@tensorflow/tfjs";
import type { Checkpoint } from "../../agents/ml/checkpoints.js";
import type { NamedTensors } from "../../agents/ml/init.js";
import type { Dataset } from "../../agents/ml/datasets/dataset.js";
import { DEFAULT_TOLERANCE, l2Distance } from "../../agents/ml/replay.js";
import type { TaskSpec } from "../../agents/ml/spec.js";
import { createSession } from "../../agents/ml/train.js";
import type { Hyper, Session } from "../../agents/ml/train.js";

/**
 * Adaptive cheaters against the replay check (issue 13 item 4). Each trains its first `honest`
 * segments as an honest miner would (the largest updates of a run come first, so the largest-update
 * pick lands on real work) and fakes the rest of the checkpoints towards `target`, the model it wants
 * to claim without computing it (in the bench: the same miner's honest final weights, so every
 * construction has the watermark and the accuracy of a real run). Honest segments are computed
 * from the claimed start, so they replay; a fake segment is one whose claimed end the miner did
 * not compute from its claimed start.
 *
 * - interpolated: checkpoints on the straight line from the last honest one to the target.
 * - copied: the last honest update added again and again (Adam's late updates look alike).
 * - scaled: two thirds of a segment's steps trained, the update scaled by 1.5 (issue 13's measured
 *   forgery was the last segment's update ×1.5).
 * - infinitesimal: updates of 1e-6 of an honest one (Jia et al. 2021, "Proof-of-Learning:
 *   Definitions and Practice", §VI: a verifier with an absolute tolerance accepts any step below it).
 * - toleranceRiding: every segment trained, then nudged towards the target by half the tolerance
 *   (Fang et al. 2023, "Proof-of-Learning is currently more broken than you think": spoofs that stay
 *   within the verifier's tolerance at each step). Replays; buys at most tolerance/2 of the path.
 * - jump: a shortcut: the claimed run ends one segment after the honest ones, at the target (a
 *   shorter run than the target needs; late in training the jump is smaller than early honest updates).
 * - momentForgery: the same shortcut with every weight update real: but checkpoint `honest` carries forged Adam moments
 *   (v = 1, m chosen so the next segment's momentum walks to the target) and the claimed run ends one
 *   segment later, at the target: the weights jump while every segment replays from its claimed
 *   weights, and only segment honest − 1 (whose claimed end holds the forged moments) is fake. The adversarial-example spoofs of Zhang et al. 2022
 *   ("Adversarial examples for proof-of-learning") need the prover to choose the batches; here the
 *   keccak order and the task's data fix them, so crafting state is the remaining lever.
 */

export const CONSTRUCTIONS = ["interpolated", "copied", "scaled", "infinitesimal", "toleranceRiding", "jump", "momentForgery"] as const;
export type Construction = (typeof CONSTRUCTIONS)[number];

export type CheatContext = { spec: TaskSpec; seed: string; miner: string; data: Dataset; hyper: Hyper };

export type Forgery = {
  checkpoints: Checkpoint[];
  /** Segments whose claimed end was not computed from their claimed start (weights or optimizer state). */
  fake: number[];
  /** Training steps the cheater ran, against `every × segments` for an honest run. */
  stepsTrained: number;
};

/** The claimed run of `kind` with the first `honest` segments of `reference` (an honest run) trained. */
export async function forge(kind: Construction, ctx: CheatContext, reference: readonly Checkpoint[], honest: number, target: NamedTensors): Promise<Forgery> {
  const segments = reference.length - 1;
  if (honest < 0 || honest > segments) throw new RangeError(`honest must be 0..${segments}, got ${honest}`);
  if (kind === "jump" && honest >= segments) throw new RangeError(`jump needs 0..${segments - 1} honest segments`);
  if (kind === "momentForgery" && (honest < 1 || honest >= segments)) throw new RangeError(`momentForgery needs 1..${segments - 1} honest segments: checkpoint 0 has no Adam moments to forge`);
  const claimed: Checkpoint[] = reference.slice(0, honest + 1).map((c) => ({ ...c }));
  const fake: number[] = [];
  let stepsTrained = reference[honest]!.step;
  const lastUpdate = honest > 0 ? minus(reference[honest]!.weights, reference[honest - 1]!.weights) : minus(reference[1]!.weights, reference[0]!.weights);
  const session = createSession(ctx.spec, { seed: ctx.seed, miner: ctx.miner, data: ctx.data }, ctx.hyper);
  try {
    if (kind === "jump") {
      const to = reference[honest + 1]!;
      claimed.push({ i: honest + 1, step: to.step, weights: new Map(target), optimizer: withIterations(claimed[honest]!.optimizer, to.step) });
      return { checkpoints: claimed, fake: [honest], stepsTrained: claimed[honest]!.step };
    }
    if (kind === "momentForgery") {
      // Claims a run of honest + 1 segments whose last one walks, on forged moments, to the target.
      const at = claimed[honest]!;
      const to = reference[honest + 1]!;
      claimed[honest] = { ...at, optimizer: forgedMoments(ctx, at, target, to.step) };
      claimed.push(await trainFrom(session, claimed[honest]!, to.step, honest + 1));
      return { checkpoints: claimed, fake: [honest - 1], stepsTrained: to.step };
    }
    for (let k = honest; k < segments; k++) {
      const from = claimed[k]!;
      const to = reference[k + 1]!;
      const next = (weights: NamedTensors, optimizer: NamedTensors = withIterations(from.optimizer, to.step)): Checkpoint => ({ i: k + 1, step: to.step, weights, optimizer });
      switch (kind) {
        case "interpolated":
          claimed.push(next(lerp(claimed[honest]!.weights, target, (k + 1 - honest) / (segments - honest))));
          break;
        case "copied":
          claimed.push(next(plus(from.weights, lastUpdate, 1)));
          break;
        case "infinitesimal":
          claimed.push(next(plus(from.weights, lastUpdate, 1e-6)));
          break;
        case "scaled": {
          const steps = Math.ceil(((to.step - from.step) * 2) / 3);
          const partial = await trainFrom(session, from, from.step + steps, k + 1);
          stepsTrained += steps;
          claimed.push(next(plus(from.weights, minus(partial.weights, from.weights), 1.5), withIterations(partial.optimizer, to.step)));
          break;
        }
        case "toleranceRiding": {
          const real = await trainFrom(session, from, to.step, k + 1);
          stepsTrained += to.step - from.step;
          const update = l2Distance(real.weights, from.weights);
          const towards = minus(target, real.weights);
          const norm = l2Distance(target, real.weights);
          claimed.push({ ...real, weights: norm === 0 ? real.weights : plus(real.weights, towards, (0.5 * DEFAULT_TOLERANCE * update) / norm) });
          continue; // within tolerance by construction: not counted as fake
        }
      }
      fake.push(k);
    }
    return { checkpoints: claimed, fake, stepsTrained };
  } finally {
    session.dispose(true);
  }
}

async function trainFrom(session: Session, from: Checkpoint, toStep: number, i: number): Promise<Checkpoint> {
  await session.restore(from);
  for (let step = from.step; step < toStep; step++) tf.dispose(session.step(step));
  return session.snapshot(i, toStep);
}

/**
 * Adam moments for checkpoint `at` that walk the weights to `target` by step `lastStep`: with v = V
 * the gradients' own share is negligible, and the first moment m decays by β1 a step, so its
 * remaining steps move each weight by −m · Σ_s lr β1^(s+1) / ((1 − β1^(t+1+s)) (√(β2^(s+1) V / (1 − β2^(t+1+s))) + ε)).
 * Slots are tfjs Adam's order: iterations, then m for each trainable tensor, then v for each.
 */
export function forgedMoments(ctx: CheatContext, at: Checkpoint, target: NamedTensors, lastStep: number): NamedTensors {
  const [beta1, beta2, epsilon, V] = [0.9, 0.999, 1e-7, 1];
  const t = at.step;
  let c = 0;
  for (let s = 0; s < lastStep - t; s++) {
    const vHat = (Math.pow(beta2, s + 1) * V) / (1 - Math.pow(beta2, t + 1 + s));
    c += (ctx.hyper.learningRate * Math.pow(beta1, s + 1)) / ((1 - Math.pow(beta1, t + 1 + s)) * (Math.sqrt(vHat) + epsilon));
  }
  const names = [...at.weights.keys()];
  const slots = [...at.optimizer.keys()].filter((n) => n !== "optimizer.iterations");
  if (slots.length !== 2 * names.length) throw new Error(`expected Adam's 2 slots per weight tensor, found ${slots.length} for ${names.length}`);
  const out: NamedTensors = new Map([["optimizer.iterations", at.optimizer.get("optimizer.iterations")!]]);
  names.forEach((name, j) => {
    const w = at.weights.get(name)!;
    const goal = target.get(name)!;
    const m = at.optimizer.get(slots[j]!)!;
    if (m.data.length !== w.data.length) throw new Error(`slot ${slots[j]} does not match ${name}`);
    out.set(slots[j]!, { shape: m.shape, data: w.data.map((v, k) => -(goal.data[k]! - v) / c) });
  });
  for (const name of slots.slice(names.length)) {
    const v = at.optimizer.get(name)!;
    out.set(name, { shape: v.shape, data: new Float32Array(v.data.length).fill(V) });
  }
  return out;
}

function withIterations(optimizer: NamedTensors, step: number): NamedTensors {
  const out = new Map(optimizer);
  if (out.has("optimizer.iterations")) out.set("optimizer.iterations", { shape: [], data: Float32Array.of(step) });
  return out;
}

function combine(a: NamedTensors, b: NamedTensors, f: (x: number, y: number) => number): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, t] of a) out.set(name, { shape: t.shape, data: t.data.map((x, k) => f(x, b.get(name)!.data[k]!)) });
  return out;
}

export const minus = (a: NamedTensors, b: NamedTensors): NamedTensors => combine(a, b, (x, y) => x - y);
export const plus = (a: NamedTensors, d: NamedTensors, scale: number): NamedTensors => combine(a, d, (x, y) => x + scale * y);
export const lerp = (a: NamedTensors, b: NamedTensors, w: number): NamedTensors => combine(a, b, (x, y) => x + w * (y - x));
