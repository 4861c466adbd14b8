import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { network } from "hardhat";
import { testShardBitmap, testShardOrder } from "../../agents/protocol/split.js";
import { isProtocolError } from "../../agents/protocol/errors.js";
import { randomStream } from "./helpers/random.js";

const { ethers } = await network.create();

describe("Split: contract vs TypeScript reference", () => {
  it("agrees on every shard count from 10 to 256", async () => {
    const harness = await ethers.deployContract("SplitHarness");
    const next = randomStream("split-diff");
    const counts = Array.from({ length: 247 }, (_, i) => BigInt(10 + i));
    for (let round = 0; round < 2; round++) {
      const seed = keccak256(toUtf8Bytes(`split-seed-${round}`));
      const tests = counts.map((n) => 1n + next(n - 1n));
      const bitmaps: bigint[] = [];
      // Batches of 32: one call per batch keeps memory expansion small.
      for (let start = 0; start < counts.length; start += 32) {
        bitmaps.push(...(await harness.testBitmaps(seed, counts.slice(start, start + 32), tests.slice(start, start + 32))));
      }
      counts.forEach((n, i) => {
        const expected = testShardBitmap(seed, Number(n), Number(tests[i]));
        expect(bitmaps[i]).to.equal(expected, `n=${n}, testShards=${tests[i]}`);
        let bits = 0;
        for (let b = expected; b > 0n; b >>= 1n) bits += Number(b & 1n);
        expect(bits).to.equal(Number(tests[i]));
        expect(expected >> n).to.equal(0n);
      });
    }
  });

  it("agrees on the shuffle order", async () => {
    const harness = await ethers.deployContract("SplitHarness");
    const seed = keccak256(toUtf8Bytes("order"));
    for (const [n, t] of [[10, 9], [64, 16], [256, 255]] as const) {
      const order = await harness.testOrder(seed, n, t);
      expect(order.map(Number)).to.deep.equal(testShardOrder(seed, n, t));
    }
  });

  it("rejects out-of-range counts on both sides", async () => {
    const harness = await ethers.deployContract("SplitHarness");
    const seed = ethers.ZeroHash;
    await expect(harness.testOrder(seed, 257n, 1n)).to.be.revertedWithCustomError(harness, "SplitOutOfRange").withArgs(257n, 1n);
    await expect(harness.testOrder(seed, 10n, 10n)).to.be.revertedWithCustomError(harness, "SplitOutOfRange").withArgs(10n, 10n);
    expect(() => testShardOrder(seed, 10, 10)).to.throw().that.satisfies((e: unknown) => isProtocolError(e, "SPLIT_OUT_OF_RANGE"));
  });
});
