import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { MlError } from "./errors.js";
import type { NamedTensors } from "./init.js";
import { keccakConcat } from "./seeds.js";
import { decodeTensors, encodeTensors } from "./tensors.js";
import type { Tensor } from "./tensors.js";

/**
 * Training checkpoints (D-PoDL, Proof-of-Learning). Checkpoint i is taken after step i·every
 * (checkpoint 0 is the seeded initialisation), plus one after the last step when that is not a
 * multiple of `every`. Each holds the model's tensors (weightLayout order) but the SML, which is the
 * task's and regenerated from its seed (for the MNIST MLP it is 92 % of the bytes), and the
 * optimizer's state (`optimizer.iterations`, `optimizer.<slot>.<weight>`), since replaying Adam
 * needs its moments.
 *
 * weightsHash = keccak256(model tensors' float32 little-endian bytes in weightLayout order, then the
 * optimizer tensors in their order). The leaf value is (uint256 i, uint256 step, bytes32 weightsHash);
 * the tree is OpenZeppelin's StandardMerkleTree, so a leaf hashes to
 * keccak256(bytes.concat(keccak256(abi.encode(i, step, weightsHash)))) and pairs are sorted.
 */

export type Checkpoint = { i: number; step: number; weights: NamedTensors; optimizer: NamedTensors };
export type ManifestEntry = { i: number; step: number; weightsHash: string };
export type CheckpointManifest = { format: "podl-checkpoints/1"; every: number; root: string; entries: ManifestEntry[] };
export type CheckpointLeaf = [bigint, bigint, string];

export const CHECKPOINT_LEAF_ENCODING = ["uint256", "uint256", "bytes32"];
export const CHECKPOINT_FORMAT = "podl-checkpoint/1";

export function weightsHash(cp: Pick<Checkpoint, "weights" | "optimizer">): string {
  const parts: Uint8Array[] = [];
  for (const t of [...cp.weights.values(), ...cp.optimizer.values()]) parts.push(littleEndianBytes(t.data));
  return keccakConcat(parts);
}

export function checkpointLeaf(e: ManifestEntry): CheckpointLeaf {
  return [BigInt(e.i), BigInt(e.step), e.weightsHash];
}

export function checkpointTree(entries: readonly ManifestEntry[]): StandardMerkleTree<CheckpointLeaf> {
  return StandardMerkleTree.of(entries.map(checkpointLeaf), CHECKPOINT_LEAF_ENCODING);
}

export function buildManifest(checkpoints: readonly Checkpoint[], every: number): CheckpointManifest {
  const entries = checkpoints.map((cp) => ({ i: cp.i, step: cp.step, weightsHash: weightsHash(cp) }));
  checkSchedule(entries, every);
  return { format: "podl-checkpoints/1", every, root: checkpointTree(entries).root, entries };
}

/**
 * Checks that the entries are checkpoints 0..n−1 at steps 0, every, 2·every, … with at most a
 * shorter last interval, and that they hash to `root`. Throws MlError CHECKPOINT_GAP otherwise.
 */
export function checkManifest(m: CheckpointManifest, expected: { root: string; count: number; every: number }): void {
  if (m.every !== expected.every) throw gap(`manifest every ${m.every}, artifact says ${expected.every}`, { every: m.every });
  if (m.entries.length !== expected.count) throw gap(`manifest lists ${m.entries.length} checkpoints, artifact says ${expected.count}`, { count: m.entries.length });
  checkSchedule(m.entries, m.every);
  const root = checkpointTree(m.entries).root;
  if (root !== m.root || root !== expected.root.toLowerCase()) throw gap(`checkpoint root ${root} does not match ${expected.root}`, { root });
}

export function checkSchedule(entries: readonly ManifestEntry[], every: number): void {
  if (entries.length < 2) throw gap(`${entries.length} checkpoints: need the initial one and at least one more`, { count: entries.length });
  entries.forEach((e, k) => {
    if (e.i !== k) throw gap(`checkpoint ${k} is numbered ${e.i}`, { index: k, i: e.i });
    const last = k === entries.length - 1;
    const want = k * every;
    const ok = last ? e.step > (k - 1) * every && e.step <= want : e.step === want;
    if (!ok) throw gap(`checkpoint ${k} is at step ${e.step}, expected ${last ? `in (${(k - 1) * every}, ${want}]` : want}`, { index: k, step: e.step });
  });
}

/** One checkpoint as a tensor container (same safetensors layout as artifacts). */
export function encodeCheckpoint(cp: Checkpoint): Uint8Array {
  const named = new Map<string, Tensor>();
  for (const [k, t] of cp.weights) named.set(k, { dtype: "F32", shape: t.shape, data: t.data });
  for (const [k, t] of cp.optimizer) named.set(k, { dtype: "F32", shape: t.shape, data: t.data });
  const order = JSON.stringify({ weights: [...cp.weights.keys()], optimizer: [...cp.optimizer.keys()] });
  return encodeTensors(named, { format: CHECKPOINT_FORMAT, i: String(cp.i), step: String(cp.step), order });
}

export function decodeCheckpoint(bytes: Uint8Array, maxBytes = 1 << 30): Checkpoint {
  const { tensors, metadata } = decodeTensors(bytes, { maxBytes });
  if (metadata.format !== CHECKPOINT_FORMAT || metadata.order === undefined) throw new MlError("TENSORS_INVALID", "not a podl checkpoint");
  const order = JSON.parse(metadata.order) as { weights: string[]; optimizer: string[] };
  const pick = (names: string[]): NamedTensors =>
    new Map(
      names.map((n) => {
        const t = tensors.get(n);
        if (t === undefined || t.dtype !== "F32") throw new MlError("TENSORS_INVALID", `checkpoint lacks F32 tensor ${n}`);
        return [n, { shape: t.shape, data: t.data }];
      }),
    );
  return { i: Number(metadata.i), step: Number(metadata.step), weights: pick(order.weights), optimizer: pick(order.optimizer) };
}

function littleEndianBytes(data: Float32Array): Uint8Array {
  // Every platform Node runs on is little-endian; the container's byte order is the same.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function gap(message: string, context: Record<string, unknown>): MlError {
  return new MlError("CHECKPOINT_GAP", `checkpoints: ${message}`, { context });
}
