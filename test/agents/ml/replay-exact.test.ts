import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { restoreAdamPowers, trainedPower } from "../../../agents/ml/adam-powers.js";
import { selectBackend } from "../../../agents/ml/backend.js";
import type { Checkpoint } from "../../../agents/ml/checkpoints.js";
import { loadMnist } from "../../../agents/ml/datasets/index.js";
import { replaySegmentStates, segmentDistance } from "../../../agents/ml/replay.js";
import { presets } from "../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../agents/ml/spec.js";
import { train } from "../../../agents/ml/train.js";
import { irisDataset, irisRun, IRIS_SPEC, MINER, SEED } from "./helpers/iris-run.js";

/**
 * Issue 13: an honest MNIST CNN miner failed replay on every validator. Restoring Adam recomputed
 * its bias-correction powers with `pow` where training had multiplied them step by step, and the
 * last-bit difference grew to normalised distances up to 3.7e-2 in 50 steps (docs/ml.md, "Replay").
 * On the training backend a replay must now land on the claimed checkpoint bit for bit.
 */

type AdamPowers = { accBeta1: tf.Variable; accBeta2: tf.Variable };
const powersOf = async (o: tf.Optimizer) => {
  const adam = o as unknown as AdamPowers;
  return [(await adam.accBeta1.data())[0]!, (await adam.accBeta2.data())[0]!];
};

/** Replays every segment and returns each one's distance (segmentDistance: weights and Adam moments). */
async function everySegment(spec: TaskSpec, opts: Parameters<typeof replaySegmentStates>[1], checkpoints: readonly Checkpoint[]): Promise<number[]> {
  const segments = checkpoints.slice(0, -1).map((from, i) => ({ from, toStep: checkpoints[i + 1]!.step }));
  const replayed = await replaySegmentStates(spec, opts, segments);
  return replayed.map((r, i) => segmentDistance(r, checkpoints[i + 1]!, checkpoints[i]!));
}

describe("ml/replay: an honest segment replays bit for bit on the training backend", function () {
  this.timeout(120_000);

  it("restores Adam's bias-correction powers exactly as training accumulated them", async () => {
    await tf.setBackend("cpu");
    const w = tf.variable(tf.tensor1d([0.5, -0.25]));
    const [trained, restored] = [tf.train.adam(0.01), tf.train.adam(0.01)];
    try {
      let differed = 0;
      for (let t = 1; t <= 40; t++) {
        tf.dispose(trained.minimize(() => tf.sum(tf.square(tf.sub(w, tf.tensor1d([t % 3, 1])))), true, [w]) ?? []);
        // A checkpoint's copy, as Session.snapshot/restore make: getWeights hands out the live slots.
        const state = await trained.getWeights();
        const copies = state.map((s) => ({ name: s.name, tensor: s.tensor.clone() }));
        state[0]!.tensor.dispose();
        await restored.setWeights(copies);
        tf.dispose(copies.map((c) => c.tensor));
        restoreAdamPowers(restored, t);
        const live = await powersOf(trained);
        expect(live, `training's powers after ${t} steps`).to.deep.equal([trainedPower(0.9, t), trainedPower(0.999, t)]);
        expect(await powersOf(restored), `powers restored after ${t} steps`).to.deep.equal(live);
        if (Math.fround(Math.fround(0.999) ** (t + 1)) !== live[1]) differed++;
      }
      expect(differed, "steps at which pow and the running product differ (what setWeights alone restores)").to.be.above(0);
    } finally {
      tf.dispose([w]);
      trained.dispose();
      restored.dispose();
    }
  });

  it("replays every segment of an Iris run at distance 0", async () => {
    await tf.setBackend("cpu");
    const run = await irisRun();
    const d = await everySegment(IRIS_SPEC, { seed: SEED, miner: MINER, data: irisDataset(), hyper: run.hyper }, run.checkpoints);
    expect(d).to.deep.equal(d.map(() => 0));
  });

  it("replays every segment of a small MNIST CNN run (the preset, checkpoints every 5 steps) on wasm at distance 0", async () => {
    const previous = tf.getBackend();
    await selectBackend({ force: "wasm", spec: presets.mnistCnn });
    try {
      const spec: TaskSpec = { ...presets.mnistCnn, checkpointEvery: 5 };
      const { train: data } = loadMnist({ train: 160, test: 10, image: true });
      const miner = "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65"; // the demo's miner that failed
      const run = await train(spec, { seed: SEED, miner, data, hyper: { epochs: 3 } });
      run.model.dispose();
      const d = await everySegment(spec, { seed: SEED, miner, data, hyper: run.hyper }, run.checkpoints);
      expect(d).to.have.length(3);
      expect(d).to.deep.equal(d.map(() => 0));
    } finally {
      await tf.setBackend(previous);
    }
  });
});
