import { expect } from "chai";
import { decrypt, encrypt, generateKey } from "../../../agents/ml/crypto.js";
import type { Dataset } from "../../../agents/ml/datasets/dataset.js";
import { isMlError } from "../../../agents/ml/errors.js";
import { decodeShard, encodeShard } from "../../../agents/ml/shard.js";
import { loadMnist } from "../../../agents/ml/datasets/bundled.js";
import { presets } from "../../../agents/ml/spec.js";
import { encodeTensors, type Tensor } from "../../../agents/ml/tensors.js";

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
    expect(shardError(extra)).to.match(/expected x and y \(and palette with U8 x\)/);
    const bytes = encodeShard(irisLike(3));
    expect(shardError(bytes.subarray(0, bytes.length - 1))).to.match(/data section/);
  });

  it("stores pixels as U8 codes into a palette: a quarter of the bytes, the same float32 values back", () => {
    const { train } = loadMnist({ train: 200, test: 10, image: true });
    const bytes = encodeShard(train);
    expect(bytes.length).to.be.below(train.x.byteLength / 3.9);
    const back = decodeShard(bytes, presets.mnistCnn);
    expect(Buffer.compare(Buffer.from(back.x.buffer, back.x.byteOffset, back.x.byteLength), Buffer.from(train.x.buffer, train.x.byteOffset, train.x.byteLength))).to.equal(0);
    expect([...back.y]).to.deep.equal([...train.y]);
    // 257 distinct values stay F32
    const many: Dataset = { x: Float32Array.from({ length: 257 * 4 }, (_, i) => i / 7), y: new Int32Array(257), n: 257, inputShape: [4], classes: 3 };
    expect(encodeShard(many).length).to.be.above(many.x.byteLength);
    expect(decodeShard(encodeShard(many), presets.irisMlp).x).to.deep.equal(many.x);
  });

  it("rejects a palette that is not the encoder's: codes past its end, out of order, too long, or one dtype without the other", () => {
    const shard = (x: Tensor, palette?: Tensor) =>
      encodeTensors(new Map<string, Tensor>([["x", x], ["y", { dtype: "I32", shape: [1], data: new Int32Array(1) }], ...(palette ? [["palette", palette] as [string, Tensor]] : [])]), { format: "podl-shard/1" });
    const u8 = (codes: number[]): Tensor => ({ dtype: "U8", shape: [1, 4], data: Uint8Array.from(codes) });
    const f32 = (values: number[]): Tensor => ({ dtype: "F32", shape: [values.length], data: Float32Array.from(values) });
    expect(shardError(shard(u8([0, 1, 2, 3]), f32([0, 0.5, 1])))).to.match(/x\[3\] codes 3, past the palette's 3 values/);
    expect(shardError(shard(u8([0, 1, 0, 1]), f32([1, 0.5])))).to.match(/palette is not strictly ascending at 1/);
    expect(shardError(shard(u8([0, 0, 0, 0]), f32(Array.from({ length: 257 }, (_, i) => i))))).to.match(/palette is F32 \[257\]: expected F32 \[k\], 1 ≤ k ≤ 256/);
    expect(shardError(shard(u8([0, 0, 0, 0])))).to.match(/x is U8: expected F32, or U8 with a palette/);
    expect(shardError(shard({ dtype: "F32", shape: [1, 4], data: new Float32Array(4) }, f32([0])))).to.match(/x is F32: expected F32, or U8 with a palette/);
  });
});
