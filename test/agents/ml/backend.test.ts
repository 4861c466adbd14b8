import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { missingKernels, selectBackend } from "../../../agents/ml/backend.js";
import type { BackendChoice, BackendName } from "../../../agents/ml/backend.js";
import { isMlError } from "../../../agents/ml/errors.js";
import type { MlErrorCode } from "../../../agents/ml/errors.js";
import { presets } from "../../../agents/ml/spec.js";
import { trainStepChild } from "./helpers/child.js";

type Selected = {
  choice: BackendChoice;
  logged: { fields: { skipped: { backend: string; why: string }[] }; message: string }[];
  active: string;
  adapter: string | null;
  fallback: boolean;
};

async function selectError(force: BackendName, spec = presets.irisMlp): Promise<{ code: MlErrorCode; message: string }> {
  try {
    await selectBackend({ force, spec });
  } catch (e) {
    if (isMlError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error(`selectBackend accepted ${force}`);
}

// Forcing wasm or cpu switches TensorFlow.js's process-wide backend: put the previous one back.
describe("ml/backend", () => {
  let previous: string;
  before(async () => {
    await tf.ready();
    previous = tf.getBackend();
  });
  after(async () => {
    await tf.setBackend(previous);
  });

  it("lists the kernels a spec needs that a backend lacks: none for the presets on wasm, once started", async () => {
    await import("@tensorflow/tfjs-backend-wasm");
    // as the package ships it (an earlier test of this mocha process may have registered ours)
    if (tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined) tf.unregisterKernel("Conv2DBackpropFilter", "wasm");
    expect(missingKernels(presets.mnistCnn, "wasm")).to.deep.equal(["Conv2DBackpropFilter"]);
    expect(missingKernels(presets.mnistMlp, "wasm")).to.deep.equal([]);
    expect(missingKernels(presets.mnistCnn, "cpu")).to.deep.equal([]);
    // Starting wasm registers the convolution gradients (wasm-conv-grads.ts).
    const choice = await selectBackend({ force: "wasm", spec: presets.mnistCnn });
    expect(choice.name).to.equal("wasm");
    for (const spec of Object.values(presets)) expect(missingKernels(spec, "wasm"), spec.name).to.deep.equal([]);
  });

  it("refuses a forced backend that lacks an op the spec needs, with a clear message", async () => {
    // No layer of the spec subset lacks a kernel on wasm or cpu any more; webgpu's WGSL kernels
    // are the ones that can be missing, and a machine without an adapter cannot force webgpu.
    // Take away a kernel that nothing re-registers: cpu's Conv2DBackpropFilter.
    const kernel = tf.getKernel("Conv2DBackpropFilter", "cpu")!;
    tf.unregisterKernel("Conv2DBackpropFilter", "cpu");
    try {
      const e = await selectError("cpu", presets.mnistCnn);
      expect(e.code).to.equal("BACKEND_UNSUPPORTED_OP");
      expect(e.message).to.equal("backend cpu lacks Conv2DBackpropFilter, which mnist-cnn needs for training");
    } finally {
      tf.registerKernel(kernel);
    }
  });

  it("runs a forced wasm or cpu backend", async () => {
    for (const force of ["wasm", "cpu"] as const) {
      const choice = await selectBackend({ force, spec: presets.irisMlp });
      expect(choice.name).to.equal(force);
      expect(tf.getBackend()).to.equal(force);
      expect(tf.tidy(() => tf.tensor1d([1, 2, 3]).square().sum().dataSync()[0])).to.equal(14);
    }
  });

  it("says a forced backend is unavailable when its package is not installed or the name is unknown", async function () {
    const tensorflow = await selectError("tensorflow").catch(() => null);
    if (tensorflow !== null) {
      expect(tensorflow.code).to.equal("BACKEND_UNAVAILABLE");
      expect(tensorflow.message).to.contain("@tensorflow/tfjs-node: not installed");
    }
    expect((await selectError("webgl" as BackendName)).code).to.equal("BACKEND_UNAVAILABLE");
  });

  it("picks the first usable backend in order, wasm for a CNN too, and logs what it skipped and why", async () => {
    const cnn = await trainStepChild<Selected>("select", "tinyCnn");
    const mlp = await trainStepChild<Selected>("select", "irisMlp");
    const gpu = cnn.adapter !== null && !cnn.fallback;
    expect(cnn.choice.name).to.equal(gpu ? "webgpu" : "wasm");
    expect(mlp.choice.name).to.equal(gpu ? "webgpu" : "wasm");
    expect(cnn.active).to.equal(cnn.choice.name);
    const log = cnn.logged[0]!;
    expect(log.message).to.equal(`TensorFlow.js backend: ${cnn.choice.name}`);
    const skipped = log.fields.skipped.map((s) => s.backend);
    expect(skipped.slice(0, 2)).to.deep.equal(["@tensorflow/tfjs-node-gpu (CUDA)", "@tensorflow/tfjs-node"]);
    expect(skipped).to.not.include("@tensorflow/tfjs-backend-wasm");
  });

  // lavapipe (CI, this machine) is a fallback adapter; without any adapter the test has nothing to check.
  it("skips a WebGPU fallback (software) adapter in the automatic choice, saying why, but uses it when forced", async function () {
    const auto = await trainStepChild<Selected>("select", "irisMlp");
    if (auto.adapter === null || !auto.fallback) {
      this.test!.title += ` — SKIPPED: ${auto.adapter === null ? "no WebGPU adapter" : `adapter ${auto.adapter} is not a fallback adapter`}`;
      this.skip();
    }
    expect(auto.choice.name).to.equal("wasm");
    const why = auto.logged[0]!.fields.skipped.find((s) => s.backend === "webgpu (Dawn)")?.why;
    expect(why).to.equal(`adapter "${auto.adapter}" is a fallback (software, CPU) adapter, slower than wasm or cpu; --backend webgpu forces it`);
    const forced = await trainStepChild<Selected>("select", "irisMlp", "webgpu");
    expect(forced.choice).to.deep.equal({ name: "webgpu", reason: "forced (webgpu (Dawn))" });
    expect(forced.active).to.equal("webgpu");
  });
});
