import { DEFAULT_MAX_ARTIFACT_BYTES, decodeArtifact, maxArtifactBytes, modelHash } from "./artifact.js";
import type { ArtifactHyper, ArtifactV1 } from "./artifact.js";
import { MAX_CHECKPOINTS, checkManifest, nonFinite, weightsHash } from "./checkpoints.js";
import type { Checkpoint, CheckpointManifest } from "./checkpoints.js";
import { describeError, describeValue, truncate } from "./describe.js";
import { MlError, isMlError } from "./errors.js";
import { initialWeights } from "./init.js";
import type { NamedTensors } from "./init.js";
import { buildModel } from "./model.js";
import { stepsPerEpoch } from "./order.js";
import { replayCheck } from "./replay.js";
import type { Replayer, SegmentResult } from "./replay.js";
import { generateSml } from "./sml.js";
import { canonicalSpecJson, weightLayout } from "./spec.js";
import type { TaskSpec } from "./spec.js";
import type { Dataset } from "./datasets/dataset.js";
import { evaluate } from "./train.js";
import { extractWatermark, watermarkKey } from "./watermark.js";
import type { WatermarkReading } from "./watermark.js";

/**
 * A validator's verdict on one submission (DESIGN §5): the test accuracy in basis points, or 0 with
 * the first check that failed. Never throws for a bad submission; every failure is a reason, with a
 * detail of bounded length. Cheap checks come first: the size before the hash, the checkpoint count
 * and last step before the Merkle tree, so a hostile file costs little before it is refused.
 */

export type VerifyReason = "hash" | "artifact" | "spec" | "miner" | "sml" | "checkpoints" | "init" | "watermark" | "replay" | "hyper";

export type VerifyResult =
  | { scoreBps: number; reason?: undefined; watermark: WatermarkReading; replay?: SegmentResult[] }
  | { scoreBps: 0; reason: VerifyReason; detail: string };

export type VerifyInput = {
  /** The task the submission was made for; the artifact must name it. */
  taskId: bigint | string;
  spec: TaskSpec;
  seed: string;
  miner: string;
  test: Dataset;
  artifact: Uint8Array;
  expectedModelHash: string;
  manifest: CheckpointManifest;
  fetchCheckpoint: (i: number) => Promise<Checkpoint>;
  /** Training data, needed for replay; with it the checkpoints' step count is checked against the artifact's hyperparameters. */
  train?: Dataset;
  /** Off (false) or which segments to replay and how strictly. */
  replay: false | { seed2: string; r?: number; tolerance?: number; replayer?: Replayer };
  /** Cap on the artifact's size, on top of the bound the spec implies (and of DEFAULT_MAX_ARTIFACT_BYTES). */
  maxBytes?: number;
};

class Reject extends Error {
  readonly reason: VerifyReason;
  constructor(reason: VerifyReason, detail: string) {
    super(detail);
    this.reason = reason;
  }
}

export async function verifySubmission(input: VerifyInput): Promise<VerifyResult> {
  try {
    return await check(input);
  } catch (e) {
    if (e instanceof Reject) return { scoreBps: 0, reason: e.reason, detail: truncate(e.message) };
    if (isMlError(e)) return { scoreBps: 0, reason: e.code === "CHECKPOINT_GAP" ? "checkpoints" : "artifact", detail: truncate(`${e.code}: ${e.message}`) };
    // Anything else came from a malformed submission reaching TensorFlow.js or the callback.
    return { scoreBps: 0, reason: "checkpoints", detail: `unexpected: ${describeError(e)}` };
  }
}

async function check(input: VerifyInput): Promise<VerifyResult> {
  const { spec, seed, miner } = input;
  // Size before hash: hashing 200 MB costs seconds; comparing a length costs nothing.
  const maxBytes = Math.min(input.maxBytes ?? DEFAULT_MAX_ARTIFACT_BYTES, DEFAULT_MAX_ARTIFACT_BYTES, maxArtifactBytes(spec));
  if (input.artifact.length > maxBytes) {
    throw new MlError("ARTIFACT_TOO_LARGE", `artifact: ${input.artifact.length} bytes exceeds the limit of ${maxBytes} (the spec's model and header)`);
  }
  const hash = modelHash(input.artifact);
  if (hash !== input.expectedModelHash.toLowerCase()) throw new Reject("hash", `artifact hashes to ${hash}, the chain has ${describeValue(input.expectedModelHash)}`);
  const a: ArtifactV1 = decodeArtifact(input.artifact, { maxBytes });

  if (canonicalSpecJson(a.spec) !== canonicalSpecJson(spec)) throw new Reject("spec", "artifact's spec differs from the task's");
  if (a.watermark.bits !== spec.watermark.bits || a.watermark.strength !== spec.watermark.strength) throw new Reject("spec", "artifact's watermark parameters differ from the spec's");
  if (a.taskId !== input.taskId.toString()) throw new Reject("spec", `artifact names task ${a.taskId}, this is task ${input.taskId}`);
  if (a.seed !== seed.toLowerCase()) throw new Reject("spec", `artifact seed ${a.seed} is not the task's`);
  if (a.miner !== miner.toLowerCase()) throw new Reject("miner", `artifact names miner ${a.miner}, submitted by ${miner}`);
  // Replay runs with what the miner says it trained with; the spec bounds what it may say.
  const hyper = a.hyper;
  const outside = outsideSpec(spec, hyper);
  if (outside !== undefined) throw new Reject("hyper", outside);

  const sml = a.tensors.get("sml.kernel")!;
  const expectedSml = taskSml(seed, spec);
  if (!sameBits(new Map([["sml.kernel", sml]]), new Map([["sml.kernel", expectedSml]]))) throw new Reject("sml", "sml.kernel is not the task's Secure Mapping Layer");

  // Counts and the last step before the Merkle tree: a million claimed checkpoints cost a minute to hash.
  const entries = input.manifest.entries;
  if (entries.length !== a.checkpoints.count || entries.length > MAX_CHECKPOINTS) {
    throw new Reject("checkpoints", `the manifest lists ${entries.length} checkpoints, the artifact says ${a.checkpoints.count} (at most ${MAX_CHECKPOINTS})`);
  }
  if (input.train !== undefined && entries.length > 0) {
    // An honest run (stopped early or not) ends with a checkpoint after its last step.
    const steps = hyper.epochs * stepsPerEpoch(input.train.n, hyper.batchSize);
    const last = entries.at(-1)!.step;
    if (last !== steps) {
      throw new Reject("hyper", `the checkpoints end at step ${describeValue(last)}, but ${hyper.epochs} epoch(s) of batch ${hyper.batchSize} over ${input.train.n} examples are ${steps} steps`);
    }
  }
  checkManifest(input.manifest, a.checkpoints);
  const fetched = new Map<number, Checkpoint>();
  const fetch = async (i: number): Promise<Checkpoint> => {
    const have = fetched.get(i);
    if (have !== undefined) return have;
    const cp = await input.fetchCheckpoint(i);
    if (cp.i !== i || cp.step !== entries[i]!.step || weightsHash(cp) !== entries[i]!.weightsHash) {
      throw new Reject("checkpoints", `checkpoint ${i} does not hash to its manifest entry`);
    }
    // A NaN makes every distance to or from this checkpoint NaN, which no comparison orders.
    const bad = nonFinite(cp);
    if (bad !== undefined) throw new Reject("checkpoints", `checkpoint ${i} holds a non-finite value: ${describeValue(bad.tensor)}[${bad.index}] is ${bad.value}`);
    fetched.set(i, cp);
    return cp;
  };

  const expectedInit = initialWeights(seed, miner, weightLayout(spec), new Set(["sml.kernel"]));
  const first = await fetch(0);
  if (!sameBits(first.weights, expectedInit)) {
    throw new Reject("init", "checkpoint 0 is not the seeded initialisation for this seed and miner");
  }

  const kernelName = weightLayout(spec).find((w) => w.trainable && w.name.endsWith(".kernel"))!.name;
  const kernel = a.tensors.get(kernelName)!;
  const watermark = extractWatermark(watermarkKey(seed, miner, spec.watermark.bits, kernel.shape), kernel.data, kernel.shape);
  if (!watermark.detected) throw new Reject("watermark", `${watermark.matches}/${watermark.bits} watermark bits match (p = ${watermark.pValue.toExponential(2)})`);

  const last = await fetch(entries.length - 1);
  const trained = new Map(a.tensors);
  trained.delete("sml.kernel"); // checkpoints leave the task's SML out
  if (!sameBits(last.weights, trained)) throw new Reject("checkpoints", "the last checkpoint is not the submitted model");

  let replay: SegmentResult[] | undefined;
  if (input.replay !== false) {
    if (input.train === undefined) throw new RangeError("replay needs the training data");
    const all: Checkpoint[] = [];
    for (let i = 0; i < entries.length; i++) all.push(await fetch(i));
    const result = await replayCheck(spec, { seed, miner, data: input.train, hyper }, all, input.replay);
    replay = result.segments;
    if (!result.accepted) {
      const worst = result.segments.reduce((x, y) => (y.distance > x.distance || Number.isNaN(y.distance) ? y : x));
      throw new Reject("replay", `segment ${worst.i} replays to a normalised distance of ${worst.distance.toExponential(3)}`);
    }
  }

  const model = buildModel(spec, { smlWeights: sml, initialWeights: a.tensors });
  try {
    const accuracy = await evaluate(model, input.test);
    // A valid model scores at least 1 bps: 0 means invalid, and an invalid submission forfeits its bond.
    return { scoreBps: Math.max(1, Math.round(accuracy * 10_000)), watermark, replay };
  } finally {
    model.dispose();
  }
}

/**
 * The task's SML, generated once per task: a validator verifies every submission of a task, and
 * the SML depends only on the task (for the MNIST MLP preset it is a fifth of a check's cost).
 */
let lastSml: { key: string; value: { shape: number[]; data: Float32Array } } | undefined;
function taskSml(seed: string, spec: TaskSpec): { shape: number[]; data: Float32Array } {
  const key = `${seed.toLowerCase()}|${JSON.stringify(spec.sml)}|${spec.input.shape.join("x")}`;
  if (lastSml?.key !== key) lastSml = { key, value: generateSml(seed, spec.sml, spec.input.shape) };
  return lastSml.value;
}

/** Why the artifact's hyperparameters break the spec (fixed values exact, free ones in range), or undefined. */
function outsideSpec(spec: TaskSpec, h: ArtifactHyper): string | undefined {
  const check = (name: string, v: number, r: number | { free: { min: number; max: number } }) => {
    if (typeof r === "number") return v === r ? undefined : `${name} ${v} differs from the spec's fixed ${r}`;
    return v >= r.free.min && v <= r.free.max ? undefined : `${name} ${v} is outside the spec's free range [${r.free.min}, ${r.free.max}]`;
  };
  return (
    check("batchSize", h.batchSize, spec.batchSize) ??
    check("learningRate", h.learningRate, spec.optimizer.learningRate) ??
    (h.epochs <= spec.epochs.max ? undefined : `epochs ${h.epochs} exceeds the spec's maximum ${spec.epochs.max}`)
  );
}

/** Same names, same float32 bits (NaN-safe, -0 ≠ +0). */
function sameBits(a: NamedTensors, b: NamedTensors): boolean {
  if (a.size !== b.size) return false;
  for (const [name, ta] of a) {
    const tb = b.get(name);
    if (tb === undefined || tb.data.length !== ta.data.length) return false;
    const ua = new Uint8Array(ta.data.buffer, ta.data.byteOffset, ta.data.byteLength);
    const ub = new Uint8Array(tb.data.buffer, tb.data.byteOffset, tb.data.byteLength);
    if (Buffer.compare(ua, ub) !== 0) return false;
  }
  return true;
}
