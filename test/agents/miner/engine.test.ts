import { expect } from "chai";
import { chooseEngine, trainWithEngine } from "../../../agents/miner/engine.js";
import { checkPython, pythonCandidates } from "../../../agents/ml/engines/torch-python.js";
import { watermarkReader } from "../../../agents/ml/watermark.js";
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

  it("hands the stop rule the epoch's weights from torch, as from tfjs", async function () {
    const choice = await torchOrSkip(this);
    const read = watermarkReader(IRIS_SPEC, SEED, MINER);
    const runs = [];
    for (const engine of [{ name: "tfjs" as const }, { name: "torch" as const, python: choice.python, device: "cpu" }]) {
      runs.push(await trainWithEngine(engine, IRIS_SPEC, { seed: SEED, miner: MINER, data: irisDataset(), hyper: { epochs: 12 }, stopAfterEpoch: async ({ epoch, weights }) => epoch >= 3 && read(await weights()).detected }));
    }
    expect(runs[1]!.hyper.epochs).to.equal(runs[0]!.hyper.epochs).and.be.below(12);
    expect(runs[1]!.manifest.entries.length).to.equal(runs[0]!.manifest.entries.length);
  });
});
