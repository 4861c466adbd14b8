/**
 * Thrown when a task's own data (its document, test or training shards) cannot be had: not a
 * submission's fault, so nothing is scored and the verifier tries again on its next step. `code`
 * is the SubmissionError code behind it (UNAVAILABLE, DOCUMENT_INVALID, SHARD_INVALID, ...).
 */
export class TaskDataUnavailable extends Error {
  readonly code: string;
  constructor(message: string, options: { cause: unknown; code: string }) {
    super(message, { cause: options.cause });
    this.name = "TaskDataUnavailable";
    this.code = options.code;
  }
}
