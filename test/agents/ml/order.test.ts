import { expect } from "chai";
import { batchIndices, epochPermutation, stepsPerEpoch } from "../../../agents/ml/order.js";

const SEED = `0x${"5e".repeat(32)}`;
const MINER = "0x1111111111111111111111111111111111111111";

describe("ml/order: mini-batch order from keccak256(seed, miner, epoch)", () => {
  it("is a pinned permutation per epoch", () => {
    expect(Array.from(epochPermutation(SEED, MINER, 0, 10))).to.deep.equal([8, 4, 9, 3, 5, 2, 7, 6, 1, 0]);
    expect(Array.from(epochPermutation(SEED, MINER, 1, 10))).to.deep.equal([9, 4, 6, 8, 5, 0, 2, 3, 1, 7]);
  });

  it("is a permutation, different per miner", () => {
    const p = epochPermutation(SEED, MINER, 3, 1000);
    expect(new Set(p).size).to.equal(1000);
    expect(Math.max(...p)).to.equal(999);
    const q = epochPermutation(SEED, "0x2222222222222222222222222222222222222222", 3, 1000);
    expect(Array.from(p)).to.not.deep.equal(Array.from(q));
  });

  it("cuts epochs into batches without dropping the short last one", () => {
    expect(stepsPerEpoch(150, 16)).to.equal(10);
    const perm = epochPermutation(SEED, MINER, 1, 150);
    expect(Array.from(batchIndices(SEED, MINER, 150, 16, 10, new Map()))).to.deep.equal(Array.from(perm.subarray(0, 16)));
    expect(batchIndices(SEED, MINER, 150, 16, 19).length).to.equal(6);
  });
});
