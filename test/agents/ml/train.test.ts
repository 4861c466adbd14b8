import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { initialWeights } from "../../../agents/ml/init.js";
import { buildModel, matchesLayout } from "../../../agents/ml/model.js";
import { generateSml } from "../../../agents/ml/sml.js";
import { weightLayout } from "../../../agents/ml/spec.js";
import { evaluate, train } from "../../../agents/ml/train.js";
import type { ProgressEvent } from "../../../agents/ml/train.js";
import { irisDataset, irisRun, IRIS_EPOCHS, IRIS_SPEC, MINER, SEED } from "./helpers/iris-run.js";

describe("ml/train: training loop", function () {
  this.timeout(120_000);
  before(async () => {
    await tf.setBackend("cpu");
  });

  it("builds a model whose weights are named and shaped per weightLayout, the SML frozen", () => {
    const model = buildModel(IRIS_SPEC, {
      smlWeights: generateSml(SEED, IRIS_SPEC.sml, IRIS_SPEC.input.shape),
      initialWeights: initialWeights(SEED, MINER, weightLayout(IRIS_SPEC), new Set(["sml.kernel"])),
    });
    try {
      expect(matchesLayout(model, IRIS_SPEC)).to.equal(true);
      expect(model.layers[0]!.trainable).to.equal(false);
      expect(model.outputs[0]!.shape).to.deep.equal([null, 3]);
    } finally {
      model.dispose();
    }
  });

  it("learns Iris, starts from the seeded init and leaves the SML untouched", async () => {
    const run = await irisRun();
    expect(await evaluate(run.model, irisDataset())).to.be.above(0.85);
    expect(run.steps).to.equal(IRIS_EPOCHS * 10);
    expect(run.checkpoints.map((c) => c.step)).to.deep.equal(Array.from({ length: IRIS_EPOCHS + 1 }, (_, i) => i * 10));
    const init = initialWeights(SEED, MINER, weightLayout(IRIS_SPEC), new Set(["sml.kernel"]));
    const cp0 = run.checkpoints[0]!.weights.get("layers.0.kernel")!.data;
    expect(Buffer.from(cp0.buffer).equals(Buffer.from(init.get("layers.0.kernel")!.data.buffer))).to.equal(true);
    const sml = generateSml(SEED, IRIS_SPEC.sml, IRIS_SPEC.input.shape).data;
    expect(Buffer.from(run.weights.get("sml.kernel")!.data.buffer).equals(Buffer.from(sml.buffer))).to.equal(true);
    // Checkpoints leave the task's SML out: it is regenerated from the seed on replay.
    expect(run.checkpoints.every((c) => !c.weights.has("sml.kernel"))).to.equal(true);
    expect([...run.checkpoints[0]!.weights.keys()]).to.deep.equal(weightLayout(IRIS_SPEC).slice(1).map((w) => w.name));
  });

  it("is deterministic on one backend: the same checkpoint root twice, another for another miner", async () => {
    const opts = { seed: SEED, miner: MINER, data: irisDataset(), hyper: { epochs: 3 } };
    const a = await train(IRIS_SPEC, opts);
    const b = await train(IRIS_SPEC, opts);
    const c = await train(IRIS_SPEC, { ...opts, miner: "0x3333333333333333333333333333333333333333" });
    for (const r of [a, b, c]) r.model.dispose();
    expect(a.manifest.root).to.equal(b.manifest.root);
    expect(a.manifest.root).to.not.equal(c.manifest.root);
  });

  it("stops after the epoch stopAfterEpoch says, with the run a shorter training would give", async () => {
    // checkpointEvery 25 on 10 steps per epoch: stopping after epoch 3 (step 30) is off the schedule.
    const spec = { ...IRIS_SPEC, checkpointEvery: 25 };
    const opts = { seed: SEED, miner: MINER, data: irisDataset() };
    const asked: number[] = [];
    const stopped = await train(spec, { ...opts, hyper: { epochs: 6 }, stopAfterEpoch: ({ epoch }) => (asked.push(epoch), epoch === 2) });
    const short = await train(spec, { ...opts, hyper: { epochs: 3 } });
    for (const r of [stopped, short]) r.model.dispose();
    expect(asked).to.deep.equal([0, 1, 2]);
    expect(stopped.steps).to.equal(30);
    expect(stopped.hyper.epochs).to.equal(3);
    expect(stopped.checkpoints.map((c) => c.step)).to.deep.equal([0, 25, 30]);
    expect(stopped.manifest.root).to.equal(short.manifest.root);
  });

  it("does not grow the tensor count across epochs, and reports progress", async () => {
    const counts: number[] = [];
    const events: ProgressEvent["type"][] = [];
    const before = tf.memory().numTensors;
    const run = await train(IRIS_SPEC, {
      seed: SEED,
      miner: MINER,
      data: irisDataset(),
      hyper: { epochs: 4 },
      lossEvery: 5,
      onProgress: (e) => {
        events.push(e.type);
        if (e.type === "epoch") counts.push(tf.memory().numTensors);
      },
    });
    run.model.dispose();
    expect(counts).to.have.length(4);
    expect(new Set(counts).size, `tensor counts per epoch: ${counts}`).to.equal(1);
    expect(tf.memory().numTensors).to.equal(before);
    expect(events.filter((t) => t === "checkpoint")).to.have.length(5);
    expect(events.filter((t) => t === "step")).to.have.length(8);
  });
});
