import type { Dataset } from "./datasets/dataset.js";
import { MlError, isMlError } from "./errors.js";
import type { TaskSpec } from "./spec.js";
import { decodeTensors, encodeTensors } from "./tensors.js";

/**
 * Shard v1 (docs/shard-v1.md): a safetensors container holding `x` F32 `[n, ...inputShape]` and
 * `y` I32 `[n]`, metadata `{ format: "podl-shard/1" }`. Encrypted as a whole by crypto.ts.
 */

export const SHARD_FORMAT = "podl-shard/1";
export const DEFAULT_MAX_SHARD_BYTES = 1 << 30;

export function encodeShard(ds: Dataset): Uint8Array {
  return encodeTensors(
    new Map([
      ["x", { dtype: "F32", shape: [ds.n, ...ds.inputShape], data: ds.x }],
      ["y", { dtype: "I32", shape: [ds.n], data: ds.y }],
    ]),
    { format: SHARD_FORMAT },
  );
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
  if (names !== "x,y") bad(`tensors [${names}], expected exactly x and y`);
  const x = tensors.get("x")!;
  const y = tensors.get("y")!;
  if (x.dtype !== "F32" || y.dtype !== "I32") bad(`dtypes x ${x.dtype}, y ${y.dtype}; expected F32 and I32`);
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
  const values = x.data as Float32Array;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) bad(`x[${i}] is ${values[i]}`);
  }
  return { x: values, y: labels, n, inputShape: [...spec.input.shape], classes: spec.classes };
}
