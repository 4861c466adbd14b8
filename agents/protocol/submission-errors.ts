import { PodlError } from "../errors/podl-error.js";

/**
 * Machine-readable reasons fetching or uploading a submission, a task document or a shard failed.
 * UNAVAILABLE is about the network (try again later); every other code means the content itself is
 * wrong (a submission that earns it scores 0).
 */
export const SUBMISSION_ERROR_CODES = [
  "UNAVAILABLE", // no peer delivered the content in time, or the local store failed
  "CID_INVALID", // a CID in the chain event, document or index is not one we can fetch
  "TOO_LARGE", // the content is larger than its bound (declared size, spec-derived cap)
  "HASH_MISMATCH", // the artifact does not hash to the modelHash on chain
  "ARTIFACT_INVALID", // the artifact does not decode as artifact v1 (cause: the MlError)
  "MANIFEST_INVALID", // the checkpoint index is malformed or does not match the artifact
  "CHECKPOINT_INVALID", // a checkpoint does not decode, or is not the one its index entry names
  "DOCUMENT_INVALID", // the task document is malformed or its spec invalid or over limits
  "SHARD_INVALID", // a shard's key, ciphertext or content does not match the task document
] as const;

export type SubmissionErrorCode = (typeof SUBMISSION_ERROR_CODES)[number];

/** The one error type of the submission format (agents/protocol/submission.ts). */
export class SubmissionError extends PodlError<SubmissionErrorCode> {
  constructor(code: SubmissionErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = "SubmissionError";
  }
}

export function isSubmissionError(e: unknown, code?: SubmissionErrorCode): e is SubmissionError {
  return e instanceof SubmissionError && (code === undefined || e.code === code);
}
