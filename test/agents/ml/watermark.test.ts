import { expectClose } from "./helpers/close.js";
import { expect } from "chai";
import { binomialTail, extractWatermark, watermarkKey } from "../../../agents/ml/watermark.js";
import { irisRun, IRIS_SPEC, MINER, OTHER_MINER, SEED } from "./helpers/iris-run.js";

describe("ml/watermark: DLBC / Uchida watermark", () => {
  it("computes the binomial tail exactly for small cases", () => {
    expectClose(binomialTail(8, 8), 1 / 256, 1e-15);
    expectClose(binomialTail(4, 3), 5 / 16, 1e-15);
    expect(binomialTail(10, 0)).to.equal(1);
    expect(binomialTail(2048, 2048)).to.equal(0); // 2^−2048 underflows, and says so
    expectClose(binomialTail(64, 32), 0.5 + 0.0993 / 2, 1e-3);
  });

  it("derives bits and projection from keccak256(seed, miner), bit-exact", () => {
    const a = watermarkKey(SEED, MINER, 32, [128, 64]);
    const b = watermarkKey(SEED, MINER, 32, [128, 64]);
    expect(Buffer.from(a.projection.buffer).equals(Buffer.from(b.projection.buffer))).to.equal(true);
    expect(a.cols).to.equal(128);
    const c = watermarkKey(SEED, OTHER_MINER, 32, [128, 64]);
    expect(Array.from(a.bits)).to.not.deep.equal(Array.from(c.bits));
  });

  it("is embedded by training, read back by its miner's key and not by another's", async function () {
    this.timeout(120_000);
    const run = await irisRun();
    const kernel = run.weights.get("layers.0.kernel")!;
    const own = extractWatermark(watermarkKey(SEED, MINER, IRIS_SPEC.watermark.bits, kernel.shape), kernel.data, kernel.shape);
    const bits = IRIS_SPEC.watermark.bits;
    expect(own).to.include({ matches: bits, bits, detected: true });
    expectClose(own.pValue, 2 ** -bits, 1e-12);
    const stranger = extractWatermark(watermarkKey(SEED, OTHER_MINER, IRIS_SPEC.watermark.bits, kernel.shape), kernel.data, kernel.shape);
    expect(stranger.detected).to.equal(false);
  });
});
