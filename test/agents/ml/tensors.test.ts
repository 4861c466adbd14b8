import { expect } from "chai";
import { isMlError } from "../../../agents/ml/errors.js";
import { decodeTensors, encodeTensors } from "../../../agents/ml/tensors.js";
import type { Tensor, TensorReason } from "../../../agents/ml/tensors.js";

function reasonOf(f: () => unknown): TensorReason {
  try {
    f();
  } catch (e) {
    if (isMlError(e, "TENSORS_INVALID")) return e.context.reason as TensorReason;
    throw e;
  }
  throw new Error("expected TENSORS_INVALID");
}

/** A file written by hand the way the reference implementation lays it out. */
function handWritten(header: string, data: number[]): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const sample = (): Map<string, Tensor> =>
  new Map<string, Tensor>([
    ["w", { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2.5, 3, 0, 1e-30, -0]) }],
    ["labels", { dtype: "I32", shape: [4], data: new Int32Array([0, 7, -1, 2 ** 31 - 1]) }],
    ["empty", { dtype: "F32", shape: [0, 5], data: new Float32Array(0) }],
  ]);

describe("ml/tensors (safetensors container)", () => {
  it("writes the safetensors layout: u64 LE header length, 8-aligned JSON header, little-endian data in name order", () => {
    const bytes = encodeTensors(new Map([["b", { dtype: "I32", shape: [1], data: new Int32Array([258]) }], ["a", { dtype: "F32", shape: [1], data: new Float32Array([1]) }]]), { k: "v" });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).to.equal(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header.trimEnd()).to.equal(
      '{"__metadata__":{"k":"v"},"a":{"data_offsets":[0,4],"dtype":"F32","shape":[1]},"b":{"data_offsets":[4,8],"dtype":"I32","shape":[1]}}',
    );
    expect([...bytes.subarray(8 + n)]).to.deep.equal([0x00, 0x00, 0x80, 0x3f, 0x02, 0x01, 0x00, 0x00]);
  });

  it("reads a file in the reference writer's key order and without padding", () => {
    const file = handWritten('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}', [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    const { tensors, metadata } = decodeTensors(file, { maxBytes: 1000 });
    expect(metadata).to.deep.equal({ format: "pt" });
    expect([...(tensors.get("x")!.data as Float32Array)]).to.deep.equal([1, -2]);
  });

  it("round-trips values bit for bit, and the same content gives the same bytes", () => {
    const bytes = encodeTensors(sample(), { a: "1", b: "2" });
    const reversed = new Map([...sample()].reverse());
    expect(encodeTensors(reversed, { b: "2", a: "1" })).to.deep.equal(bytes);
    const { tensors, metadata } = decodeTensors(bytes, { maxBytes: bytes.length });
    expect(metadata).to.deep.equal({ a: "1", b: "2" });
    for (const [name, t] of sample()) {
      const got = tensors.get(name)!;
      expect(got.dtype).to.equal(t.dtype);
      expect(got.shape).to.deep.equal(t.shape);
      expect(new Uint8Array(got.data.buffer)).to.deep.equal(new Uint8Array(t.data.buffer));
    }
  });

  it("decodes from a Node Buffer that is a view into a larger pool (as readFile returns)", () => {
    const bytes = encodeTensors(sample(), {});
    const pooled = Buffer.alloc(bytes.length + 24);
    pooled.set(bytes, 8);
    const { tensors } = decodeTensors(pooled.subarray(8, 8 + bytes.length), { maxBytes: bytes.length });
    for (const [name, t] of sample()) expect(Array.from(tensors.get(name)!.data)).to.deep.equal(Array.from(t.data));
  });

  it("rejects input over maxBytes, truncated input at every length, and trailing bytes", () => {
    const bytes = encodeTensors(sample());
    expect(reasonOf(() => decodeTensors(bytes, { maxBytes: bytes.length - 1 }))).to.equal("too_large");
    for (let cut = 0; cut < bytes.length; cut += 7) {
      expect(reasonOf(() => decodeTensors(bytes.subarray(0, cut), { maxBytes: bytes.length }))).to.equal("truncated");
    }
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(reasonOf(() => decodeTensors(longer, { maxBytes: longer.length }))).to.equal("malformed");
  });

  it("rejects malformed headers: bad JSON, unknown dtype, holes, offsets that disagree with the shape", () => {
    const four = [0, 0, 0, 0];
    const cases = [
      '{"x":',
      '{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}',
      '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}',
      '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}',
      '{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}',
      '{"__metadata__":{"n":1},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
      "[1]",
    ];
    for (const header of cases) {
      expect(reasonOf(() => decodeTensors(handWritten(header, four), { maxBytes: 1000 })), header).to.equal("malformed");
    }
  });

  it("refuses to write a tensor whose data does not fill its shape", () => {
    const bad = new Map<string, Tensor>([["x", { dtype: "F32", shape: [2, 2], data: new Float32Array(3) }]]);
    expect(reasonOf(() => encodeTensors(bad))).to.equal("malformed");
  });
});
