import { expectClose } from "./helpers/close.js";
import { expect } from "chai";
import { trainStepChild } from "./helpers/child.js";

type Run = { cpuLosses: number[]; gpuLosses: number[]; maxWeightDiff: number };
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
});
