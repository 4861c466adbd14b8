import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import { AbiCoder, concat, keccak256 } from "ethers";
import { buildManifest, checkManifest, checkSchedule, decodeCheckpoint, encodeCheckpoint, weightsHash } from "../../../agents/ml/checkpoints.js";
import type { Checkpoint, ManifestEntry } from "../../../agents/ml/checkpoints.js";
import { isMlError } from "../../../agents/ml/errors.js";

function cp(i: number, step: number): Checkpoint {
  return {
    i,
    step,
    weights: new Map([["layers.0.kernel", { shape: [2, 2], data: Float32Array.from([i, step, 1, 2]) }]]),
    optimizer: new Map([["optimizer.iterations", { shape: [], data: Float32Array.from([step]) }]]),
  };
}

const entries = (steps: number[]): ManifestEntry[] => steps.map((step, i) => ({ i, step, weightsHash: weightsHash(cp(i, step)) }));

function expectGap(f: () => void): void {
  try {
    f();
  } catch (e) {
    expect(isMlError(e, "CHECKPOINT_GAP"), String(e)).to.equal(true);
    return;
  }
  expect.fail("expected CHECKPOINT_GAP");
}

describe("ml/checkpoints: checkpoint tree and manifest", () => {
  it("roots the leaves (i, step, weightsHash) in an OpenZeppelin StandardMerkleTree", () => {
    const m = buildManifest([cp(0, 0), cp(1, 10), cp(2, 20), cp(3, 25)], 10);
    const tree = StandardMerkleTree.of(m.entries.map((e) => [e.i, e.step, e.weightsHash]), ["uint256", "uint256", "bytes32"]);
    expect(m.root).to.equal(tree.root);
    const inner = keccak256(AbiCoder.defaultAbiCoder().encode(["uint256", "uint256", "bytes32"], [1, 10, m.entries[1]!.weightsHash]));
    expect(tree.leafHash([1, 10, m.entries[1]!.weightsHash])).to.equal(keccak256(concat([inner])));
    expect(() => checkManifest(m, { root: m.root, count: 4, every: 10 })).to.not.throw();
  });

  it("hashes the float32 bytes of weights, then optimizer state", () => {
    const c = cp(1, 10);
    const bytes = concat([new Uint8Array(Float32Array.from([1, 10, 1, 2]).buffer), new Uint8Array(Float32Array.from([10]).buffer)]);
    expect(weightsHash(c)).to.equal(keccak256(bytes));
  });

  it("rejects a skipped step, a missing or repeated index, and a wrong root with CHECKPOINT_GAP", () => {
    expectGap(() => checkSchedule(entries([0, 10, 30, 40]), 10));
    expectGap(() => checkSchedule(entries([0, 10, 10, 20]), 10));
    expectGap(() => checkSchedule([...entries([0, 10]), { i: 3, step: 20, weightsHash: weightsHash(cp(3, 20)) }], 10));
    expectGap(() => checkSchedule(entries([0]), 10));
    expectGap(() => checkSchedule(entries([0, 10, 20, 31]), 10));
    const m = buildManifest([cp(0, 0), cp(1, 10), cp(2, 20)], 10);
    expectGap(() => checkManifest(m, { root: `0x${"00".repeat(32)}`, count: 3, every: 10 }));
    expectGap(() => checkManifest({ ...m, entries: m.entries.slice(0, 2) }, { root: m.root, count: 3, every: 10 }));
    expectGap(() => buildManifest([cp(0, 0), cp(1, 10), cp(2, 30)], 10));
  });

  it("round-trips a checkpoint through its tensor container", () => {
    const c = cp(2, 20);
    const back = decodeCheckpoint(encodeCheckpoint(c));
    expect(back.i).to.equal(2);
    expect(back.step).to.equal(20);
    expect(weightsHash(back)).to.equal(weightsHash(c));
  });
});
