import { expect } from "chai";
import { decodeArtifact, encodeArtifact, modelHash } from "../../../agents/ml/artifact.js";
import type { ArtifactV1, WeightTensor } from "../../../agents/ml/artifact.js";
import { isMlError } from "../../../agents/ml/errors.js";
import type { MlError, MlErrorCode } from "../../../agents/ml/errors.js";
import { presets, weightLayout } from "../../../agents/ml/spec.js";
import type { TaskSpec } from "../../../agents/ml/spec.js";
import { decodeTensors, encodeTensors } from "../../../agents/ml/tensors.js";
import type { Tensor } from "../../../agents/ml/tensors.js";

function weightsFor(spec: TaskSpec): Map<string, WeightTensor> {
  return new Map(
    weightLayout(spec).map((w, k) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      return [w.name, { shape: w.shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i + k) / 7) }];
    }),
  );
}

function artifact(spec: TaskSpec = presets.irisMlp): ArtifactV1 {
  return {
    format: "podl-artifact/1",
    taskId: "42",
    miner: "0x00000000000000000000000000000000000000aB",
    seed: `0x${"11".repeat(32)}`,
    spec,
    watermark: { ...spec.watermark },
    hyper: { batchSize: 12, learningRate: 0.003, epochs: 7 },
    checkpoints: { root: `0x${"ee".repeat(32)}`, count: 3, every: spec.checkpointEvery, manifestCid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" },
    tensors: weightsFor(spec),
  };
}

function artifactError(bytes: Uint8Array, maxBytes?: number): MlErrorCode {
  return artifactFailure(bytes, maxBytes).code;
}

function artifactFailure(bytes: Uint8Array, maxBytes?: number): MlError {
  try {
    decodeArtifact(bytes, { maxBytes });
  } catch (e) {
    if (isMlError(e)) return e;
    throw e;
  }
  throw new Error("decodeArtifact accepted a bad artifact");
}

/** Re-packs an artifact's container with `edit` applied to its tensors and metadata. */
function repack(bytes: Uint8Array, edit: (t: Map<string, Tensor>, m: Record<string, string>) => void): Uint8Array {
  const { tensors, metadata } = decodeTensors(bytes, { maxBytes: bytes.length });
  edit(tensors, metadata);
  return encodeTensors(tensors, metadata);
}

describe("ml/artifact (v1)", () => {
  it("round-trips every field and weight, and lower-cases the miner", () => {
    const a = artifact(presets.mnistCnn);
    const back = decodeArtifact(encodeArtifact(a));
    expect(back.miner).to.equal(a.miner.toLowerCase());
    expect({ ...back, miner: a.miner }).to.deep.equal(a);
  });

  it("records the training hyperparameters as canonical JSON and reads them back", () => {
    const bytes = encodeArtifact({ ...artifact(), hyper: { epochs: 3, learningRate: 1e-7, batchSize: 64 } });
    expect(decodeTensors(bytes, { maxBytes: bytes.length }).metadata.hyper).to.equal('{"batchSize":64,"epochs":3,"learningRate":1e-7}');
    expect(decodeArtifact(bytes).hyper).to.deep.equal({ batchSize: 64, learningRate: 1e-7, epochs: 3 });
    expect(modelHash(bytes)).to.not.equal(modelHash(encodeArtifact({ ...artifact(), hyper: { epochs: 3, learningRate: 1e-7, batchSize: 32 } })));
  });

  it("rejects hyperparameters that are missing, malformed, not positive, not integers where due, or not canonical", () => {
    const bytes = encodeArtifact(artifact());
    const cases: [string | undefined, string][] = [
      [undefined, "hyper"],
      ["{", "hyper"],
      ["[16,0.01,3]", "hyper"],
      ['{"batchSize":16,"epochs":3}', "hyper.learningRate"],
      ['{"batchSize":16,"epochs":3,"learningRate":0.01,"momentum":0.9}', "hyper"],
      ['{"batchSize":0,"epochs":3,"learningRate":0.01}', "hyper.batchSize"],
      ['{"batchSize":16.5,"epochs":3,"learningRate":0.01}', "hyper.batchSize"],
      ['{"batchSize":"16","epochs":3,"learningRate":0.01}', "hyper.batchSize"],
      ['{"batchSize":16,"epochs":-1,"learningRate":0.01}', "hyper.epochs"],
      ['{"batchSize":16,"epochs":1.5,"learningRate":0.01}', "hyper.epochs"],
      ['{"batchSize":16,"epochs":3,"learningRate":0}', "hyper.learningRate"],
      ['{"batchSize":16,"epochs":3,"learningRate":-0.01}', "hyper.learningRate"],
      ['{"batchSize":16,"epochs":3,"learningRate":1e999}', "hyper.learningRate"],
      ['{"batchSize":16,"epochs":3,"learningRate":null}', "hyper.learningRate"],
      // Well-formed values, non-canonical spelling or order: another hash for the same content.
      ['{"batchSize":16.0,"epochs":3,"learningRate":0.01}', "canonical"],
      ['{"epochs":3,"batchSize":16,"learningRate":0.01}', "canonical"],
      ['{"batchSize":16, "epochs":3,"learningRate":0.01}', "canonical"],
    ];
    for (const [hyper, where] of cases) {
      const bad = repack(bytes, (_, m) => {
        if (hyper === undefined) delete m.hyper;
        else m.hyper = hyper;
      });
      const e = artifactFailure(bad);
      expect(e.code, String(hyper)).to.equal("ARTIFACT_INVALID");
      if (where === "canonical") expect(e.message, String(hyper)).to.match(/canonical/);
      else if (hyper !== undefined && hyper !== "{") expect(e.context.field, hyper).to.equal(where);
      else expect(e.message, String(hyper)).to.match(/hyper/);
    }
    for (const hyper of [
      { batchSize: 16, learningRate: Number.NaN, epochs: 3 },
      { batchSize: 16, learningRate: 0.01, epochs: 0 },
      { batchSize: 2 ** 53, learningRate: 0.01, epochs: 3 },
    ]) {
      expect(() => encodeArtifact({ ...artifact(), hyper }), JSON.stringify(hyper)).to.throw(/hyper\.(learningRate|epochs|batchSize)/);
    }
  });

  it("is canonical: same content in another order gives the same bytes and model hash", () => {
    const a = artifact();
    const b = { ...artifact(), tensors: new Map([...artifact().tensors].reverse()), checkpoints: { ...a.checkpoints } };
    expect(encodeArtifact(b)).to.deep.equal(encodeArtifact(a));
    expect(modelHash(encodeArtifact(b))).to.equal(modelHash(encodeArtifact(a)));
    expect(modelHash(encodeArtifact({ ...a, taskId: "43" }))).to.not.equal(modelHash(encodeArtifact(a)));
    expect(modelHash(encodeArtifact(a))).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("rejects a truncated artifact at any length", () => {
    const bytes = encodeArtifact(artifact());
    for (const cut of [0, 7, 8, 100, bytes.length - 1]) {
      expect(artifactError(bytes.subarray(0, cut)), `cut at ${cut}`).to.equal("ARTIFACT_TRUNCATED");
    }
  });

  it("rejects an artifact over maxBytes before parsing it", () => {
    const bytes = encodeArtifact(artifact());
    expect(artifactError(bytes, bytes.length - 1)).to.equal("ARTIFACT_TOO_LARGE");
  });

  it("rejects NaN and infinite weights", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const bytes = repack(encodeArtifact(artifact()), (t) => {
        (t.get("layers.0.kernel")!.data as Float32Array)[3] = bad;
      });
      expect(artifactError(bytes)).to.equal("ARTIFACT_NAN");
    }
    const a = artifact();
    a.tensors.get("sml.kernel")!.data[0] = Number.NaN;
    expect(() => encodeArtifact(a)).to.throw(/sml\.kernel\[0\] is NaN/);
  });

  it("rejects tensors whose shapes or names differ from weightLayout(spec)", () => {
    const bytes = encodeArtifact(artifact());
    const reshaped = repack(bytes, (t) => {
      t.get("layers.0.kernel")!.shape = [16, 32]; // the preset's [32, 16], values kept
    });
    const missing = repack(bytes, (t) => void t.delete("layers.1.bias"));
    const extra = repack(bytes, (t) => void t.set("layers.9.kernel", { dtype: "F32", shape: [1], data: new Float32Array(1) }));
    const intBias = repack(bytes, (t) => void t.set("layers.1.bias", { dtype: "I32", shape: [3], data: new Int32Array(3) }));
    for (const b of [reshaped, missing, extra, intBias]) expect(artifactError(b)).to.equal("ARTIFACT_SHAPE");
    // An artifact for another model than its embedded spec describes.
    const other = { ...artifact(), tensors: weightsFor(presets.mnistMlp) };
    expect(() => encodeArtifact(other)).to.throw(/shape/);
  });

  it("rejects malformed or non-canonical metadata", () => {
    const bytes = encodeArtifact(artifact());
    const edits: ((m: Record<string, string>) => void)[] = [
      (m) => void (m.format = "podl-artifact/2"),
      (m) => void delete m.seed,
      (m) => void (m.taskId = "0x2a"),
      (m) => void (m.miner = "0x00000000000000000000000000000000000000AB"),
      (m) => void (m.spec = m.spec!.replace('"classes":3', '"classes":"3"')),
      (m) => void (m.spec = JSON.stringify(JSON.parse(m.spec!), null, 1)),
      (m) => void (m.watermark = "{"),
      (m) => void (m.checkpoints = JSON.stringify({ root: "0x00", count: 1, every: 1 })),
      (m) => void delete m.hyper,
    ];
    for (const edit of edits) {
      expect(artifactError(repack(bytes, (_, m) => edit(m))), edit.toString()).to.equal("ARTIFACT_INVALID");
    }
  });
});
