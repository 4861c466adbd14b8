import { expect } from "chai";
import { buildEngine, chooseEngine } from "../../../agents/miner/engine.js";
import { TfjsWorkerEngine } from "../../../agents/ml/engines/tfjs-worker.js";
import { checkPython, pythonCandidates } from "../../../agents/ml/engines/torch-python.js";
import { irisDataset, IRIS_SPEC, MINER, SEED } from "../ml/helpers/iris-run.js";
import { torchOrSkip } from "../ml/helpers/torch.js";

describe("miner/engine: choosing and running the training engine", function () {
  this.timeout(180_000);

  it("looks for Python in the documented order: --python, PODL_PYTHON, python3, /usr/bin/python3", () => {
    const saved = process.env.PODL_PYTHON;
    process.env.PODL_PYTHON = "/opt/py/bin/python3";
    try {
      expect(pythonCandidates({ python: "./venv/bin/python" })).to.deep.equal(["./venv/bin/python", "/opt/py/bin/python3", "python3", "/usr/bin/python3"]);
    } finally {
      if (saved === undefined) delete process.env.PODL_PYTHON;
      else process.env.PODL_PYTHON = saved;
    }
  });

  it("says why an interpreter is unusable", async () => {
    expect(await checkPython("/nonexistent/python3")).to.have.property("reason").that.matches(/cannot start/);
  });

  it("--engine tfjs forces TensorFlow.js without looking for Python", async () => {
    expect(await chooseEngine("tfjs")).to.deep.equal({ engine: { name: "tfjs" }, note: "training engine tfjs (--engine tfjs)" });
  });

  it("picks torch with --engine torch, and by default only when the PyTorch found has CUDA, saying which", async function () {
    const choice = await torchOrSkip(this);
    const forced = await chooseEngine("torch");
    expect(forced.engine).to.deep.equal({ name: "torch", python: choice.python, device: choice.check.device });
    expect(forced.note).to.contain(choice.python);
    const auto = await chooseEngine(undefined);
    expect(auto.engine.name).to.equal(choice.check.cuda ? "torch" : "tfjs");
    if (!choice.check.cuda) expect(auto.note).to.match(/has no CUDA \(--engine torch/);
  });

  it("applies the same stop rule on torch as on tfjs worker threads: the epochs trained until the watermark reads", async function () {
    const choice = await torchOrSkip(this);
    const tfjs = new TfjsWorkerEngine("cpu");
    const torch = buildEngine({ name: "torch", python: choice.python, device: "cpu" }, "cpu", (reason) => expect.fail(`fell back to tfjs: ${reason}`))!;
    try {
      const job = { spec: IRIS_SPEC, data: irisDataset(), seed: SEED, miner: MINER, stop: { epochs: 4, maxEpochs: 12, untilWatermark: true } };
      const runs = [await tfjs.train(job), await torch.train(job)];
      expect(runs[1]!.hyper.epochs).to.equal(runs[0]!.hyper.epochs).and.be.below(12);
      expect(runs[1]!.stopped).to.equal(runs[0]!.stopped);
      expect(runs[1]!.manifest.entries.length).to.equal(runs[0]!.manifest.entries.length);
      expect(runs[1]!.backend).to.match(/^torch /);
    } finally {
      await Promise.all([tfjs.close(), torch.close()]);
    }
  });
});
