import { canonicalJson } from "./spec.js";
import { describeValue, truncate } from "./describe.js";
import { MlError } from "./errors.js";

/**
 * A safetensors container (https://github.com/huggingface/safetensors#format), written here
 * because no maintained npm package writes the format (the `safetensors` package is a 0.0.1
 * stub; @huggingface/hub only reads headers over HTTP). Layout:
 *
 *   u64 little-endian N | N bytes of UTF-8 JSON header, space-padded to a multiple of 8 | data
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }` (offsets
 * into the data section) plus an optional `__metadata__` string→string map. Data is raw
 * little-endian, contiguous, no holes. We use F32, I32 and U8 (a shard's palette-coded inputs).
 *
 * Canonical writer: header JSON with sorted keys and no whitespace, tensors laid out in name
 * order (what the reference implementation does for same-width dtypes), so the same content
 * always gives the same bytes.
 *
 * The reader is strict: exact sizes, contiguous offsets, no trailing bytes; with `allowEmpty: false`
 * no empty tensors either (none of our formats has one, and a million empty entries in a header
 * cost a reader a gigabyte for nothing), and `maxHeaderBytes` bounds the JSON it parses. Its failures are
 * MlError TENSORS_INVALID with `context.reason` "truncated", "too_large" or "malformed", which
 * artifact and shard loaders turn into their own codes.
 */

export type DType = "F32" | "I32" | "U8";
export type Tensor =
  | { dtype: "F32"; shape: number[]; data: Float32Array }
  | { dtype: "I32"; shape: number[]; data: Int32Array }
  | { dtype: "U8"; shape: number[]; data: Uint8Array };
export type TensorReason = "truncated" | "too_large" | "malformed";

/** Bytes per value. */
const BYTES: Record<DType, number> = { F32: 4, I32: 4, U8: 1 };
const HEADER_CAP = 100_000_000; // the reference implementation's limit on header size
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeTensors(named: ReadonlyMap<string, Tensor>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const names = [...named.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = named.get(name)!;
    if (name === "__metadata__" || name.length === 0) fail("malformed", `tensor name ${JSON.stringify(name)} is reserved`);
    if (t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail("malformed", `tensor ${name}: bad shape [${t.shape}]`);
    if (elements(t.shape) !== t.data.length) {
      fail("malformed", `tensor ${name}: shape [${t.shape}] needs ${elements(t.shape)} values, got ${t.data.length}`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") fail("malformed", `metadata ${k} must be a string`);
  }
  const json = new TextEncoder().encode(canonicalJson(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const name of names) {
    const t = named.get(name)!;
    out.set(toLittleEndian(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeTensors(
  bytes: Uint8Array,
  opts: { maxBytes: number; maxHeaderBytes?: number; allowEmpty?: boolean },
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  if (bytes.length > opts.maxBytes) fail("too_large", `${bytes.length} bytes exceeds the limit of ${opts.maxBytes}`);
  if (bytes.length < 8) fail("truncated", `${bytes.length} bytes: shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  const headerCap = Math.min(HEADER_CAP, opts.maxHeaderBytes ?? HEADER_CAP);
  if (n > BigInt(headerCap)) fail("malformed", `header length ${n} exceeds ${headerCap}`);
  const headerLength = Number(n);
  if (8 + headerLength > bytes.length) fail("truncated", `header of ${headerLength} bytes runs past the end (${bytes.length} bytes)`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (cause) {
    fail("malformed", `header is not UTF-8 JSON (${(cause as Error).message})`, cause);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) fail("malformed", "header is not a JSON object");

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) fail("malformed", "__metadata__ is not an object");
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail("malformed", `__metadata__.${truncate(k, 80)} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const entry = parseEntry(describeValue(name), value);
    if (opts.allowEmpty === false && entry.begin === entry.end) fail("malformed", `tensor ${describeValue(name)} holds no values`);
    entries.push({ name, ...entry });
  }

  // Contiguous, hole-free, covering the data section exactly (as the reference reader demands).
  entries.sort((a, b) => a.begin - b.begin);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) fail("malformed", `tensor ${describeValue(e.name)} starts at ${e.begin}, expected ${expected}`);
    if (e.end - e.begin !== elements(e.shape) * BYTES[e.dtype]) fail("malformed", `tensor ${describeValue(e.name)}: offsets do not match shape [${truncate(e.shape.join(","), 80)}]`);
    expected = e.end;
  }
  if (expected > dataLength) fail("truncated", `data section has ${dataLength} bytes, the header describes ${expected}`);
  if (expected < dataLength) fail("malformed", `${dataLength - expected} trailing bytes after the last tensor`);

  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const raw = fromLittleEndian(bytes.subarray(dataStart + e.begin, dataStart + e.end), BYTES[e.dtype]);
    tensors.set(
      e.name,
      e.dtype === "F32"
        ? { dtype: "F32", shape: e.shape, data: new Float32Array(raw) }
        : e.dtype === "I32"
          ? { dtype: "I32", shape: e.shape, data: new Int32Array(raw) }
          : { dtype: "U8", shape: e.shape, data: new Uint8Array(raw) },
    );
  }
  return { tensors, metadata };
}

export function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** One header entry; `name` is already described safely for messages. */
function parseEntry(name: string, value: unknown): { dtype: DType; shape: number[]; begin: number; end: number } {
  if (value === null || typeof value !== "object") fail("malformed", `tensor ${name}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (dtype !== "F32" && dtype !== "I32" && dtype !== "U8") fail("malformed", `tensor ${name}: dtype ${describeValue(dtype)} is not F32, I32 or U8`);
  const isDim = (d: unknown): d is number => Number.isSafeInteger(d) && (d as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isDim)) fail("malformed", `tensor ${name}: bad shape`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim)) fail("malformed", `tensor ${name}: bad data_offsets`);
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail("malformed", `tensor ${name}: data_offsets [${begin}, ${end}] run backwards`);
  return { dtype: dtype as DType, shape: shape as number[], begin, end };
}

/** A fresh, aligned ArrayBuffer holding the values in host order. */
function fromLittleEndian(le: Uint8Array, width: number): ArrayBuffer {
  // new Uint8Array, not le.slice(): on a Node Buffer slice is a view into the shared pool.
  const copy = new Uint8Array(le);
  if (!LITTLE_ENDIAN && width === 4) swap32(copy);
  return copy.buffer;
}

function toLittleEndian(data: Float32Array | Int32Array | Uint8Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data instanceof Uint8Array) return bytes;
  const copy = bytes.slice();
  swap32(copy);
  return copy;
}

function swap32(b: Uint8Array): void {
  for (let i = 0; i < b.length; i += 4) {
    [b[i], b[i + 1], b[i + 2], b[i + 3]] = [b[i + 3]!, b[i + 2]!, b[i + 1]!, b[i]!];
  }
}

function fail(reason: TensorReason, message: string, cause?: unknown): never {
  throw new MlError("TENSORS_INVALID", `tensor container: ${truncate(message)}`, { cause, context: { reason } });
}
