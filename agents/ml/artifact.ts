import { describeError, describeList, describeValue, truncate } from "./describe.js";
import { MlError, isMlError } from "./errors.js";
import { keccak256Parts } from "./keccak.js";
import type { MlErrorCode } from "./errors.js";
import { HARD_LIMITS, canonicalJson, canonicalSpecJson, countModel, parseSpec, weightLayout } from "./spec.js";
import type { TaskSpec } from "./spec.js";
import { decodeTensors, elements, encodeTensors } from "./tensors.js";
import type { Tensor, TensorReason } from "./tensors.js";

/**
 * Artifact v1 (docs/artifact-v1.md): a submitted model as one canonical safetensors file — the
 * weights named per weightLayout(spec), all F32, and in `__metadata__` the format, task id,
 * miner, seed, the canonical spec JSON, watermark parameters, the hyperparameters the miner
 * trained with and the checkpoint summary.
 * Framework-neutral on purpose: no TensorFlow.js topology, so another engine can produce and
 * check the same bytes. `modelHash = keccak256(file)`.
 */

export const ARTIFACT_FORMAT = "podl-artifact/1";
export const DEFAULT_MAX_ARTIFACT_BYTES = 512 << 20;
/** Header allowance of a tensor container: JSON per tensor name, plus the metadata. */
export const HEADER_BYTES_PER_TENSOR = 512;
export const HEADER_BYTES_FIXED = 64 * 1024;
/** Largest artifact header: the fixed allowance, the embedded spec (twice, as the writer allows for escapes), an entry per tensor. */
export const MAX_ARTIFACT_HEADER_BYTES = HEADER_BYTES_FIXED + 2 * HARD_LIMITS.maxSpecBytes + HEADER_BYTES_PER_TENSOR * 4 * HARD_LIMITS.maxLayers;

export type WeightTensor = { shape: number[]; data: Float32Array };

/** What the miner trained with (free spec values chosen by it); replay re-runs with exactly these. */
export type ArtifactHyper = { batchSize: number; learningRate: number; epochs: number };

export type ArtifactV1 = {
  format: typeof ARTIFACT_FORMAT;
  taskId: string; // decimal uint256
  miner: `0x${string}`; // 20 bytes, lower-case hex
  seed: `0x${string}`; // 32 bytes, lower-case hex
  spec: TaskSpec;
  watermark: { bits: number; strength: number };
  hyper: ArtifactHyper;
  checkpoints: { root: `0x${string}`; count: number; every: number; manifestCid?: string };
  tensors: Map<string, WeightTensor>;
};

const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;
const BYTES32 = /^0x[0-9a-f]{64}$/;
const REASON_CODE: Record<TensorReason, MlErrorCode> = {
  truncated: "ARTIFACT_TRUNCATED",
  too_large: "ARTIFACT_TOO_LARGE",
  malformed: "ARTIFACT_INVALID",
};

/** Canonical bytes: same content, same bytes. Addresses and hashes are written in lower case. */
export function encodeArtifact(a: ArtifactV1): Uint8Array {
  const lower = { miner: a.miner.toLowerCase(), seed: a.seed.toLowerCase(), root: a.checkpoints.root.toLowerCase() };
  const invalid = (m: string, context?: Record<string, unknown>) => new MlError("ARTIFACT_INVALID", `artifact: ${m}`, { context });
  checkFields(a.taskId, lower.miner, lower.seed, lower.root, invalid);
  checkHyper(a.hyper, invalid);
  checkTensors(a.spec, a.tensors);
  const named = new Map<string, Tensor>([...a.tensors].map(([name, t]) => [name, { dtype: "F32", shape: t.shape, data: t.data }]));
  return encodeTensors(named, {
    format: ARTIFACT_FORMAT,
    taskId: a.taskId,
    miner: lower.miner,
    seed: lower.seed,
    spec: canonicalSpecJson(a.spec),
    watermark: canonicalJson({ bits: a.watermark.bits, strength: a.watermark.strength }),
    hyper: canonicalJson({ batchSize: a.hyper.batchSize, epochs: a.hyper.epochs, learningRate: a.hyper.learningRate }),
    checkpoints: canonicalJson({ ...a.checkpoints, root: lower.root }),
  });
}

/** Largest artifact a spec's model can produce, header included: 4 bytes a parameter plus the header allowance. */
export function maxArtifactBytes(spec: TaskSpec): number {
  const { params } = countModel(spec);
  return HEADER_BYTES_FIXED + canonicalSpecJson(spec).length * 2 + HEADER_BYTES_PER_TENSOR * weightLayout(spec).length + 4 * params;
}

/**
 * Decodes and checks an artifact. Typed MlError codes: ARTIFACT_TOO_LARGE (over maxBytes),
 * ARTIFACT_TRUNCATED (ends early), ARTIFACT_INVALID (container, metadata, hyperparameters or spec
 * malformed, or not in canonical form; `context.field` names a bad hyperparameter), ARTIFACT_SHAPE (tensors differ from weightLayout(spec)), ARTIFACT_NAN
 * (a NaN or infinite weight). Nothing else leaves it: whatever else a hostile file provokes (a stack
 * overflow, say) becomes ARTIFACT_INVALID.
 */
export function decodeArtifact(bytes: Uint8Array, opts: { maxBytes?: number } = {}): ArtifactV1 {
  try {
    return decode(bytes, opts);
  } catch (cause) {
    if (isMlError(cause)) throw cause;
    throw new MlError("ARTIFACT_INVALID", `artifact: unreadable (${describeError(cause)})`, { cause });
  }
}

function decode(bytes: Uint8Array, opts: { maxBytes?: number }): ArtifactV1 {
  let decoded: ReturnType<typeof decodeTensors>;
  try {
    // The default bounds a caller's cap too: nothing asks a validator to read more than 512 MiB.
    const maxBytes = Math.min(opts.maxBytes ?? DEFAULT_MAX_ARTIFACT_BYTES, DEFAULT_MAX_ARTIFACT_BYTES);
    decoded = decodeTensors(bytes, { maxBytes, maxHeaderBytes: MAX_ARTIFACT_HEADER_BYTES, allowEmpty: false });
  } catch (cause) {
    if (!isMlError(cause, "TENSORS_INVALID")) throw cause;
    const reason = cause.context.reason as TensorReason;
    throw new MlError(REASON_CODE[reason], `artifact: ${cause.message}`, { cause });
  }
  const { tensors, metadata: m } = decoded;
  const invalid = (message: string, cause?: unknown, context?: Record<string, unknown>) => new MlError("ARTIFACT_INVALID", `artifact: ${message}`, { cause, context });

  if (m.format !== ARTIFACT_FORMAT) throw invalid(`format ${describeValue(m.format)}, expected ${ARTIFACT_FORMAT}`);
  for (const key of ["taskId", "miner", "seed", "spec", "watermark", "hyper", "checkpoints"]) {
    if (m[key] === undefined) throw invalid(`metadata lacks ${key}`);
  }
  let spec: TaskSpec;
  try {
    spec = parseSpec(m.spec!);
  } catch (cause) {
    throw invalid(`embedded spec: ${truncate((cause as Error).message)}`, cause);
  }
  if (canonicalSpecJson(spec) !== m.spec) throw invalid("embedded spec is not in canonical form");
  const watermark = parseJson(m.watermark!, "watermark", invalid) as ArtifactV1["watermark"];
  if (!isObject(watermark) || typeof watermark.bits !== "number" || typeof watermark.strength !== "number" || Object.keys(watermark).length !== 2) {
    throw invalid("watermark must be { bits, strength }");
  }
  const hyper = parseJson(m.hyper!, "hyper", invalid) as ArtifactHyper;
  if (!isObject(hyper) || Object.keys(hyper).some((k) => !["batchSize", "learningRate", "epochs"].includes(k))) {
    throw invalid("hyper must be { batchSize, learningRate, epochs }", undefined, { field: "hyper" });
  }
  checkHyper(hyper, (message, context) => invalid(message, undefined, context));
  const checkpoints = parseJson(m.checkpoints!, "checkpoints", invalid) as ArtifactV1["checkpoints"];
  if (
    !isObject(checkpoints) ||
    typeof checkpoints.root !== "string" ||
    !Number.isSafeInteger(checkpoints.count) ||
    !Number.isSafeInteger(checkpoints.every) ||
    (checkpoints.manifestCid !== undefined && typeof checkpoints.manifestCid !== "string") ||
    Object.keys(checkpoints).some((k) => !["root", "count", "every", "manifestCid"].includes(k))
  ) {
    throw invalid("checkpoints must be { root, count, every, manifestCid? }");
  }
  checkFields(m.taskId!, m.miner!, m.seed!, checkpoints.root, invalid);

  const weights = new Map<string, WeightTensor>();
  for (const [name, t] of tensors) {
    if (t.dtype !== "F32") throw new MlError("ARTIFACT_SHAPE", `artifact: tensor ${describeValue(name)} is ${t.dtype}, weights are F32`, { context: { tensor: truncate(name) } });
    weights.set(name, { shape: t.shape, data: t.data });
  }
  checkTensors(spec, weights);
  const artifact: ArtifactV1 = {
    format: ARTIFACT_FORMAT,
    taskId: m.taskId!,
    miner: m.miner as `0x${string}`,
    seed: m.seed as `0x${string}`,
    spec,
    watermark,
    hyper,
    checkpoints,
    tensors: weights,
  };
  // Canonical form only: one model, one hash (no re-ordered keys, padding or spellings).
  const again = encodeArtifact(artifact);
  if (Buffer.compare(again, bytes) !== 0) throw invalid("not in canonical form");
  return artifact;
}

/** keccak256 of the artifact file: the hash the chain trusts (the CID is only a locator). */
export function modelHash(bytes: Uint8Array): `0x${string}` {
  return keccak256Parts([bytes]);
}

function checkFields(taskId: string, miner: string, seed: string, root: string, invalid: (m: string) => MlError): void {
  if (!DECIMAL.test(taskId)) throw invalid(`taskId ${describeValue(taskId)} is not a decimal integer`);
  if (!ADDRESS.test(miner)) throw invalid(`miner ${describeValue(miner)} is not a lower-case 0x address`);
  if (!BYTES32.test(seed)) throw invalid(`seed ${describeValue(seed)} is not a lower-case 0x bytes32`);
  if (typeof root !== "string" || !BYTES32.test(root)) throw invalid(`checkpoint root ${describeValue(root)} is not a lower-case 0x bytes32`);
}

/**
 * Well-formed hyperparameters: batch size and epochs positive safe integers, learning rate a
 * positive finite number. Whether they are within the spec is verification (verify.ts).
 */
function checkHyper(h: ArtifactHyper, invalid: (m: string, context: Record<string, unknown>) => MlError): void {
  const fields: [keyof ArtifactHyper, boolean][] = [
    ["batchSize", true],
    ["epochs", true],
    ["learningRate", false],
  ];
  for (const [field, integer] of fields) {
    const v: unknown = h[field];
    const ok = typeof v === "number" && Number.isFinite(v) && v > 0 && (!integer || Number.isSafeInteger(v));
    // describeValue, not String(v): v may be an array nested 10,000 levels deep.
    if (!ok) throw invalid(`hyper.${field} ${describeValue(v)} is not a positive ${integer ? "integer" : "finite number"}`, { field: `hyper.${field}`, value: describeValue(v) });
  }
}

/** Exactly the tensors of weightLayout(spec), with their shapes, all finite. */
function checkTensors(spec: TaskSpec, tensors: ReadonlyMap<string, WeightTensor>): void {
  const layout = weightLayout(spec);
  const shapeError = (message: string, tensor: string) =>
    new MlError("ARTIFACT_SHAPE", `artifact: ${message}`, { context: { tensor } });
  for (const w of layout) {
    const t = tensors.get(w.name);
    if (t === undefined) throw shapeError(`tensor ${w.name} is missing`, w.name);
    if (t.shape.length !== w.shape.length || t.shape.some((d, i) => d !== w.shape[i])) {
      throw shapeError(`tensor ${w.name} has shape [${t.shape}], the spec needs [${w.shape}]`, w.name);
    }
    if (t.data.length !== elements(w.shape)) throw shapeError(`tensor ${w.name} has ${t.data.length} values for shape [${w.shape}]`, w.name);
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new MlError("ARTIFACT_NAN", `artifact: tensor ${w.name}[${bad}] is ${t.data[bad]}`, { context: { tensor: w.name, index: bad } });
    }
  }
  if (tensors.size !== layout.length) {
    const extra = [...tensors.keys()].filter((name) => !layout.some((w) => w.name === name));
    throw shapeError(`tensors not in the spec: ${describeList(extra)}`, truncate(extra[0]!));
  }
}

function parseJson(text: string, what: string, invalid: (m: string, cause?: unknown) => MlError): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw invalid(`${what} is not JSON`, cause);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
