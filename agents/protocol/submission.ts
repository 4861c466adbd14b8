import { keccak256, toUtf8Bytes } from "ethers";
import { z } from "zod";
import { DEFAULT_MAX_ARTIFACT_BYTES, HEADER_BYTES_FIXED, HEADER_BYTES_PER_TENSOR, decodeArtifact, encodeArtifact, maxArtifactBytes as specArtifactBytes, modelHash as hashArtifact } from "../ml/artifact.js";
import type { ArtifactV1 } from "../ml/artifact.js";
import { MAX_CHECKPOINTS, checkManifest, decodeCheckpoint, encodeCheckpoint } from "../ml/checkpoints.js";
import type { Checkpoint, CheckpointManifest } from "../ml/checkpoints.js";
import { NONCE_BYTES, TAG_BYTES, decrypt } from "../ml/crypto.js";
import type { Dataset } from "../ml/datasets/dataset.js";
import { describeError } from "../ml/describe.js";
import { isMlError } from "../ml/errors.js";
import { decodeShard } from "../ml/shard.js";
import { canonicalJson, canonicalSpecJson, countModel, weightLayout } from "../ml/spec.js";
import type { TaskSpec } from "../ml/spec.js";
import { artifactOf } from "../ml/train.js";
import type { TrainResult } from "../ml/train.js";
import { parseTaskDocument } from "./task-document.js";
import type { TaskDocument } from "./task-document.js";
import { isStorageError, parseCid } from "../storage/index.js";
import type { ContentStore } from "../storage/index.js";
import { mapConcurrently } from "./concurrently.js";
import { SubmissionError } from "./submission-errors.js";

export { SUBMISSION_ERROR_CODES, SubmissionError, isSubmissionError } from "./submission-errors.js";
export type { SubmissionErrorCode } from "./submission-errors.js";

/**
 * A submission on IPFS (SEAM-agents.md), shared by miners (upload) and verifiers (fetch):
 *   - each checkpoint: `encodeCheckpoint(cp)` → one CID each;
 *   - the checkpoint index: canonical JSON `{ ...CheckpointManifest, cids }` → `manifestCid`;
 *   - the artifact v1 naming `manifestCid` → `modelCid`; `modelHash = keccak256(artifact bytes)`.
 * Every fetch is bounded (declared sizes, spec-derived caps) and every block is checked against
 * its CID by the store; what the content claims is checked here before anything trusts it.
 */

export const CHECKPOINT_INDEX_FORMAT = "podl-checkpoints/1";
/** Largest task document accepted (a spec is at most 1 MiB; 256 shard entries add ~40 KiB). */
export const MAX_DOCUMENT_BYTES = 2 << 20;
/**
 * Checkpoints an index may list when the caller gives no bound (a caller's own bound is capped at
 * MAX_CHECKPOINTS). The verifier passes the task's own bound (agents/verifier/evaluate.ts).
 */
export const DEFAULT_MAX_CHECKPOINTS = 10_000;
/** Per-entry allowance of the index JSON: i, step, a bytes32 hash and a CID, with room to spare. */
const INDEX_BYTES_PER_ENTRY = 512;
/** Optimizer slots per trainable weight we allow in a checkpoint (Adam: 2; RMSProp: up to 3). */
const MAX_OPTIMIZER_SLOTS = 3;

export interface FetchOptions {
  /** Longest wait for the next block (ms), passed to the store. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SubmissionMeta {
  taskId: bigint | string;
  seed: string;
  miner: string;
}

export interface UploadedSubmission {
  modelCid: string;
  /** keccak256 of the artifact bytes: what the chain trusts. */
  modelHash: `0x${string}`;
  checkpointRoot: `0x${string}`;
  manifestCid: string;
  checkpointCids: string[];
  /** The artifact file. */
  bytes: Uint8Array;
  /** Wall-clock seconds spent encoding and hashing (checkpoints, index, artifact) and adding to the store. */
  seconds: { hash: number; upload: number };
}

/** The checkpoint index as stored: the manifest plus one CID per entry, in entry order. */
export type CheckpointIndex = CheckpointManifest & { cids: string[] };

export interface FetchedSubmission {
  bytes: Uint8Array;
  artifact: ArtifactV1;
  modelHash: `0x${string}`;
  manifestCid: string;
  manifest: CheckpointManifest;
  cids: string[];
  /** Fetches and decodes checkpoint i (size-bounded; verifySubmission checks its weightsHash). */
  fetchCheckpoint(i: number): Promise<Checkpoint>;
}

export interface FetchSubmissionOptions extends FetchOptions {
  /** The task's spec: bounds the artifact and checkpoints by the model's size. */
  spec?: TaskSpec;
  /** Artifact size cap (with a spec, the smaller of the two applies; never over 512 MiB, the artifact decoder's cap). */
  maxArtifactBytes?: number;
  /** When given, an artifact hashing to anything else is HASH_MISMATCH before it is decoded. */
  expectedModelHash?: string;
  /** Checkpoints the index may list: default DEFAULT_MAX_CHECKPOINTS, never over MAX_CHECKPOINTS. */
  maxCheckpoints?: number;
  /** When given, an artifact naming another task is ARTIFACT_INVALID. */
  taskId?: bigint | string;
}

/** Uploads checkpoints, index and artifact (in that order, so every CID named is already stored). */
export async function uploadSubmission(
  store: ContentStore,
  spec: TaskSpec,
  run: Pick<TrainResult, "weights" | "manifest" | "checkpoints" | "hyper">,
  meta: SubmissionMeta,
  options: { signal?: AbortSignal } = {},
): Promise<UploadedSubmission> {
  if (run.checkpoints.length !== run.manifest.entries.length) {
    throw new SubmissionError("MANIFEST_INVALID", `${run.checkpoints.length} checkpoints for ${run.manifest.entries.length} manifest entries`);
  }
  const seconds = { hash: 0, upload: 0 };
  const timed = async <T>(phase: keyof typeof seconds, work: () => T | Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      seconds[phase] += (performance.now() - started) / 1000;
    }
  };
  const checkpointCids: string[] = [];
  for (const cp of run.checkpoints) {
    const encoded = await timed("hash", () => encodeCheckpoint(cp));
    checkpointCids.push(await timed("upload", () => add(store, encoded, `checkpoint ${cp.i}`, options.signal)));
  }
  const index: CheckpointIndex = { ...run.manifest, cids: checkpointCids };
  const manifestCid = await timed("upload", () => add(store, new TextEncoder().encode(canonicalJson(index)), "checkpoint index", options.signal));
  const { bytes, modelHash } = await timed("hash", () => {
    try {
      const encoded = encodeArtifact(artifactOf(spec, run, { taskId: meta.taskId.toString(), seed: meta.seed, miner: meta.miner, manifestCid }));
      return { bytes: encoded, modelHash: hashArtifact(encoded) };
    } catch (cause) {
      throw new SubmissionError("ARTIFACT_INVALID", `cannot encode the artifact: ${(cause as Error).message}`, { cause });
    }
  });
  const modelCid = await timed("upload", () => add(store, bytes, "artifact", options.signal));
  return { modelCid, modelHash, checkpointRoot: run.manifest.root as `0x${string}`, manifestCid, checkpointCids, bytes, seconds };
}

/** Largest artifact and checkpoint a spec's model can produce, header included. */
export function submissionBounds(spec: TaskSpec): { maxArtifactBytes: number; maxCheckpointBytes: number } {
  const { params, trainableParams } = countModel(spec);
  const tensors = weightLayout(spec).length;
  const header = HEADER_BYTES_FIXED + canonicalSpecJson(spec).length * 2 + HEADER_BYTES_PER_TENSOR * tensors;
  return {
    maxArtifactBytes: specArtifactBytes(spec),
    maxCheckpointBytes: header + 4 * (params + MAX_OPTIMIZER_SLOTS * trainableParams + 1) + HEADER_BYTES_PER_TENSOR * MAX_OPTIMIZER_SLOTS * tensors,
  };
}

/**
 * Fetches an artifact and its checkpoint index. Throws SubmissionError: UNAVAILABLE (network),
 * CID_INVALID, TOO_LARGE, HASH_MISMATCH, ARTIFACT_INVALID (cause: the MlError), MANIFEST_INVALID
 * (malformed, over maxCheckpoints, or not matching the artifact's checkpoint root and count).
 */
export async function fetchSubmission(store: ContentStore, modelCid: string, options: FetchSubmissionOptions = {}): Promise<FetchedSubmission> {
  const bounds = options.spec === undefined ? undefined : submissionBounds(options.spec);
  const maxArtifactBytes = Math.min(bounds?.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES, options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES, DEFAULT_MAX_ARTIFACT_BYTES);
  const bytes = await get(store, modelCid, "artifact", { ...options, maxBytes: maxArtifactBytes });
  const hash = hashArtifact(bytes);
  if (options.expectedModelHash !== undefined && hash !== options.expectedModelHash.toLowerCase()) {
    throw new SubmissionError("HASH_MISMATCH", `artifact ${modelCid} hashes to ${hash}, the chain has ${options.expectedModelHash}`, {
      context: { modelCid, modelHash: hash },
    });
  }
  let artifact: ArtifactV1;
  try {
    artifact = decodeArtifact(bytes, { maxBytes: maxArtifactBytes });
  } catch (cause) {
    // Whatever the artifact's bytes provoke is the artifact's fault, never an exception that stops a round.
    if (!isMlError(cause)) throw new SubmissionError("ARTIFACT_INVALID", `artifact ${modelCid}: unreadable (${describeError(cause)})`, { cause, context: { modelCid } });
    throw new SubmissionError("ARTIFACT_INVALID", `artifact ${modelCid}: ${cause.message} [${cause.code}]`, { cause, context: { modelCid, mlCode: cause.code } });
  }
  if (options.taskId !== undefined && artifact.taskId !== options.taskId.toString()) {
    throw new SubmissionError("ARTIFACT_INVALID", `artifact ${modelCid} names task ${artifact.taskId}, this is task ${options.taskId}`, { context: { modelCid } });
  }
  const manifestCid = artifact.checkpoints.manifestCid;
  if (manifestCid === undefined) throw new SubmissionError("MANIFEST_INVALID", `artifact ${modelCid} names no checkpoint index`, { context: { modelCid } });
  const maxCheckpoints = Math.min(options.maxCheckpoints ?? DEFAULT_MAX_CHECKPOINTS, MAX_CHECKPOINTS);
  if (artifact.checkpoints.count > maxCheckpoints) {
    throw new SubmissionError("MANIFEST_INVALID", `artifact ${modelCid} claims ${artifact.checkpoints.count} checkpoints, over the limit of ${maxCheckpoints}`, {
      context: { modelCid, count: artifact.checkpoints.count },
    });
  }
  const indexBytes = await get(store, manifestCid, "checkpoint index", { ...options, maxBytes: 4096 + INDEX_BYTES_PER_ENTRY * Math.max(artifact.checkpoints.count, 0) });
  const index = parseCheckpointIndex(indexBytes, manifestCid);
  try {
    checkManifest(index, artifact.checkpoints);
  } catch (cause) {
    if (!isMlError(cause)) throw cause;
    throw new SubmissionError("MANIFEST_INVALID", `checkpoint index ${manifestCid}: ${cause.message}`, { cause, context: { manifestCid } });
  }
  const { cids, ...manifest } = index;
  // Without a spec: the weights this artifact holds, plus optimizer slots for each.
  const maxCheckpointBytes = bounds?.maxCheckpointBytes ?? (1 + MAX_OPTIMIZER_SLOTS) * bytes.length + HEADER_BYTES_FIXED;
  return {
    bytes,
    artifact,
    modelHash: hash,
    manifestCid,
    manifest,
    cids,
    async fetchCheckpoint(i: number): Promise<Checkpoint> {
      if (!Number.isInteger(i) || i < 0 || i >= cids.length) throw new RangeError(`checkpoint ${i} is outside 0..${cids.length - 1}`);
      const cpBytes = await get(store, cids[i]!, `checkpoint ${i}`, { ...options, maxBytes: maxCheckpointBytes });
      let cp: Checkpoint;
      try {
        cp = decodeCheckpoint(cpBytes, maxCheckpointBytes);
      } catch (cause) {
        throw new SubmissionError("CHECKPOINT_INVALID", `checkpoint ${i} (${cids[i]}): ${(cause as Error).message}`, { cause, context: { index: i, cid: cids[i] } });
      }
      if (cp.i !== i || cp.step !== manifest.entries[i]!.step) {
        throw new SubmissionError("CHECKPOINT_INVALID", `checkpoint ${i} (${cids[i]}) says it is checkpoint ${cp.i} at step ${cp.step}`, { context: { index: i, cid: cids[i] } });
      }
      return cp;
    },
  };
}

const bytes32 = z.string().regex(/^0x[0-9a-f]{64}$/);
const natural = z.number().int().min(0);
const IndexSchema = z
  .object({
    format: z.literal(CHECKPOINT_INDEX_FORMAT),
    every: natural.positive(),
    root: bytes32,
    entries: z.array(z.object({ i: natural, step: natural, weightsHash: bytes32 }).strict()),
    cids: z.array(z.string()),
  })
  .strict()
  .refine((x) => x.cids.length === x.entries.length, { message: "cids must list one CID per entry" });

function parseCheckpointIndex(bytes: Uint8Array, cid: string): CheckpointIndex {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new SubmissionError("MANIFEST_INVALID", `checkpoint index ${cid} is not JSON`, { cause, context: { manifestCid: cid } });
  }
  const result = IndexSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new SubmissionError("MANIFEST_INVALID", `checkpoint index ${cid}.${issue.path.join(".") || "(root)"}: ${issue.message}`, {
      cause: result.error,
      context: { manifestCid: cid },
    });
  }
  result.data.cids.forEach((c, i) => checkCid(c, `checkpoint ${i} of index ${cid}`));
  return { ...result.data, format: CHECKPOINT_INDEX_FORMAT };
}

/** Fetches and parses a task document; DOCUMENT_INVALID carries the MlError code (`mlCode`: SPEC_INVALID or SPEC_LIMIT). */
export async function fetchTaskDocument(store: ContentStore, specCid: string, options: FetchOptions = {}): Promise<TaskDocument> {
  const bytes = await get(store, specCid, "task document", { ...options, maxBytes: MAX_DOCUMENT_BYTES });
  let doc: TaskDocument;
  try {
    doc = parseTaskDocument(bytes);
  } catch (cause) {
    // The publisher wrote these bytes: whatever they provoke is the document's fault, never an exception that stops a round.
    if (!isMlError(cause)) throw new SubmissionError("DOCUMENT_INVALID", `task document ${specCid}: unreadable (${describeError(cause)})`, { cause, context: { specCid } });
    throw new SubmissionError("DOCUMENT_INVALID", `task document ${specCid}: ${cause.message}`, { cause, context: { specCid, mlCode: cause.code } });
  }
  doc.shards.forEach((s, i) => checkCid(s.cid, `shard ${i} of task document ${specCid}`));
  return doc;
}

/**
 * Checkpoints fetched at once by fetchAllCheckpoints: each is a round trip to the miner's node, and
 * one at a time left a validator waiting on latency for most of its fetch (bench:e2e).
 */
export const CHECKPOINT_FETCH_CONCURRENCY = 8;

/** Every checkpoint of a fetched submission, in order, CHECKPOINT_FETCH_CONCURRENCY at a time. */
export async function fetchAllCheckpoints(submission: Pick<FetchedSubmission, "cids" | "fetchCheckpoint">, concurrency = CHECKPOINT_FETCH_CONCURRENCY): Promise<Checkpoint[]> {
  return mapConcurrently(submission.cids, concurrency, (_, i) => submission.fetchCheckpoint(i));
}

/** Ciphertexts fetched at once by prefetchShards: keeps bitswap busy across shards, memory bounded by a few shards. */
export const PREFETCH_CONCURRENCY = 4;

/**
 * Fetches the ciphertexts of `indices` ahead of their keys (bounded by their declared sizes), up to
 * `concurrency` at a time, so training starts when the keys arrive. Returns the bytes now held locally.
 */
export async function prefetchShards(
  store: ContentStore,
  doc: TaskDocument,
  indices: readonly number[],
  options: FetchOptions & { onShard?: (index: number) => void; concurrency?: number } = {},
): Promise<number> {
  let total = 0;
  await mapConcurrently(indices, options.concurrency ?? PREFETCH_CONCURRENCY, async (i) => {
    const bytes = await ciphertext(store, doc, i, options);
    total += bytes.byteLength; // after the await: `total += await …` would add to a stale total
    options.onShard?.(i);
  });
  return total;
}

/** A shard key as the unlock events carry it (`ITaskMarket.ShardKey`). */
export interface ShardKeyInput {
  index: bigint | number;
  cidHash?: string;
  key: string;
}

/**
 * The examples of shards `indices`, decrypted and checked against the document, concatenated in
 * ascending shard order (whatever order `indices` come in: miners and verifiers must train and
 * replay on identical data). Each key must be given and, with its `cidHash`, name the document's
 * CID. Throws SubmissionError SHARD_INVALID (key missing or not the shard's, wrong size, failed
 * authentication, content not matching the spec), TOO_LARGE, UNAVAILABLE.
 */
export async function fetchShards(
  store: ContentStore,
  doc: TaskDocument,
  indices: readonly number[],
  keys: readonly ShardKeyInput[],
  options: FetchOptions & { onShard?: (index: number) => void } = {},
): Promise<Dataset> {
  const byIndex = new Map(keys.map((k) => [Number(k.index), k]));
  const order = [...new Set(indices)].sort((a, b) => a - b);
  const parts: Dataset[] = [];
  for (const i of order) {
    const k = byIndex.get(i);
    if (k === undefined) throw new SubmissionError("SHARD_INVALID", `no key for shard ${i}`, { context: { index: i } });
    const entry = doc.shards[i];
    if (entry === undefined) throw new SubmissionError("SHARD_INVALID", `shard ${i} is not in the task document`, { context: { index: i } });
    if (k.cidHash !== undefined && k.cidHash.toLowerCase() !== keccak256(toUtf8Bytes(entry.cid))) {
      throw new SubmissionError("SHARD_INVALID", `the key of shard ${i} was unlocked for another CID than the document's ${entry.cid}`, { context: { index: i, cid: entry.cid } });
    }
    const key = parseKey(k.key, i);
    const sealed = await ciphertext(store, doc, i, options);
    let ds: Dataset;
    try {
      ds = decodeShard(decrypt(key, sealed), doc.spec, { maxBytes: entry.bytes - NONCE_BYTES - TAG_BYTES });
    } catch (cause) {
      if (!isMlError(cause)) throw cause;
      throw new SubmissionError("SHARD_INVALID", `shard ${i} (${entry.cid}): ${cause.message} [${cause.code}]`, { cause, context: { index: i, cid: entry.cid, mlCode: cause.code } });
    }
    if (ds.n !== entry.examples) {
      throw new SubmissionError("SHARD_INVALID", `shard ${i} holds ${ds.n} examples, the document says ${entry.examples}`, { context: { index: i, cid: entry.cid } });
    }
    parts.push(ds);
    options.onShard?.(i);
  }
  if (parts.length === 0) throw new SubmissionError("SHARD_INVALID", "no shards to fetch");
  return concatDatasets(parts, doc.spec);
}

function concatDatasets(parts: readonly Dataset[], spec: TaskSpec): Dataset {
  const n = parts.reduce((sum, p) => sum + p.n, 0);
  const per = spec.input.shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    x.set(p.x, at * per);
    y.set(p.y, at);
    at += p.n;
  }
  return { x, y, n, inputShape: [...spec.input.shape], classes: spec.classes };
}

async function ciphertext(store: ContentStore, doc: TaskDocument, i: number, options: FetchOptions): Promise<Uint8Array> {
  const entry = doc.shards[i];
  if (entry === undefined) throw new SubmissionError("SHARD_INVALID", `shard ${i} is not in the task document`, { context: { index: i } });
  const bytes = await get(store, entry.cid, `shard ${i}`, { ...options, maxBytes: entry.bytes });
  if (bytes.byteLength !== entry.bytes) {
    throw new SubmissionError("SHARD_INVALID", `shard ${i} (${entry.cid}) is ${bytes.byteLength} bytes, the document says ${entry.bytes}`, {
      context: { index: i, cid: entry.cid },
    });
  }
  return bytes;
}

function parseKey(hex: string, index: number): Uint8Array {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new SubmissionError("SHARD_INVALID", `the key of shard ${index} is not 32 bytes of hex`, { context: { index } });
  return Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
}

function checkCid(cid: string, what: string): void {
  try {
    parseCid(cid);
  } catch (cause) {
    throw new SubmissionError("CID_INVALID", `${what}: ${JSON.stringify(cid.slice(0, 80))} is not a CID`, { cause, context: { cid: cid.slice(0, 200) } });
  }
}

async function get(store: ContentStore, cid: string, what: string, options: FetchOptions & { maxBytes?: number }): Promise<Uint8Array> {
  checkCid(cid, what);
  try {
    const bytes = await store.get(cid, options);
    // A plain Uint8Array: the store hands out Buffers, whose slice() shares memory instead of copying.
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (cause) {
    if (isStorageError(cause, "TOO_LARGE")) {
      throw new SubmissionError("TOO_LARGE", `${what} ${cid} is larger than ${options.maxBytes} bytes`, { cause, context: { cid, maxBytes: options.maxBytes } });
    }
    if (isStorageError(cause, "CID_INVALID") || isStorageError(cause, "NOT_A_FILE")) {
      throw new SubmissionError("CID_INVALID", `${what} ${cid}: ${(cause as Error).message}`, { cause, context: { cid } });
    }
    throw new SubmissionError("UNAVAILABLE", `${what} ${cid}: ${(cause as Error).message}`, { cause, context: { cid } });
  }
}

async function add(store: ContentStore, bytes: Uint8Array, what: string, signal: AbortSignal | undefined): Promise<string> {
  try {
    return (await store.add(bytes, signal === undefined ? {} : { signal })).toString();
  } catch (cause) {
    throw new SubmissionError("UNAVAILABLE", `storing the ${what} failed: ${(cause as Error).message}`, { cause });
  }
}
