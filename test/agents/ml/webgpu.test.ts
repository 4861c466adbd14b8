import { expectClose } from "./helpers/close.js";
import { expect } from "chai";
import { DEFAULT_TOLERANCE } from "../../../agents/ml/replay.js";
import { trainStepChild } from "./helpers/child.js";

type Run = { cpuLosses: number[]; gpuLosses: number[]; maxWeightDiff: number };
type Pipeline =
  | { adapter: string; steps: number; checkpoints: number; maxWeightDiff: number; scoreBps: number; reason: string | null; replayed: number; crossDistances: number[] }
  | { adapter: null; reason: string };
type Compare = { adapter: string; results: { mlp: Run; cnn: Run } } | { adapter: null; reason: string };

// Float32 kernels differ in summation order between backends; three SGD steps stay far below this.
const TOLERANCE = 1e-4;

describe("ml/backend on WebGPU (Dawn; lavapipe in CI)", () => {
  it("trains a small MLP and a small CNN on webgpu to the same weights as on cpu", async function () {
    const out = await trainStepChild<Compare>("compare");
    if (out.adapter === null) {
      if (process.env.PODL_REQUIRE_WEBGPU === "1") throw new Error(`PODL_REQUIRE_WEBGPU=1 but ${out.reason}`);
      this.test!.title += ` — SKIPPED: ${out.reason}`;
      this.skip();
    }
    for (const [name, r] of Object.entries(out.results)) {
      expect(r.cpuLosses[1], `${name}: the first step changed the model`).to.not.equal(r.cpuLosses[0]);
      r.cpuLosses.forEach((loss, i) => expectClose(r.gpuLosses[i], loss, TOLERANCE * Math.max(1, loss), `${name} loss at step ${i}`));
      expect(r.maxWeightDiff, `${name}: largest weight difference after three steps`).to.be.below(TOLERANCE);
    }
  });

  it("runs train(), verifySubmission with replay, and replays cpu checkpoints, all on webgpu", async function () {
    const out = await trainStepChild<Pipeline>("pipeline");
    if (out.adapter === null) {
      if (process.env.PODL_REQUIRE_WEBGPU === "1") throw new Error(`PODL_REQUIRE_WEBGPU=1 but ${out.reason}`);
      this.test!.title += ` — SKIPPED: ${out.reason}`;
      this.skip();
    }
    expect(out.steps).to.equal(30);
    expect(out.checkpoints).to.equal(4);
    expect(out.reason, "the webgpu run's verdict").to.equal(null);
    expect(out.scoreBps).to.be.above(0);
    expect(out.replayed).to.equal(2);
    expect(out.maxWeightDiff, "cpu and webgpu runs after 30 Adam steps").to.be.below(1e-3);
    expect(out.crossDistances).to.have.length(3);
    for (const d of out.crossDistances) expect(d, "cpu checkpoints replayed on webgpu").to.be.at.most(DEFAULT_TOLERANCE);
  });
});
