import { PodlError } from "../errors/podl-error.js";

/**
 * Thrown when a task's own data (its document, test or training shards) cannot be had: not a
 * submission's fault, so nothing is scored and the verifier tries again on its next step. `code`
 * is the SubmissionError code behind it (UNAVAILABLE, DOCUMENT_INVALID, SHARD_INVALID, ...).
 */
export class TaskDataUnavailable extends PodlError<string> {
  constructor(message: string, options: { cause: unknown; code: string }) {
    super(options.code, message, { cause: options.cause });
    this.name = "TaskDataUnavailable";
  }
}
