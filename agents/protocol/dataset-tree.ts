import { AbiCoder, concat, keccak256, toUtf8Bytes } from "ethers";
import { assertBytes32 } from "./bytes32.js";
import { ProtocolError } from "./errors.js";

/** One shard as the publisher knows it: ciphertext CID and AES-256 key (32 bytes, 0x hex). */
export interface ShardSecret {
  cid: string;
  key: string;
}

/** A shard key as `unlockTrainingData` / `unlockTestData` take it (`ITaskMarket.ShardKey`). */
export interface ShardKeyArg {
  index: bigint;
  cidHash: string;
  key: string;
}

const coder = AbiCoder.defaultAbiCoder();

/**
 * Leaf `i` (DESIGN §4, `Commitments.shardLeaf`): `keccak256(abi.encode(i, keccak256(bytes(cid)),
 * keccak256(key)))`.
 */
export function shardLeaf(index: number | bigint, cidHash: string, key: string): string {
  const k = assertBytes32(key, `key of shard ${index}`);
  return keccak256(coder.encode(["uint256", "bytes32", "bytes32"], [BigInt(index), cidHash, keccak256(k)]));
}

export function datasetLeaf(index: number, shard: ShardSecret): string {
  if (shard.cid.length === 0) throw new ProtocolError("SHARD_KEY_INVALID", `shard ${index} has an empty CID`);
  return shardLeaf(index, keccak256(toUtf8Bytes(shard.cid)), shard.key);
}

/** The dataset commitment: `keccak256(abi.encodePacked(leaf_0, ..., leaf_{n-1}))`, one leaf per index. */
export function datasetRootOf(leaves: readonly string[]): string {
  return keccak256(concat(leaves as string[]));
}

/** A dataset's ordered leaves and its commitment (`datasetRoot`). */
export interface DatasetCommitment {
  leaves: string[];
  root: string;
}

export function buildDatasetCommitment(shards: readonly ShardSecret[]): DatasetCommitment {
  const leaves = shards.map((s, i) => datasetLeaf(i, s));
  return { leaves, root: datasetRootOf(leaves) };
}

function checkIndices(count: number, indices: readonly number[]): number[] {
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= count) {
      throw new ProtocolError("SHARD_INDEX_OUT_OF_RANGE", `shard index ${i} is outside 0..${count - 1}`);
    }
  }
  return [...indices].sort((a, b) => a - b);
}

/** The keys of `indices`, in index order, as the unlock functions take them. */
export function shardKeys(shards: readonly ShardSecret[], indices: readonly number[]): ShardKeyArg[] {
  return checkIndices(shards.length, indices).map((i) => ({ index: BigInt(i), cidHash: keccak256(toUtf8Bytes(shards[i]!.cid)), key: shards[i]!.key }));
}

/** `unlockTrainingData`'s arguments: the training keys and the test shards' leaves, each in index order. */
export function trainingUnlock(shards: readonly ShardSecret[], train: readonly number[], test: readonly number[]): { keys: ShardKeyArg[]; testLeaves: string[] } {
  const leaves = buildDatasetCommitment(shards).leaves;
  return { keys: shardKeys(shards, train), testLeaves: checkIndices(shards.length, test).map((i) => leaves[i]!) };
}

/**
 * A miner's check before committing: the published training keys with the test leaves rebuild the
 * task's dataset commitment, and every training key's CID hash is the CID the task document names for
 * that index (so the data it trains on is the data committed to). Throws `DATASET_COMMITMENT_MISMATCH`.
 */
export function checkDatasetCommitment(x: {
  datasetRoot: string;
  cids: readonly string[];
  testIndices: readonly number[];
  keys: readonly ShardKeyArg[];
  testLeaves: readonly string[];
}): void {
  const test = new Set(x.testIndices);
  const leaves: string[] = [];
  let k = 0;
  let t = 0;
  for (let i = 0; i < x.cids.length; i++) {
    if (test.has(i)) {
      const leaf = x.testLeaves[t++];
      if (leaf === undefined) throw new ProtocolError("DATASET_COMMITMENT_MISMATCH", `test leaf of shard ${i} is missing`);
      leaves.push(leaf);
      continue;
    }
    const key = x.keys[k++];
    if (key === undefined || key.index !== BigInt(i)) {
      throw new ProtocolError("DATASET_COMMITMENT_MISMATCH", `training key of shard ${i} is missing or out of order`);
    }
    const cidHash = keccak256(toUtf8Bytes(x.cids[i]!));
    if (key.cidHash.toLowerCase() !== cidHash.toLowerCase()) {
      throw new ProtocolError("DATASET_COMMITMENT_MISMATCH", `shard ${i}: the unlocked key names another CID than the task document (${x.cids[i]})`);
    }
    leaves.push(shardLeaf(i, key.cidHash, key.key));
  }
  if (k !== x.keys.length || t !== x.testLeaves.length) {
    throw new ProtocolError("DATASET_COMMITMENT_MISMATCH", `${x.keys.length} keys and ${x.testLeaves.length} test leaves for ${x.cids.length} shards`);
  }
  const root = datasetRootOf(leaves);
  if (root.toLowerCase() !== x.datasetRoot.toLowerCase()) {
    throw new ProtocolError("DATASET_COMMITMENT_MISMATCH", `the unlocked keys and test leaves rebuild ${root}, not the task's dataset root ${x.datasetRoot}`);
  }
}
