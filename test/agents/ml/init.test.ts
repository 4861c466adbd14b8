import { expect } from "chai";
import { fans, initialWeights } from "../../../agents/ml/init.js";
import { keccak256Parts } from "../../../agents/ml/keccak.js";
import { initSeed, KeccakStream } from "../../../agents/ml/seeds.js";
import { parseSpec, presets, weightLayout } from "../../../agents/ml/spec.js";
import { AbiCoder, keccak256 } from "ethers";

const SEED = `0x${"5e".repeat(32)}`;
const MINER = "0x1111111111111111111111111111111111111111";
const SKIP = new Set(["sml.kernel"]);
const digest = (w: ReturnType<typeof initialWeights>) => keccak256Parts([...w.values()].map((t) => new Uint8Array(t.data.buffer)));

describe("ml/init: seeded initialisation", () => {
  it("derives its seed as keccak256(abi.encode(seed, miner))", () => {
    expect(initSeed(SEED, MINER)).to.equal(keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "address"], [SEED, MINER])));
  });

  it("streams keccak256(abi.encode(key, uint256 counter)) words", () => {
    const key = `0x${"11".repeat(32)}`;
    const s = new KeccakStream(key);
    const block1 = keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [key, 1n]));
    for (let k = 0; k < 8; k++) s.nextUint32();
    expect(s.nextUint32()).to.equal(Number.parseInt(block1.slice(2, 10), 16));
  });

  it("is bit-exact: the MNIST MLP's initial weights hash to a pinned value", () => {
    const w = initialWeights(SEED, MINER, weightLayout(presets.mnistMlp), SKIP);
    expect([...w.keys()]).to.deep.equal(["layers.0.kernel", "layers.0.bias", "layers.1.kernel", "layers.1.bias"]);
    expect(digest(w)).to.equal("0xd40108b1860ef1da82b6f8d85dc505650553274018b3db53cc3ec888895d463f");
  });

  it("differs per miner and stays within Glorot-uniform bounds", () => {
    const layout = weightLayout(presets.mnistMlp);
    const a = initialWeights(SEED, MINER, layout, SKIP).get("layers.0.kernel")!.data;
    const b = initialWeights(SEED, "0x2222222222222222222222222222222222222222", layout, SKIP).get("layers.0.kernel")!.data;
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).to.not.equal(0);
    const limit = Math.sqrt(6 / (256 + 64));
    expect(Math.max(...a.map(Math.abs))).to.be.at.most(limit);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean)).to.be.below(0.01);
  });

  it("sets batch-norm gamma and variance to 1, biases and means to 0, and uses Keras fans", () => {
    const spec = parseSpec({
      ...JSON.parse(JSON.stringify(presets.irisMlp)),
      layers: [{ type: "dense", units: 8, activation: "relu" }, { type: "batchNormalization" }, { type: "dense", units: 3, activation: "softmax" }],
    });
    const w = initialWeights(SEED, MINER, weightLayout(spec), SKIP);
    expect(Array.from(w.get("layers.1.gamma")!.data)).to.deep.equal(new Array(8).fill(1));
    expect(Array.from(w.get("layers.1.movingVariance")!.data)).to.deep.equal(new Array(8).fill(1));
    expect(Array.from(w.get("layers.1.movingMean")!.data)).to.deep.equal(new Array(8).fill(0));
    expect(Array.from(w.get("layers.0.bias")!.data)).to.deep.equal(new Array(8).fill(0));
    expect(fans([3, 3, 4, 8])).to.deep.equal({ fanIn: 36, fanOut: 72 });
  });
});
