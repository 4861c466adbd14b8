import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import type { Checkpoint } from "../../../agents/ml/checkpoints.js";
import type { NamedTensors } from "../../../agents/ml/init.js";
import { chooseSegments, DEFAULT_TOLERANCE, l2Distance, normalisedDistance, replayCheck, replaySegments } from "../../../agents/ml/replay.js";
import { createSession } from "../../../agents/ml/train.js";
import { irisDataset, irisRun, IRIS_SPEC, MINER, OTHER_MINER, SEED } from "./helpers/iris-run.js";

const SEED2 = `0x${"77".repeat(32)}`;

function perturbed(w: NamedTensors, relative: number): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, t] of w) {
    out.set(name, { shape: t.shape, data: name === "sml.kernel" ? t.data : t.data.map((v, k) => v * (1 + relative * Math.sin(k + 1))) });
  }
  return out;
}

describe("ml/replay: checkpoint segment replay", function () {
  this.timeout(120_000);
  let checkpoints: Checkpoint[];
  let hyper: Awaited<ReturnType<typeof irisRun>>["hyper"];
  const opts = () => ({ seed: SEED, miner: MINER, data: irisDataset(), hyper });

  before(async () => {
    await tf.setBackend("cpu");
    const run = await irisRun();
    checkpoints = run.checkpoints;
    hyper = run.hyper;
  });

  it("chooses r distinct segments, the first drawn from seed2, deterministically", () => {
    const a = chooseSegments(checkpoints, 2, SEED2);
    expect(a).to.have.length(2);
    expect(chooseSegments(checkpoints, 2, SEED2)).to.deep.equal(a);
    expect(new Set(a).size).to.equal(2);
    expect(chooseSegments(checkpoints.slice(0, 2), 2, SEED2)).to.deep.equal([0]);
  });

  it("replays on only the rows a segment's batches use, bit for bit as a session on all the data", async () => {
    const from = checkpoints[3]!;
    const toStep = from.step + 2; // two batches of 16: a subset of Iris' 150 rows
    const [subset] = await replaySegments(IRIS_SPEC, opts(), [{ from, toStep }]);
    const full = createSession(IRIS_SPEC, { seed: SEED, miner: MINER, data: irisDataset() }, hyper);
    try {
      await full.restore(from);
      for (let step = from.step; step < toStep; step++) tf.dispose(full.step(step));
      const want = (await full.snapshot(4, toStep)).weights;
      for (const [name, t] of want) expect(Buffer.from(subset!.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).to.equal(true);
      expect(l2Distance(subset!, from.weights), "the two steps moved the weights").to.be.above(0);
    } finally {
      full.dispose(true);
    }
  });

  it("accepts every honest segment", async () => {
    const segs = checkpoints.slice(0, -1).map((from, i) => ({ from, toStep: checkpoints[i + 1]!.step }));
    const replayed = await replaySegments(IRIS_SPEC, opts(), segs);
    for (const [i, w] of replayed.entries()) {
      expect(normalisedDistance(w, checkpoints[i + 1]!.weights, checkpoints[i]!.weights)).to.be.at.most(DEFAULT_TOLERANCE);
    }
    const check = await replayCheck(IRIS_SPEC, opts(), checkpoints, { seed2: SEED2 });
    expect(check.accepted).to.equal(true);
  });

  it("rejects perturbed weights, skipped steps and another miner's batches", async () => {
    const i = 4;
    const from = checkpoints[i]!;
    const claimed = checkpoints[i + 1]!;
    const [honest, skipped] = await replaySegments(IRIS_SPEC, opts(), [
      { from, toStep: claimed.step },
      { from, toStep: claimed.step - 5 },
    ]);
    const [otherBatches] = await replaySegments(IRIS_SPEC, { ...opts(), miner: OTHER_MINER }, [{ from, toStep: claimed.step }]);
    expect(normalisedDistance(honest!, claimed.weights, from.weights)).to.be.at.most(DEFAULT_TOLERANCE);
    // A forger's checkpoint i+1 is each of these; the validator's honest replay lands elsewhere.
    for (const forged of [perturbed(claimed.weights, 0.01), skipped!, otherBatches!]) {
      expect(normalisedDistance(honest!, forged, from.weights)).to.be.above(DEFAULT_TOLERANCE);
    }
    const forgedRun = checkpoints.map((c, k) => (k === i + 1 ? { ...c, weights: perturbed(c.weights, 0.01) } : c));
    const check = await replayCheck(IRIS_SPEC, opts(), forgedRun, { seed2: SEED2, r: checkpoints.length });
    expect(check.accepted).to.equal(false);
    expect(check.segments.filter((s) => !s.accepted).map((s) => s.i).sort()).to.deep.equal([i, i + 1]);
  });
});
