import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { expect } from "chai";
import { keccak256Parts } from "../../../agents/ml/keccak.js";

describe("ml/keccak: the WebAssembly keccak256 for checkpoints and artifacts", () => {
  it("gives noble's digests for empty, block-edge and unaligned inputs, parts hashed as one", () => {
    const bytes = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
    for (const n of [0, 1, 135, 136, 137, 4096, bytes.length]) {
      expect(keccak256Parts([bytes.subarray(0, n)])).to.equal(`0x${bytesToHex(keccak_256(bytes.subarray(0, n)))}`);
    }
    // views at odd offsets into one buffer, as checkpoint tensors are
    const parts = [bytes.subarray(3, 1000), bytes.subarray(1000, 1001), new Uint8Array(0), bytes.subarray(1001, 70_001)];
    expect(keccak256Parts(parts)).to.equal(`0x${bytesToHex(keccak_256(bytes.subarray(3, 70_001)))}`);
    expect(keccak256Parts([])).to.equal("0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  });
});
