import { expect } from "chai";
import { generateSml, smlKernelShape, smlMatches } from "../../../agents/ml/sml.js";
import { keccak256Parts } from "../../../agents/ml/keccak.js";
import { KeccakStream } from "../../../agents/ml/seeds.js";
import { presets } from "../../../agents/ml/spec.js";

const SEED = `0x${"5e".repeat(32)}`;
const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe("ml/sml: Secure Mapping Layer", () => {
  it("is bit-exact: the MNIST MLP's SML hashes to a pinned value", () => {
    const { shape, data } = generateSml(SEED, presets.mnistMlp.sml, [784]);
    expect(shape).to.deep.equal([784, 256]);
    expect(keccak256Parts([bytes(data)])).to.equal("0xd2427e85bf57c3b6ab4ec1a69541272918b794e089a1cd096d69739435a81d48");
  });

  it("draws k-bit integers from the stream's bits, most significant first, across word boundaries", () => {
    const words = new KeccakStream(SEED);
    const [w0, w1] = [words.nextUint32(), words.nextUint32()];
    const bits = new KeccakStream(SEED);
    const nibbles = Array.from({ length: 8 }, () => bits.nextBits(4));
    expect(nibbles).to.deep.equal(Array.from({ length: 8 }, (_, j) => (w0 >>> (28 - 4 * j)) & 15));
    const straddle = new KeccakStream(SEED);
    straddle.nextBits(24);
    expect(straddle.nextBits(12)).to.equal(((w0 & 0xff) << 4) | (w1 >>> 28));
    expect(straddle.nextBits(28)).to.equal(w1 & 0xfffffff);
  });

  it("holds centred k-bit integers scaled by 1/√D", () => {
    const { data } = generateSml(SEED, { kind: "dense", units: 32, bits: 4 }, [16]);
    const levels = new Set(Array.from(data, (v) => Math.round(v * 4 + 7.5)));
    expect([...levels].every((q) => Number.isInteger(q) && q >= 0 && q <= 15)).to.equal(true);
    expect(levels.size).to.equal(16);
    for (const v of data) expect(Math.abs(v * 4 - Math.round(v * 4 + 7.5) + 7.5)).to.be.below(1e-6);
  });

  it("builds per-channel convolution filters (CSML) for image inputs", () => {
    expect(smlKernelShape(presets.mnistCnn.sml, [28, 28, 1])).to.deep.equal([7, 7, 1, 8]);
    const { data } = generateSml(SEED, { kind: "conv", filters: 2, kernelSize: 3, bits: 2 }, [8, 8, 3]);
    expect(data.length).to.equal(3 * 3 * 3 * 2);
    // 2-bit levels −1.5, −0.5, 0.5, 1.5 over √27.
    for (const v of data) expect([-1.5, -0.5, 0.5, 1.5].map((l) => Math.fround(l / Math.sqrt(27)))).to.include(v);
  });

  it("matches only its own seed, bit for bit", () => {
    const sml = presets.irisMlp.sml;
    const own = generateSml(SEED, sml, [4]).data;
    expect(smlMatches(SEED, sml, [4], own)).to.equal(true);
    expect(smlMatches(`0x${"5f".repeat(32)}`, sml, [4], own)).to.equal(false);
    const nudged = own.slice();
    nudged[3] = nudged[3]! + 1e-7;
    expect(smlMatches(SEED, sml, [4], nudged)).to.equal(false);
    expect(smlMatches(SEED, sml, [4], own.subarray(1))).to.equal(false);
  });
});
