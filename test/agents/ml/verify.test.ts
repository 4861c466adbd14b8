import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { encodeArtifact, modelHash } from "../../../agents/ml/artifact.js";
import { buildManifest } from "../../../agents/ml/checkpoints.js";
import type { Checkpoint, CheckpointManifest } from "../../../agents/ml/checkpoints.js";
import { DEFAULT_REPLAY_SEGMENTS } from "../../../agents/ml/replay.js";
import { generateSml } from "../../../agents/ml/sml.js";
import { parseSpec } from "../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../agents/ml/spec.js";
import { artifactOf, train } from "../../../agents/ml/train.js";
import type { TrainResult } from "../../../agents/ml/train.js";
import { verifySubmission } from "../../../agents/ml/verify.js";
import type { VerifyInput } from "../../../agents/ml/verify.js";
import { irisDataset, irisRun, IRIS_SPEC, MINER, OTHER_MINER, SEED } from "./helpers/iris-run.js";

const SEED2 = `0x${"77".repeat(32)}`;

type Run = Pick<TrainResult, "weights" | "manifest" | "checkpoints" | "hyper">;

/** What a validator gets for a submission: artifact bytes, hash on chain, manifest, checkpoint source. */
function submission(run: Run, miner: string, overrides: Partial<VerifyInput> = {}, spec: TaskSpec = IRIS_SPEC): VerifyInput {
  const artifact = encodeArtifact(artifactOf(spec, run, { taskId: "7", seed: SEED, miner }));
  return {
    taskId: "7",
    spec,
    seed: SEED,
    miner,
    test: irisDataset(),
    train: irisDataset(),
    artifact,
    expectedModelHash: modelHash(artifact),
    manifest: run.manifest,
    fetchCheckpoint: async (i: number) => run.checkpoints[i]!,
    replay: { seed2: SEED2 },
    ...overrides,
  };
}

describe("ml/verify: scoring a submission", function () {
  this.timeout(120_000);
  let run: TrainResult;

  before(async () => {
    await tf.setBackend("cpu");
    run = await irisRun();
  });

  it("scores an honest Iris submission by its test accuracy, with replay", async () => {
    const result = await verifySubmission(submission(run, MINER));
    expect(result.reason, JSON.stringify(result)).to.equal(undefined);
    expect(result.scoreBps).to.be.above(8500);
    if (result.reason === undefined) {
      expect(result.watermark.detected).to.equal(true);
      expect(result.replay).to.have.length(DEFAULT_REPLAY_SEGMENTS);
    }
  });

  it("gives 0 for a hash that is not the one on chain", async () => {
    const r = await verifySubmission(submission(run, MINER, { expectedModelHash: `0x${"00".repeat(32)}` }));
    expect(r).to.include({ scoreBps: 0, reason: "hash" });
  });

  it("gives 0 for a truncated artifact (reason artifact), without throwing", async () => {
    const s = submission(run, MINER);
    const cut = s.artifact.subarray(0, s.artifact.length - 5);
    const r = await verifySubmission({ ...s, artifact: cut, expectedModelHash: modelHash(cut) });
    expect(r).to.include({ scoreBps: 0, reason: "artifact" });
  });

  it("gives 0 for an artifact with a wrong SML (reason sml)", async () => {
    const weights = new Map(run.weights);
    weights.set("sml.kernel", generateSml(`0x${"99".repeat(32)}`, IRIS_SPEC.sml, IRIS_SPEC.input.shape));
    const r = await verifySubmission(submission({ ...run, weights }, MINER));
    expect(r).to.include({ scoreBps: 0, reason: "sml" });
  });

  it("gives 0 for an artifact claiming another miner: init and watermark are the claimant's", async () => {
    // Another miner resubmits this miner's run under its own name.
    const stolen = await verifySubmission(submission(run, OTHER_MINER));
    expect(stolen).to.include({ scoreBps: 0, reason: "init" });
    // The other miner starts from its own init but trains without the watermark.
    const unmarked = await train(IRIS_SPEC, { seed: SEED, miner: OTHER_MINER, data: irisDataset(), hyper: { epochs: 8 }, watermarkStrength: 0 });
    unmarked.model.dispose();
    const r = await verifySubmission(submission(unmarked, OTHER_MINER, { replay: false }));
    expect(r).to.include({ scoreBps: 0, reason: "watermark" });
  });

  it("gives 0 for a checkpoint list with a gap, or a checkpoint that does not match its hash", async () => {
    const entries = run.manifest.entries.filter((e) => e.i !== 3).map((e, k) => ({ ...e, i: k }));
    const gappy: CheckpointManifest = { ...run.manifest, entries };
    expect(await verifySubmission(submission(run, MINER, { manifest: gappy }))).to.include({ scoreBps: 0, reason: "checkpoints" });
    const swapped = async (i: number): Promise<Checkpoint> => run.checkpoints[i === 0 ? 1 : i]!;
    expect(await verifySubmission(submission(run, MINER, { fetchCheckpoint: swapped }))).to.include({ scoreBps: 0, reason: "checkpoints" });
  });

  it("gives 0 when a consistent-looking checkpoint chain does not replay (reason replay)", async () => {
    const last = run.checkpoints.length - 1;
    const bump = (c: Checkpoint): Checkpoint => ({
      ...c,
      weights: new Map([...c.weights].map(([n, t]) => [n, n === "layers.1.bias" ? { shape: t.shape, data: t.data.map((v) => v + 0.05) } : t])),
    });
    const checkpoints = run.checkpoints.map((c, k) => (k === last ? bump(c) : c));
    const weights = new Map([...checkpoints[last]!.weights, ["sml.kernel", run.weights.get("sml.kernel")!]]);
    const forged = { weights, checkpoints, manifest: buildManifest(checkpoints, IRIS_SPEC.checkpointEvery), hyper: run.hyper };
    const r = await verifySubmission(submission(forged, MINER, { replay: { seed2: SEED2, r: checkpoints.length } }));
    expect(r).to.include({ scoreBps: 0, reason: "replay" });
  });
});

/**
 * Iris with the learning rate and batch size left to the miner. Watermark strength 1 embeds the 8
 * bits within these few epochs (the preset's 0.01 needs more, and misses some seeds).
 */
const FREE_SPEC = parseSpec({
  ...JSON.parse(JSON.stringify(IRIS_SPEC)),
  name: "iris-free",
  optimizer: { name: "adam", learningRate: { free: { min: 0.005, max: 0.05 } } },
  batchSize: { free: { min: 8, max: 32 } },
  epochs: { max: 10 },
  watermark: { bits: 8, strength: 1 },
});
// Not the ranges' lower ends (what a validator would assume without the artifact's record).
const CHOSEN = { batchSize: 16, learningRate: 0.02, epochs: 6 };

describe("ml/verify: hyperparameters the miner chose", function () {
  this.timeout(120_000);
  let run: TrainResult;
  const free = (r: Run, overrides: Partial<VerifyInput> = {}) => submission(r, MINER, overrides, FREE_SPEC);

  before(async () => {
    await tf.setBackend("cpu");
    run = await train(FREE_SPEC, { seed: SEED, miner: MINER, data: irisDataset(), hyper: CHOSEN });
    run.model.dispose();
  });

  it("replays an honest run with the hyperparameters its artifact records", async () => {
    expect(run.hyper).to.deep.equal(CHOSEN);
    const result = await verifySubmission(free(run, { replay: { seed2: SEED2, r: 3 } }));
    expect(result.reason, JSON.stringify(result)).to.equal(undefined);
    expect(result.scoreBps).to.be.above(8500);
    if (result.reason === undefined) {
      expect(result.replay).to.have.length(3);
      for (const s of result.replay!) expect(s.accepted).to.equal(true);
    }
  });

  it("gives 0 (reason hyper) for values outside the free ranges, over epochs.max, or off a fixed value", async () => {
    const claims: [TaskSpec, Partial<typeof CHOSEN>, RegExp][] = [
      [FREE_SPEC, { batchSize: 64 }, /batchSize 64 is outside the spec's free range \[8, 32\]/],
      [FREE_SPEC, { batchSize: 4 }, /batchSize 4 is outside/],
      [FREE_SPEC, { learningRate: 0.1 }, /learningRate 0.1 is outside/],
      [FREE_SPEC, { learningRate: 0.001 }, /learningRate 0.001 is outside/],
      [FREE_SPEC, { epochs: 11 }, /epochs 11 exceeds the spec's maximum 10/],
      [IRIS_SPEC, { batchSize: 15 }, /batchSize 15 differs from the spec's fixed 16/],
      [IRIS_SPEC, { learningRate: 0.02 }, /learningRate 0.02 differs from the spec's fixed 0.01/],
    ];
    for (const [spec, claim, detail] of claims) {
      const r = await verifySubmission(submission({ ...run, hyper: { ...CHOSEN, ...claim } }, MINER, {}, spec));
      expect(r, JSON.stringify(claim)).to.include({ scoreBps: 0, reason: "hyper" });
      if (r.reason !== undefined) expect(r.detail).to.match(detail);
    }
  });

  it("gives 0 (reason hyper) for epochs or a batch size the checkpoints' step count contradicts", async () => {
    // 6 epochs of 10 steps end at step 60; 5 epochs, or batches of 8 (19 steps an epoch), do not.
    for (const claim of [{ epochs: 5 }, { batchSize: 8 }]) {
      const r = await verifySubmission(free({ ...run, hyper: { ...CHOSEN, ...claim } }));
      expect(r, JSON.stringify(claim)).to.include({ scoreBps: 0, reason: "hyper" });
      if (r.reason !== undefined) expect(r.detail).to.match(/the checkpoints end at step 60/);
    }
  });

  it("gives 0 (reason replay) for an artifact that lies about its batch size or learning rate", async () => {
    // Batches of 15 also make 10 steps an epoch over 150 examples: only replay tells them apart.
    for (const claim of [{ batchSize: 15 }, { learningRate: 0.03 }]) {
      const r = await verifySubmission(free({ ...run, hyper: { ...CHOSEN, ...claim } }));
      expect(r, JSON.stringify(claim)).to.include({ scoreBps: 0, reason: "replay" });
    }
  });
});
