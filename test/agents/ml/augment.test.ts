import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { drawShifts, shiftBatch } from "../../../agents/ml/augment.js";
import { selectBackend } from "../../../agents/ml/backend.js";
import { loadMnist } from "../../../agents/ml/datasets/index.js";
import { DEFAULT_TOLERANCE, replaySegmentStates, segmentDistance } from "../../../agents/ml/replay.js";
import { parseSpec, presets } from "../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../agents/ml/spec.js";
import { train } from "../../../agents/ml/train.js";
import type { TrainResult } from "../../../agents/ml/train.js";

const SEED = `0x${"5e".repeat(32)}`;
const MINER = "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65";
const OTHER = "0x70997970c51812dc3a045fcaa7a3d6c8e5c8ab8d";

/** A small CNN behind a conv SML, checkpointed every 2 steps, with or without shifts. */
const cnn = (shift: number | undefined): TaskSpec =>
  parseSpec({
    ...JSON.parse(JSON.stringify(presets.mnistCnn)),
    name: "augment-cnn",
    layers: [
      { type: "conv2d", filters: 4, kernelSize: 3, activation: "relu" },
      { type: "maxPooling2d", poolSize: 2 },
      { type: "flatten" },
      { type: "dense", units: 10, activation: "softmax" },
    ],
    checkpointEvery: 2,
    augment: shift === undefined ? undefined : { shift },
  });

async function segmentDistances(spec: TaskSpec, run: TrainResult, data: ReturnType<typeof loadMnist>["train"]): Promise<number[]> {
  const segments = run.checkpoints.slice(0, -1).map((from, i) => ({ from, toStep: run.checkpoints[i + 1]!.step }));
  const replayed = await replaySegmentStates(spec, { seed: SEED, miner: MINER, data, hyper: run.hyper }, segments);
  return replayed.map((r, i) => segmentDistance(r, run.checkpoints[i + 1]!, run.checkpoints[i]!));
}

describe("ml/augment: seeded shifts of the first trainable layer's input", function () {
  this.timeout(120_000);
  let previous: string | undefined;
  before(() => (previous = tf.getBackend() as string | undefined));
  after(async () => void (previous === undefined || (await tf.setBackend(previous))));

  it("draws each example's (dx, dy) in [-shift, shift] from (seed, miner, step): the same again, different for another step or miner", () => {
    const a = drawShifts(SEED, MINER, 7, 256, 2);
    expect(a).to.have.length(512);
    expect(Math.min(...a)).to.equal(-2);
    expect(Math.max(...a)).to.equal(2);
    expect([...drawShifts(SEED, MINER, 7, 256, 2)]).to.deep.equal([...a]);
    expect([...drawShifts(SEED, MINER, 8, 256, 2)]).to.not.deep.equal([...a]);
    expect([...drawShifts(SEED, OTHER, 7, 256, 2)]).to.not.deep.equal([...a]);
    expect([...drawShifts(SEED, MINER, 7, 4, 0)]).to.deep.equal(new Array(8).fill(0));
  });

  it("moves each example by its own (dx, dy) with zero fill", async () => {
    await tf.setBackend("cpu");
    // Two 3×3 one-channel images 1..9 and 11..19; the first moves right by 1, the second up by 1.
    const batch = tf.tensor4d([...Array.from({ length: 9 }, (_, k) => k + 1), ...Array.from({ length: 9 }, (_, k) => k + 11)], [2, 3, 3, 1]);
    const out = shiftBatch(batch, Int8Array.from([1, 0, 0, -1]));
    expect(out.shape).to.deep.equal([2, 3, 3, 1]);
    expect([...(await out.data())]).to.deep.equal([0, 1, 2, 0, 4, 5, 0, 7, 8, 14, 15, 16, 17, 18, 19, 0, 0, 0]);
    tf.dispose([batch, out]);
  });

  it("trains the same bits whether the SML's output is cached or mapped per batch", async () => {
    await selectBackend({ force: "wasm", spec: presets.mnistCnn });
    const spec = cnn(2);
    const { train: data } = loadMnist({ train: 60, test: 10, image: true });
    const runs = [await train(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: 1 } }), await train(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: 1 }, smlCache: false })];
    runs.forEach((r) => r.model.dispose());
    const [cached, mapped] = runs.map((r) => r.weights.get("layers.0.kernel")!.data);
    expect([...mapped!]).to.deep.equal([...cached!]);
    const plain = await train(cnn(undefined), { seed: SEED, miner: MINER, data, hyper: { epochs: 1 } });
    plain.model.dispose();
    expect([...plain.weights.get("layers.0.kernel")!.data]).to.not.deep.equal([...cached!]);
  });

  it("replays an augmented CNN's segments on wasm at distance 0 and tells an unaugmented run's segments apart", async () => {
    await selectBackend({ force: "wasm", spec: presets.mnistCnn });
    const spec = cnn(2);
    const { train: data } = loadMnist({ train: 120, test: 10, image: true });
    const honest = await train(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: 1 } });
    honest.model.dispose();
    const d = await segmentDistances(spec, honest, data);
    expect(d).to.have.length(2);
    expect(d).to.deep.equal([0, 0]);
    // A miner who skipped the shifts (trained the spec without them) claims the augmented task.
    const forged = await train(cnn(undefined), { seed: SEED, miner: MINER, data, hyper: { epochs: 1 } });
    forged.model.dispose();
    for (const distance of await segmentDistances(spec, forged, data)) expect(distance).to.be.above(DEFAULT_TOLERANCE);
  });
});
