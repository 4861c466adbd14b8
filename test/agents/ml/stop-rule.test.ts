import { expect } from "chai";
import type { NamedTensors } from "../../../agents/ml/init.js";
import { createStopper } from "../../../agents/ml/stop-rule.js";

const NO_WEIGHTS = async (): Promise<NamedTensors> => new Map();
const reading = (detected: boolean) => () => ({ detected, matches: detected ? 16 : 3, bits: 16 });

describe("ml/stop-rule: the declarative stop rule every engine applies", () => {
  it("without a budget or watermark: exactly `epochs` epochs", async () => {
    const s = createStopper({ epochs: 2, maxEpochs: 5 });
    s.start();
    expect(await s.afterEpoch(1, NO_WEIGHTS)).to.deep.equal({ stop: false });
    expect(await s.afterEpoch(2, NO_WEIGHTS)).to.deep.equal({ stop: true, reason: "epochs.max" });
  });

  it("stops for the deadline when the slowest recent epoch, with the safety factor, no longer fits", async () => {
    const s = createStopper({ epochs: 10, maxEpochs: 10, deadline: Date.now() + 1_000, safety: 1.5 });
    // Pretend the first epoch started 900 ms ago: 1.5 × 900 ms no longer fits in the second left.
    s.start(performance.now() - 900);
    expect(await s.afterEpoch(1, NO_WEIGHTS)).to.deep.equal({ stop: true, reason: "deadline" });
  });

  it("past `epochs`, trains on while the watermark does not read, and stops when it does", async () => {
    let embedded = false;
    const heard: number[] = [];
    const s = createStopper({ epochs: 1, maxEpochs: 5, untilWatermark: true }, () => reading(embedded)(), (e) => heard.push(e.epochs));
    s.start();
    expect(await s.afterEpoch(1, NO_WEIGHTS)).to.deep.equal({ stop: false });
    embedded = true;
    expect(await s.afterEpoch(2, NO_WEIGHTS)).to.deep.equal({ stop: true, reason: "epochs.max" });
    expect(heard).to.deep.equal([1]);
  });

  it("refuses untilWatermark without a reader", () => {
    expect(() => createStopper({ epochs: 1, maxEpochs: 2, untilWatermark: true })).to.throw(/watermark reader/);
  });
});
