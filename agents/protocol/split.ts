import { AbiCoder, keccak256 } from "ethers";
import { assertBytes32 } from "./bytes32.js";
import { ProtocolError } from "./errors.js";

const coder = AbiCoder.defaultAbiCoder();

function checkRange(shardCount: number, testShards: number): void {
  if (!Number.isInteger(shardCount) || !Number.isInteger(testShards) || shardCount < 1 || shardCount > 256 ||
    testShards < 0 || testShards >= shardCount) {
    throw new ProtocolError("SPLIT_OUT_OF_RANGE", `split needs 1 <= shardCount <= 256 and 0 <= testShards < shardCount, got ${shardCount}, ${testShards}`);
  }
}

/**
 * The test shards in shuffle order, as Split.sol computes them: Fisher–Yates over 0..n-1 where step i
 * swaps position i with `i + keccak256(abi.encode(seed, i)) % (n - i)`; the first `testShards`
 * positions are the test shards.
 */
export function testShardOrder(seed: string, shardCount: number, testShards: number): number[] {
  assertBytes32(seed, "seed");
  checkRange(shardCount, testShards);
  const perm = Array.from({ length: shardCount }, (_, i) => i);
  const order: number[] = [];
  for (let i = 0; i < testShards; i++) {
    const draw = BigInt(keccak256(coder.encode(["bytes32", "uint256"], [seed, i])));
    const j = i + Number(draw % BigInt(shardCount - i));
    const atI = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = atI;
    order.push(perm[i]!);
  }
  return order;
}

/** Bitmap of the test shards (bit i set = shard i is a test shard), as `testShardBitmap` returns it. */
export function testShardBitmap(seed: string, shardCount: number, testShards: number): bigint {
  return testShardOrder(seed, shardCount, testShards).reduce((bits, i) => bits | (1n << BigInt(i)), 0n);
}

/** The split as two sorted index lists. */
export function splitShards(seed: string, shardCount: number, testShards: number): { train: number[]; test: number[] } {
  const bits = testShardBitmap(seed, shardCount, testShards);
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < shardCount; i++) ((bits >> BigInt(i)) & 1n ? test : train).push(i);
  return { train, test };
}
