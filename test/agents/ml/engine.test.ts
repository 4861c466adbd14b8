import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { buildManifest } from "../../../agents/ml/checkpoints.js";
import type { EngineEvent } from "../../../agents/ml/engine.js";
import { TfjsWorkerEngine } from "../../../agents/ml/engines/tfjs-worker.js";
import { isMlError } from "../../../agents/ml/errors.js";
import { train } from "../../../agents/ml/train.js";
import { irisDataset, IRIS_SPEC, MINER, SEED } from "./helpers/iris-run.js";

describe("ml/engines/tfjs-worker: training in a worker thread behind the engine interface", function () {
  this.timeout(120_000);
  const job = { spec: IRIS_SPEC, data: irisDataset(), seed: SEED, miner: MINER };

  it("trains what train() trains in this thread (same backend): the same checkpoints, streamed as transferred buffers", async () => {
    await tf.setBackend("cpu");
    const engine = new TfjsWorkerEngine("cpu");
    try {
      const events: EngineEvent["type"][] = [];
      const run = await engine.train({ ...job, stop: { epochs: 3, maxEpochs: 3 } }, { onEvent: (e) => events.push(e.type) });
      const here = await train(IRIS_SPEC, { seed: SEED, miner: MINER, data: irisDataset(), hyper: { epochs: 3 } });
      here.model.dispose();
      expect(run.manifest.root).to.equal(here.manifest.root);
      // The checkpoints that crossed the thread boundary still hash to the manifest.
      expect(buildManifest(run.checkpoints, IRIS_SPEC.checkpointEvery).root).to.equal(run.manifest.root);
      expect(Buffer.from(run.weights.get("layers.0.kernel")!.data.buffer).equals(Buffer.from(here.weights.get("layers.0.kernel")!.data.buffer))).to.equal(true);
      expect(run).to.include({ steps: 30, stopped: "epochs.max", backend: "tfjs cpu, worker thread" });
      expect(events.filter((t) => t === "epoch")).to.have.length(3);
      expect(events.filter((t) => t === "checkpoint")).to.have.length(4);
    } finally {
      await engine.close();
    }
  });

  it("starts wasm inside the worker and trains there until the watermark reads", async () => {
    const engine = new TfjsWorkerEngine("wasm");
    try {
      await engine.warm(1);
      const run = await engine.train({ ...job, stop: { epochs: 1, maxEpochs: 100, untilWatermark: true } });
      expect(run.backend).to.equal("tfjs wasm, worker thread");
      expect(run.stopped).to.equal("epochs.max");
      // Iris' 20 bits do not read after one epoch: it trained on until they did, well short of 100.
      expect(run.hyper.epochs).to.be.within(2, 99);
      const t = await engine.throughput(IRIS_SPEC, 4);
      expect(t.samples).to.equal(4 * 16);
      expect(engine.workers, "one worker, reused").to.equal(1);
    } finally {
      await engine.close();
    }
  });

  it("ends a worker left idle for idleMs (a waiting agent holds no TensorFlow.js thread), and the next job starts a new one", async () => {
    const engine = new TfjsWorkerEngine("cpu", { idleMs: 100 });
    try {
      await engine.warm(1);
      expect(engine.workers, "warmed").to.equal(1);
      while (engine.workers > 0) await new Promise((r) => setTimeout(r, 50));
      const t = await engine.throughput(IRIS_SPEC, 2);
      expect(t.samples).to.equal(2 * 16);
      expect(engine.workers, "a new worker").to.equal(1);
    } finally {
      await engine.close();
    }
  });

  it("leaves this thread's event loop free while it trains, and a cancel ends the worker", async () => {
    const engine = new TfjsWorkerEngine("cpu");
    const delay = monitorEventLoopDelay({ resolution: 10 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const controller = new AbortController();
    let epochs = 0;
    const started = performance.now();
    try {
      delay.enable();
      const run = engine.train({ ...job, stop: { epochs: 100_000, maxEpochs: 100_000 } }, {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === "epoch" && ++epochs === 40) controller.abort(new Error("deadline"));
        },
      });
      const error = await run.then(() => undefined, (e: unknown) => e as Error);
      const elapsed = performance.now() - started;
      delay.disable();
      expect(error?.message).to.equal("deadline");
      expect(engine.workers, "the cancelled worker is gone").to.equal(0);
      // Structural: while 40 epochs trained, the loop's 90th-percentile wait stayed under a tenth of
      // it, no single wait reached half of it, and timers kept firing. Not a tenth for the maximum:
      // one pause on a loaded machine (a collection, a descheduled process) once reached 0.9 s of 4.5.
      expect(delay.percentile(90) / 1e6).to.be.below(elapsed / 10);
      expect(delay.max / 1e6).to.be.below(elapsed / 2);
      expect(ticks).to.be.above(10);
    } finally {
      clearInterval(timer);
      await engine.close();
    }
  });

  it("rebuilds the worker's MlError here, code included (a backend the worker cannot start)", async () => {
    const engine = new TfjsWorkerEngine("tensorflow");
    try {
      const error = await engine.train({ ...job, stop: { epochs: 1, maxEpochs: 1 } }).then(() => undefined, (e: unknown) => e);
      expect(isMlError(error, "BACKEND_UNAVAILABLE"), String(error)).to.equal(true);
    } finally {
      await engine.close();
    }
  });
});
