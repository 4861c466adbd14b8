import { expect } from "chai";
import { decodeArtifact, encodeArtifact, modelHash } from "../../agents/ml/artifact.js";
import type { ArtifactV1, WeightTensor } from "../../agents/ml/artifact.js";
import { isMlError } from "../../agents/ml/errors.js";
import type { MlErrorCode } from "../../agents/ml/errors.js";
import { presets, weightLayout } from "../../agents/ml/spec.js";
import type { TaskSpec } from "../../agents/ml/spec.js";
import { decodeTensors, encodeTensors } from "../../agents/ml/tensors.js";
import type { Tensor } from "../../agents/ml/tensors.js";

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
    checkpoints: { root: `0x${"ee".repeat(32)}`, count: 3, every: spec.checkpointEvery, manifestCid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy" },
    tensors: weightsFor(spec),
  };
}

function artifactError(bytes: Uint8Array, maxBytes?: number): MlErrorCode {
  try {
    decodeArtifact(bytes, { maxBytes });
  } catch (e) {
    if (isMlError(e)) return e.code;
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
      t.get("layers.0.kernel")!.shape = [8, 32];
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
    ];
    for (const edit of edits) {
      expect(artifactError(repack(bytes, (_, m) => edit(m))), edit.toString()).to.equal("ARTIFACT_INVALID");
    }
  });
});
