import { expect } from "chai";
import { ommerIndices } from "../../../agents/protocol/pin-settled.js";

describe("agents/submission pin-settled: which models are the task's product", function () {
  it("takes as ommers the other submissions at or above the threshold, highest median first, earlier commitment on ties, at most 8", () => {
    // reveal order:      0     1     2     3     4
    const medians = [9000, 7999, 9500, 9000, 8000];
    const seqs = [3, 1, 2, 1, 5];
    expect(ommerIndices(medians, seqs, 2, 8000)).to.deep.equal([3, 0, 4]);
    expect(ommerIndices(medians, seqs, 0, 9600)).to.deep.equal([]);
    const many = Array.from({ length: 12 }, () => 9000);
    expect(ommerIndices(many, many.map((_, i) => 12 - i), 0, 8000)).to.deep.equal([11, 10, 9, 8, 7, 6, 5, 4]);
  });
});
