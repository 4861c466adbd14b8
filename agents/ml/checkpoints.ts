import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { describeList, describeValue } from "./describe.js";
import { MlError } from "./errors.js";
import type { NamedTensors } from "./init.js";
import { keccak256Parts } from "./keccak.js";
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
/**
 * Most checkpoints any manifest may list, whatever a caller allows: checked before the Merkle tree is
 * built (a million claimed checkpoints cost a minute and most of a gigabyte to hash).
 */
export const MAX_CHECKPOINTS = 100_000;
/** Largest checkpoint header: metadata and the order (a name per tensor, twice), an entry per tensor and optimizer slot. */
const MAX_CHECKPOINT_HEADER_BYTES = 4 << 20;

export function weightsHash(cp: Pick<Checkpoint, "weights" | "optimizer">): string {
  const parts: Uint8Array[] = [];
  for (const t of [...cp.weights.values(), ...cp.optimizer.values()]) parts.push(littleEndianBytes(t.data));
  return keccak256Parts(parts);
}

export function checkpointLeaf(e: ManifestEntry): CheckpointLeaf {
  return [BigInt(e.i), BigInt(e.step), e.weightsHash];
}

export function checkpointTree(entries: readonly ManifestEntry[]): StandardMerkleTree<CheckpointLeaf> {
  return StandardMerkleTree.of(entries.map(checkpointLeaf), CHECKPOINT_LEAF_ENCODING);
}

export function buildManifest(checkpoints: readonly Checkpoint[], every: number): CheckpointManifest {
  return manifestOf(checkpoints.map((cp) => ({ i: cp.i, step: cp.step, weightsHash: weightsHash(cp) })), every);
}

/** The manifest of checkpoints already hashed (training hashes each as it is taken). */
export function manifestOf(entries: ManifestEntry[], every: number): CheckpointManifest {
  checkSchedule(entries, every);
  return { format: "podl-checkpoints/1", every, root: checkpointTree(entries).root, entries };
}

/**
 * Checks that the entries are checkpoints 0..n−1 at steps 0, every, 2·every, … with at most a
 * shorter last interval, and that they hash to `root`. Throws MlError CHECKPOINT_GAP otherwise.
 */
export function checkManifest(m: CheckpointManifest, expected: { root: string; count: number; every: number }): void {
  if (m.entries.length > MAX_CHECKPOINTS) throw gap(`manifest lists ${m.entries.length} checkpoints, over the limit of ${MAX_CHECKPOINTS}`, { count: m.entries.length });
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

/**
 * Decodes one checkpoint file. Strict: `order` names every tensor the file holds exactly once (no
 * extra tensors ride along), all F32 and finite; `i` and `step` are non-negative integers. Throws
 * MlError TENSORS_INVALID.
 */
export function decodeCheckpoint(bytes: Uint8Array, maxBytes = 1 << 30): Checkpoint {
  const { tensors, metadata } = decodeTensors(bytes, { maxBytes: Math.min(maxBytes, 1 << 30), maxHeaderBytes: MAX_CHECKPOINT_HEADER_BYTES, allowEmpty: false });
  const invalid = (message: string) => new MlError("TENSORS_INVALID", `checkpoint: ${message}`);
  if (metadata.format !== CHECKPOINT_FORMAT || metadata.order === undefined) throw invalid("not a podl checkpoint");
  let order: unknown;
  try {
    order = JSON.parse(metadata.order);
  } catch {
    throw invalid("order is not JSON");
  }
  const names = (v: unknown): v is string[] => Array.isArray(v) && v.every((n) => typeof n === "string");
  const { weights, optimizer } = (order ?? {}) as Record<string, unknown>;
  if (!names(weights) || !names(optimizer)) throw invalid("order must be { weights: string[], optimizer: string[] }");
  const listed = new Set([...weights, ...optimizer]);
  if (listed.size !== weights.length + optimizer.length) throw invalid("order names a tensor twice");
  const extra = [...tensors.keys()].filter((n) => !listed.has(n));
  if (extra.length > 0) throw invalid(`tensors not in its order: ${describeList(extra)}`);
  const [i, step] = [Number(metadata.i), Number(metadata.step)];
  if (!Number.isSafeInteger(i) || i < 0 || !Number.isSafeInteger(step) || step < 0) throw invalid(`i ${describeValue(metadata.i)} and step ${describeValue(metadata.step)} must be non-negative integers`);
  const pick = (list: string[]): NamedTensors =>
    new Map(
      list.map((n) => {
        const t = tensors.get(n);
        if (t === undefined || t.dtype !== "F32") throw invalid(`lacks F32 tensor ${describeValue(n)}`);
        const bad = t.data.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) throw invalid(`tensor ${describeValue(n)}[${bad}] is ${t.data[bad]}: non-finite`);
        return [n, { shape: t.shape, data: t.data }];
      }),
    );
  return { i, step, weights: pick(weights), optimizer: pick(optimizer) };
}

/** Where a checkpoint holds a NaN or an infinity (weights or optimizer state), or undefined. */
export function nonFinite(cp: Pick<Checkpoint, "weights" | "optimizer">): { tensor: string; index: number; value: number } | undefined {
  for (const [tensor, t] of [...cp.weights, ...cp.optimizer]) {
    const index = t.data.findIndex((v) => !Number.isFinite(v));
    if (index >= 0) return { tensor, index, value: t.data[index]! };
  }
  return undefined;
}

function littleEndianBytes(data: Float32Array): Uint8Array {
  // Every platform Node runs on is little-endian; the container's byte order is the same.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function gap(message: string, context: Record<string, unknown>): MlError {
  return new MlError("CHECKPOINT_GAP", `checkpoints: ${message}`, { context });
}
