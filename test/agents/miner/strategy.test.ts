import { expect } from "chai";
import { orderCandidates, type Candidate } from "../../../agents/miner/agent.js";

const ETH = 10n ** 18n;
const params = { maxQueue: 8n, rankScale: ETH, medianBandwidth: 10_000_000n, medianCompute: 1_000_000_000n };

// A: heavy download (100 s at the median bandwidth), light compute, quick to train here.
const A: Candidate = { taskId: 1n, reward: ETH, modelBytes: 0n, dataBytes: 1_000_000_000n, flops: 1_000_000_000n, trainSeconds: 10 };
// B: light download, a million seconds of declared compute (DLBC's dc^q with q = 1/3 for two tasks: 100), slow to train here.
const B: Candidate = { taskId: 2n, reward: ETH, modelBytes: 0n, dataBytes: 1_000_000n, flops: 10n ** 15n, trainSeconds: 1_000 };

describe("miner strategies", () => {
  it("dlbc follows the market's ranking: the lower score (dn + dc^q) / reward first", () => {
    // A: 100 + 1 = 101 s per token; B: 0.1 + 100 = 100.1 s per token.
    expect(orderCandidates("dlbc", [A, B], params)).to.deep.equal([2n, 1n]);
    expect(orderCandidates("dlbc", [A, { ...B, reward: ETH / 2n }], params)).to.deep.equal([1n, 2n]);
  });

  it("pole takes the highest reward per expected second, from the measured training time", () => {
    // A: 1 / (100 + 10) per second; B: 1 / (0.1 + 1000).
    expect(orderCandidates("pole", [A, B], params)).to.deep.equal([1n, 2n]);
    expect(orderCandidates("pole", [A, { ...B, reward: 20n * ETH }], params)).to.deep.equal([2n, 1n]);
  });

  it("breaks ties by task id", () => {
    expect(orderCandidates("pole", [{ ...A, taskId: 9n }, { ...A, taskId: 3n }], params)).to.deep.equal([3n, 9n]);
  });
});
