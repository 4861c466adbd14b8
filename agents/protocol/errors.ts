import { PodlError } from "../errors/podl-error.js";

/** Machine-readable reasons a protocol computation rejects its input. */
export type ProtocolErrorCode =
  | "SPLIT_OUT_OF_RANGE"
  | "RANKING_OUT_OF_RANGE"
  | "SHARD_INDEX_OUT_OF_RANGE"
  | "SHARD_KEY_INVALID"
  | "DATASET_COMMITMENT_MISMATCH"
  | "BYTES32_INVALID";

/** The one error type of `agents/protocol`: bad input to a shared protocol formula. */
export class ProtocolError extends PodlError<ProtocolErrorCode> {
  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ProtocolError";
  }
}

export function isProtocolError(e: unknown, code?: ProtocolErrorCode): e is ProtocolError {
  return e instanceof ProtocolError && (code === undefined || e.code === code);
}
