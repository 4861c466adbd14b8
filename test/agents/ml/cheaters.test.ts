import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { forge } from "../../../bench/cheaters/forgeries.js";
import type { CheatContext, Construction } from "../../../bench/cheaters/forgeries.js";
import type { Checkpoint } from "../../../agents/ml/checkpoints.js";
import type { NamedTensors } from "../../../agents/ml/init.js";
import { chooseSegments, DEFAULT_REPLAY_SEGMENTS, DEFAULT_TOLERANCE, jumpRatios, largestFirst, normalisedDistance, replayCheck, replaySegmentStates, segmentDistance, updateSizes } from "../../../agents/ml/replay.js";
import { irisDataset, irisRun, IRIS_SPEC, MINER, SEED } from "./helpers/iris-run.js";

const seeds = Array.from({ length: 8 }, (_, k) => `0x${(k + 1).toString(16).padStart(64, "0")}`);

describe("ml/replay against adaptive cheaters (bench/cheaters)", function () {
  this.timeout(120_000);
  let cps: Checkpoint[];
  let ctx: CheatContext;
  let target: NamedTensors;

  before(async () => {
    await tf.setBackend("cpu");
    const run = await irisRun();
    cps = run.checkpoints;
    ctx = { spec: IRIS_SPEC, seed: SEED, miner: MINER, data: irisDataset(), hyper: run.hyper };
    // The model a shortcut claims without training for it: here the run's own final weights.
    target = cps.at(-1)!.weights;
  });

  const replayAll = async (claimed: readonly Checkpoint[]) => {
    const states = await replaySegmentStates(IRIS_SPEC, ctx, claimed.slice(0, -1).map((from, i) => ({ from, toStep: claimed[i + 1]!.step })));
    return {
      full: states.map((s, i) => segmentDistance(s, claimed[i + 1]!, claimed[i]!)),
      weightsOnly: states.map((s, i) => normalisedDistance(s.weights, claimed[i + 1]!.weights, claimed[i]!.weights)),
    };
  };

  it("chooses a uniform draw, the largest jump, the segment before it and the largest update", () => {
    const sizes = updateSizes(cps);
    const jump = largestFirst(jumpRatios(sizes))[0]!;
    const largest = largestFirst(sizes)[0]!;
    for (const seed2 of seeds) {
      const chosen = chooseSegments(cps, DEFAULT_REPLAY_SEGMENTS, seed2);
      expect(chosen).to.have.length(DEFAULT_REPLAY_SEGMENTS);
      expect(new Set(chosen).size).to.equal(chosen.length);
      expect(chosen).to.include.members([jump, jump - 1, largest].filter((i) => i >= 0));
      expect(chooseSegments(cps, DEFAULT_REPLAY_SEGMENTS, seed2)).to.deep.equal(chosen);
    }
    // The first pick is the uniform draw: different seeds draw different segments.
    expect(new Set(seeds.map((s) => chooseSegments(cps, 1, s)[0])).size).to.be.above(1);
    expect(chooseSegments(cps, cps.length + 5, seeds[0]!).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: cps.length - 1 }, (_, i) => i));
  });

  it("ranks a segment that jumps after a small one above any steady one", () => {
    expect(jumpRatios([4, 1, 1, 3, 1])).to.deep.equal([0, 0.25, 1, 3, 1 / 3]);
    expect(jumpRatios([1, 0, 2])[2]).to.equal(Number.POSITIVE_INFINITY);
    expect(largestFirst(jumpRatios([4, 1, 1, 3, 1]))[0]).to.equal(3);
  });

  it("honest segments replay within tolerance, weights and Adam moments alike", async () => {
    const { full } = await replayAll(cps);
    for (const d of full) expect(d).to.be.at.most(DEFAULT_TOLERANCE);
  });

  for (const kind of ["interpolated", "copied", "scaled", "infinitesimal"] as Construction[]) {
    it(`${kind}: every faked segment fails replay and every trained one passes`, async () => {
      const forgery = await forge(kind, ctx, cps, 8, target);
      const { full } = await replayAll(forgery.checkpoints);
      full.forEach((d, i) => {
        if (forgery.fake.includes(i)) expect(d, `segment ${i}`).to.be.above(DEFAULT_TOLERANCE);
        else expect(d, `segment ${i}`).to.be.at.most(DEFAULT_TOLERANCE);
      });
      expect(forgery.fake).to.have.length(cps.length - 1 - 8);
    });
  }

  it("a shortcut jump to a model trained elsewhere is rejected under every replay seed", async () => {
    const forgery = await forge("jump", ctx, cps, 6, target);
    for (const seed2 of seeds) {
      const check = await replayCheck(IRIS_SPEC, ctx, forgery.checkpoints, { seed2 });
      expect(check.accepted, seed2).to.equal(false);
    }
  });

  it("forged Adam moments: every segment's weights replay, the moments do not, and every replay seed rejects the run", async () => {
    const forgery = await forge("momentForgery", ctx, cps, 6, target);
    const { full, weightsOnly } = await replayAll(forgery.checkpoints);
    // Before the optimizer state was compared, no choice of segments could catch this.
    for (const d of weightsOnly) expect(d).to.be.at.most(DEFAULT_TOLERANCE);
    expect(full[5]).to.be.above(DEFAULT_TOLERANCE);
    for (const seed2 of seeds) {
      const check = await replayCheck(IRIS_SPEC, ctx, forgery.checkpoints, { seed2 });
      expect(check.accepted, seed2).to.equal(false);
      expect(check.segments.find((s) => !s.accepted)?.i).to.equal(5);
    }
  });

  it("a checkpoint whose iteration count differs from the steps replayed is infinitely far", async () => {
    const [state] = await replaySegmentStates(IRIS_SPEC, ctx, [{ from: cps[2]!, toStep: cps[3]!.step }]);
    const claimed = { ...cps[3]!, optimizer: new Map([...cps[3]!.optimizer, ["optimizer.iterations", { shape: [], data: Float32Array.of(0) }]]) };
    expect(segmentDistance(state!, cps[3]!, cps[2]!)).to.be.at.most(DEFAULT_TOLERANCE);
    expect(segmentDistance(state!, claimed, cps[2]!)).to.equal(Number.POSITIVE_INFINITY);
  });
});
