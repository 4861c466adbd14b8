import type { Dataset } from "./datasets/dataset.js";
import { MlError, isMlError } from "./errors.js";
import type { TaskSpec } from "./spec.js";
import { decodeTensors, encodeTensors, type Tensor } from "./tensors.js";

/**
 * Shard v1 (docs/shard-v1.md): a safetensors container holding `x` `[n, ...inputShape]` and `y` I32
 * `[n]`, metadata `{ format: "podl-shard/1" }`. `x` is F32, or, when it holds at most 256 distinct
 * values (pixels), U8 codes into a `palette` F32 `[k]` of those values in ascending order: 4× fewer
 * bytes for every miner and validator to fetch, the same float32 values after decoding. Encrypted as
 * a whole by crypto.ts.
 */

export const SHARD_FORMAT = "podl-shard/1";
export const DEFAULT_MAX_SHARD_BYTES = 1 << 30;
const MAX_PALETTE = 256;

export function encodeShard(ds: Dataset): Uint8Array {
  const shape = [ds.n, ...ds.inputShape];
  const coded = paletteCode(ds.x);
  const x: Tensor = coded === undefined ? { dtype: "F32", shape, data: ds.x } : { dtype: "U8", shape, data: coded.codes };
  const tensors = new Map<string, Tensor>([
    ["x", x],
    ["y", { dtype: "I32", shape: [ds.n], data: ds.y }],
  ]);
  if (coded !== undefined) tensors.set("palette", { dtype: "F32", shape: [coded.palette.length], data: coded.palette });
  return encodeTensors(tensors, { format: SHARD_FORMAT });
}

/**
 * `values` as codes into their ascending distinct values, when there are at most 256 of them, all
 * finite and none -0 (so the palette is strictly ascending, as the reader requires).
 */
function paletteCode(values: Float32Array): { palette: Float32Array; codes: Uint8Array } | undefined {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const seen = new Set<number>();
  for (let i = 0; i < bits.length; i++) {
    seen.add(bits[i]!);
    if (seen.size > MAX_PALETTE) return undefined;
  }
  const palette = new Float32Array(new Uint32Array([...seen]).buffer).sort();
  if (palette.some((v) => !Number.isFinite(v) || Object.is(v, -0))) return undefined;
  const index = new Map<number, number>();
  new Uint32Array(palette.buffer).forEach((b, k) => index.set(b, k));
  const codes = new Uint8Array(values.length);
  for (let i = 0; i < bits.length; i++) codes[i] = index.get(bits[i]!)!;
  return { palette, codes };
}

/**
 * Decodes a (decrypted) shard and checks it against the task spec: input shape, label range,
 * finite values. Throws MlError SHARD_INVALID saying what does not match.
 */
export function decodeShard(bytes: Uint8Array, spec: TaskSpec, opts: { maxBytes?: number } = {}): Dataset {
  const bad = (message: string, cause?: unknown): never => {
    throw new MlError("SHARD_INVALID", `shard: ${message}`, { cause });
  };
  let decoded: ReturnType<typeof decodeTensors>;
  try {
    decoded = decodeTensors(bytes, { maxBytes: opts.maxBytes ?? DEFAULT_MAX_SHARD_BYTES });
  } catch (cause) {
    if (!isMlError(cause, "TENSORS_INVALID")) throw cause;
    return bad(cause.message, cause);
  }
  const { tensors, metadata } = decoded;
  if (metadata.format !== SHARD_FORMAT) bad(`format ${JSON.stringify(metadata.format)}, expected ${SHARD_FORMAT}`);
  const names = [...tensors.keys()].sort().join(",");
  if (names !== "x,y" && names !== "palette,x,y") bad(`tensors [${names}], expected x and y (and palette with U8 x)`);
  const x = tensors.get("x")!;
  const y = tensors.get("y")!;
  const palette = tensors.get("palette");
  if (y.dtype !== "I32") bad(`y is ${y.dtype}, expected I32`);
  if (palette === undefined ? x.dtype !== "F32" : x.dtype !== "U8") bad(`x is ${x.dtype}: expected F32, or U8 with a palette`);
  const n = x.shape[0] ?? 0;
  const want = [n, ...spec.input.shape];
  if (x.shape.length !== want.length || x.shape.some((d, i) => d !== want[i])) {
    bad(`x has shape [${x.shape}], the spec needs [n, ${spec.input.shape}]`);
  }
  if (y.shape.length !== 1 || y.shape[0] !== n) bad(`y has shape [${y.shape}], expected [${n}]`);
  if (n < 1) bad("no examples");
  const labels = y.data as Int32Array;
  for (let i = 0; i < n; i++) {
    if (labels[i]! < 0 || labels[i]! >= spec.classes) bad(`label ${labels[i]} of example ${i} is outside [0, ${spec.classes})`);
  }
  const values = palette === undefined ? (x.data as Float32Array) : fromPalette(palette, x.data as Uint8Array, bad);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) bad(`x[${i}] is ${values[i]}`);
  }
  return { x: values, y: labels, n, inputShape: [...spec.input.shape], classes: spec.classes };
}

/** U8 codes to their float32 values; the palette as encodeShard writes it: F32, 1 to 256 values, strictly ascending, every code in range. */
function fromPalette(palette: Tensor, codes: Uint8Array, bad: (message: string) => never): Float32Array {
  if (palette.dtype !== "F32" || palette.shape.length !== 1 || palette.data.length < 1 || palette.data.length > MAX_PALETTE) {
    bad(`palette is ${palette.dtype} [${palette.shape}]: expected F32 [k], 1 ≤ k ≤ ${MAX_PALETTE}`);
  }
  const p = palette.data as Float32Array;
  for (let k = 1; k < p.length; k++) if (!(p[k - 1]! < p[k]!)) bad(`palette is not strictly ascending at ${k}`);
  const values = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    if (codes[i]! >= p.length) bad(`x[${i}] codes ${codes[i]}, past the palette's ${p.length} values`);
    values[i] = p[codes[i]!]!;
  }
  return values;
}
