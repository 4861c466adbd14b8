import { PodlError } from "../errors/podl-error.js";

/** Machine-readable reasons an ML operation failed. Add a code on its own line. */
export type MlErrorCode =
  | "SPEC_INVALID" // the task spec is not valid JSON or does not match the schema
  | "SPEC_LIMIT" // the spec is well formed but its model exceeds its own or our limits
  | "BACKEND_UNAVAILABLE" // the requested TensorFlow.js backend is not installed or failed to start
  | "BACKEND_UNSUPPORTED_OP" // the backend lacks an operation the spec needs (wasm: conv gradients)
  | "TENSORS_INVALID" // a tensor container is malformed (header, dtype, offsets)
  | "SHARD_INVALID" // a data shard does not match the spec (shape, size, labels)
  | "DECRYPT_FAILED" // AES-256-GCM authentication failed: wrong key or altered ciphertext
  | "ARTIFACT_TRUNCATED" // the artifact ends before its header or data does
  | "ARTIFACT_TOO_LARGE" // the artifact is larger than the caller allows
  | "ARTIFACT_INVALID" // the artifact's header or metadata is malformed
  | "ARTIFACT_NAN" // a weight is NaN or infinite
  | "ARTIFACT_SHAPE" // the artifact's tensors do not match weightLayout(spec)
  | "CHECKPOINT_GAP" // the checkpoint list skips or repeats a step
  | "DATASET_INVALID" // a dataset source (CSV, image folder, bundled set) cannot be loaded
  | "MODEL_INVALID" // an exported model folder (model.json, weights, labels, preprocessing) cannot be loaded
  | "ENGINE_UNAVAILABLE" // no Python that imports torch was found, or the spec needs what the torch engine lacks
  | "ENGINE_FAILED"; // a training engine's worker (a tfjs thread, the torch process) could not start, reported an error or died

/** The one error type that leaves agents/ml. */
export class MlError extends PodlError<MlErrorCode> {
  constructor(code: MlErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = "MlError";
  }
}

export function isMlError(e: unknown, code?: MlErrorCode): e is MlError {
  return e instanceof MlError && (code === undefined || e.code === code);
}
