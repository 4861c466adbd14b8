import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, toUtf8Bytes } from "ethers";
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

/** Leaf values `(index, keccak256(bytes(cid)), keccak256(key))` (DESIGN §4). */
export type DatasetLeaf = [bigint, string, string];
export const DATASET_LEAF_ENCODING = ["uint256", "bytes32", "bytes32"];

export function datasetLeaf(index: number, shard: ShardSecret): DatasetLeaf {
  const key = assertBytes32(shard.key, `key of shard ${index}`);
  if (shard.cid.length === 0) throw new ProtocolError("SHARD_KEY_INVALID", `shard ${index} has an empty CID`);
  return [BigInt(index), keccak256(toUtf8Bytes(shard.cid)), keccak256(key)];
}

/**
 * The dataset tree: a StandardMerkleTree over the leaf values, so each leaf hash is
 * `keccak256(keccak256(abi.encode(index, cidHash, keyHash)))` (Commitments.shardLeaf).
 */
export function buildDatasetTree(shards: readonly ShardSecret[]): StandardMerkleTree<DatasetLeaf> {
  return StandardMerkleTree.of(shards.map((s, i) => datasetLeaf(i, s)), DATASET_LEAF_ENCODING);
}

/** The multiproof that unlocks `indices`, with the keys in the proof's leaf order. */
export function shardKeyMultiproof(
  tree: StandardMerkleTree<DatasetLeaf>,
  shards: readonly ShardSecret[],
  indices: readonly number[],
): { keys: ShardKeyArg[]; proof: string[]; proofFlags: boolean[] } {
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= shards.length) {
      throw new ProtocolError("SHARD_INDEX_OUT_OF_RANGE", `shard index ${i} is outside 0..${shards.length - 1}`);
    }
  }
  const multi = tree.getMultiProof([...indices]);
  const keys = multi.leaves.map(([index, cidHash]) => ({ index, cidHash, key: shards[Number(index)]!.key }));
  return { keys, proof: multi.proof, proofFlags: multi.proofFlags };
}
