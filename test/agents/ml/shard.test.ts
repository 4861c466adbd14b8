import { expect } from "chai";
import { decrypt, encrypt, generateKey } from "../../../agents/ml/crypto.js";
import type { Dataset } from "../../../agents/ml/datasets/dataset.js";
import { isMlError } from "../../../agents/ml/errors.js";
import { decodeShard, encodeShard } from "../../../agents/ml/shard.js";
import { presets } from "../../../agents/ml/spec.js";
import { encodeTensors } from "../../../agents/ml/tensors.js";

function irisLike(n: number): Dataset {
  const x = Float32Array.from({ length: n * 4 }, (_, i) => (i % 13) / 3);
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);
  return { x, y, n, inputShape: [4], classes: 3 };
}

function shardError(bytes: Uint8Array, spec = presets.irisMlp): string {
  try {
    decodeShard(bytes, spec);
  } catch (e) {
    if (isMlError(e, "SHARD_INVALID")) return e.message;
    throw e;
  }
  throw new Error("expected SHARD_INVALID");
}

describe("ml/shard (v1)", () => {
  it("round-trips x and y through encryption", () => {
    const ds = irisLike(10);
    const key = generateKey();
    const back = decodeShard(decrypt(key, encrypt(key, encodeShard(ds))), presets.irisMlp);
    expect(back).to.deep.equal(ds);
  });

  it("rejects a shard whose input shape does not match the spec", () => {
    expect(shardError(encodeShard(irisLike(5)), presets.mnistMlp)).to.match(/x has shape \[5,4\], the spec needs \[n, 784\]/);
    const flat: Dataset = { x: new Float32Array(2 * 784), y: new Int32Array(2), n: 2, inputShape: [784], classes: 10 };
    expect(shardError(encodeShard(flat), presets.mnistCnn)).to.match(/x has shape \[2,784\]/);
  });

  it("rejects labels outside the spec's classes, and y of another length", () => {
    const ds = irisLike(4);
    ds.y[2] = 3;
    expect(shardError(encodeShard(ds))).to.match(/label 3 of example 2/);
    const bytes = encodeTensors(
      new Map([
        ["x", { dtype: "F32", shape: [2, 4], data: new Float32Array(8) }],
        ["y", { dtype: "I32", shape: [3], data: new Int32Array(3) }],
      ]),
      { format: "podl-shard/1" },
    );
    expect(shardError(bytes)).to.match(/y has shape \[3\], expected \[2\]/);
  });

  it("rejects non-finite inputs, a wrong format tag, extra tensors and a truncated file", () => {
    const ds = irisLike(3);
    ds.x[5] = Number.NaN;
    expect(shardError(encodeShard(ds))).to.match(/x\[5\] is NaN/);
    const other = encodeTensors(new Map([["x", { dtype: "F32", shape: [1, 4], data: new Float32Array(4) }]]), { format: "other" });
    expect(shardError(other)).to.match(/format "other"/);
    const extra = encodeTensors(
      new Map([
        ["x", { dtype: "F32", shape: [1, 4], data: new Float32Array(4) }],
        ["y", { dtype: "I32", shape: [1], data: new Int32Array(1) }],
        ["z", { dtype: "I32", shape: [1], data: new Int32Array(1) }],
      ]),
      { format: "podl-shard/1" },
    );
    expect(shardError(extra)).to.match(/expected exactly x and y/);
    const bytes = encodeShard(irisLike(3));
    expect(shardError(bytes.subarray(0, bytes.length - 1))).to.match(/data section/);
  });
});
