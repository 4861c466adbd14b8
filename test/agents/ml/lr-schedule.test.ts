import { expect } from "chai";
import { loadIris } from "../../../agents/ml/datasets/index.js";
import { isMlError } from "../../../agents/ml/errors.js";
import { learningRateAt } from "../../../agents/ml/lr-schedule.js";
import { DEFAULT_TOLERANCE, replaySegmentStates, segmentDistance } from "../../../agents/ml/replay.js";
import { parseSpec, presets } from "../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../agents/ml/spec.js";
import { train } from "../../../agents/ml/train.js";
import type { TrainResult } from "../../../agents/ml/train.js";

const SEED = `0x${"1d".repeat(32)}`;
const MINER = "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65";
const iris = (decay?: { every: number; factor: number }, name = "adam"): TaskSpec =>
  parseSpec({ ...JSON.parse(JSON.stringify(presets.irisMlp)), optimizer: { name, learningRate: 0.01, ...(decay ? { decay } : {}) }, checkpointEvery: 7 });

function specError(decay: unknown): string {
  try {
    parseSpec({ ...JSON.parse(JSON.stringify(presets.irisMlp)), optimizer: { name: "adam", learningRate: 0.01, decay } });
  } catch (e) {
    if (isMlError(e, "SPEC_INVALID")) return e.message;
    throw e;
  }
  throw new Error("expected SPEC_INVALID");
}

async function distances(spec: TaskSpec, run: TrainResult): Promise<number[]> {
  const data = loadIris();
  const segments = run.checkpoints.slice(0, -1).map((from, i) => ({ from, toStep: run.checkpoints[i + 1]!.step }));
  const replayed = await replaySegmentStates(spec, { seed: SEED, miner: MINER, data, hyper: run.hyper }, segments);
  return replayed.map((r, i) => segmentDistance(r, run.checkpoints[i + 1]!, run.checkpoints[i]!));
}

describe("ml/lr-schedule: the spec's step decay of the learning rate", function () {
  this.timeout(120_000);

  it("multiplies the rate by factor every `every` epochs, and is constant without a schedule", () => {
    expect([0, 1, 2, 3, 4, 5].map((e) => learningRateAt(iris({ every: 2, factor: 0.5 }), 0.01, e))).to.deep.equal([0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]);
    expect(learningRateAt(iris(), 0.01, 40)).to.equal(0.01);
  });

  it("refuses a factor outside (0, 1) and an epoch count below 1, naming the field", () => {
    expect(specError({ every: 2, factor: 1 })).to.match(/spec\.optimizer\.decay\.factor: must be a number above 0 and below 1/);
    expect(specError({ every: 2, factor: 0 })).to.match(/spec\.optimizer\.decay\.factor: must be a number above 0 and below 1/);
    expect(specError({ every: 0, factor: 0.5 })).to.match(/spec\.optimizer\.decay\.every: must be at least 1 epoch/);
    expect(specError({ every: 1.5, factor: 0.5 })).to.match(/spec\.optimizer\.decay\.every: must be a whole number of epochs/);
  });

  it("replays a decayed run at distance 0 in every segment, and tells a run at the constant rate apart after the first decay", async () => {
    const spec = iris({ every: 1, factor: 0.5 });
    const honest = await train(spec, { seed: SEED, miner: MINER, data: loadIris(), hyper: { epochs: 3 } });
    honest.model.dispose();
    expect(new Set(await distances(spec, honest))).to.deep.equal(new Set([0]));
    // A miner who kept the base rate claims the decayed task: its epoch-1 and epoch-2 segments replay far off.
    const constant = await train(iris(), { seed: SEED, miner: MINER, data: loadIris(), hyper: { epochs: 3 } });
    constant.model.dispose();
    const d = await distances(spec, constant);
    const perEpoch = honest.checkpoints.length; // every 7 steps over 3 epochs of 7 steps (105 rows, batch 16)
    expect(perEpoch).to.be.greaterThan(2);
    expect(d[0]).to.equal(0); // epoch 0 runs at the base rate in both
    expect(d.at(-1)!).to.be.above(DEFAULT_TOLERANCE);
  });

  it("replays decayed SGD and RMSProp runs at distance 0 (restoring them once failed: tfjs said every optimizer was an Adam)", async () => {
    for (const name of ["sgd", "rmsprop"]) {
      const spec = iris({ every: 1, factor: 0.5 }, name);
      const run = await train(spec, { seed: SEED, miner: MINER, data: loadIris(), hyper: { epochs: 2 } });
      run.model.dispose();
      expect(new Set(await distances(spec, run)), name).to.deep.equal(new Set([0]));
    }
  });
});
