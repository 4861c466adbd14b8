import { expect } from "chai";
import { loadIris } from "../../../agents/ml/datasets/index.js";
import { replaySegmentStates, segmentDistance } from "../../../agents/ml/replay.js";
import { parseSpec, presets } from "../../../agents/ml/spec.js";
import { train } from "../../../agents/ml/train.js";

const SEED = `0x${"ad".repeat(32)}`;
const MINER = "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65";

describe("ml/adam-powers: only Adam's powers are restored", function () {
  this.timeout(60_000);
  it("replays SGD and RMSProp runs at distance 0 (every restore threw: tfjs answers instanceof AdamOptimizer for any optimizer)", async () => {
    for (const name of ["sgd", "rmsprop"]) {
      const spec = parseSpec({ ...JSON.parse(JSON.stringify(presets.irisMlp)), optimizer: { name, learningRate: 0.01 }, checkpointEvery: 7 });
      const data = loadIris();
      const run = await train(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: 2 } });
      run.model.dispose();
      const segments = run.checkpoints.slice(0, -1).map((from, i) => ({ from, toStep: run.checkpoints[i + 1]!.step }));
      const replayed = await replaySegmentStates(spec, { seed: SEED, miner: MINER, data, hyper: run.hyper }, segments);
      expect(new Set(replayed.map((r, i) => segmentDistance(r, run.checkpoints[i + 1]!, run.checkpoints[i]!))), name).to.deep.equal(new Set([0]));
    }
  });
});
