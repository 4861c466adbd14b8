/**
 * The one error base: every boundary's error (AgentError, StorageError, MlError, ProtocolError,
 * SubmissionError, TaskDataUnavailable) extends it with its own codes, so a caller tests a code
 * with `isPodlError(e, code)` (or the boundary's own guard) and never duck-types `code`.
 */
export class PodlError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: Code, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, { cause: options.cause });
    this.name = "PodlError";
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** Whether `e` is a PoDL error, with code `code` when one is given. */
export function isPodlError<Code extends string = string>(e: unknown, code?: Code): e is PodlError<Code> {
  return e instanceof PodlError && (code === undefined || e.code === code);
}
