import { PodlError } from "../errors/podl-error.js";

/** Machine-readable reasons a content-store operation failed. */
export const STORAGE_ERROR_CODES = [
  "CID_INVALID", // the string or bytes are not a CID we can handle
  "CID_MISMATCH", // a block's bytes do not hash to its CID
  "NOT_FOUND", // no peer (or the Kubo node) produced the content in time
  "TIMEOUT", // the caller's time budget ran out part-way through a transfer
  "ABORTED", // the caller's signal fired
  "TOO_LARGE", // the content is larger than the caller's maxBytes
  "INCOMPLETE", // the transfer stopped before the whole DAG arrived (peer gone)
  "NOT_A_FILE", // the CID names a directory or a non-UnixFS node
  "STORE_READONLY", // the data directory cannot be written
  "STORE_FULL", // the data directory's disk is full
  "STORE_UNAVAILABLE", // the node could not start, or the Kubo RPC did not answer
  "IO_FAILED", // reading or writing a local file failed
  "OPTION_INVALID", // a flag or option is out of range
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

/** The one error type that leaves agents/storage. */
export class StorageError extends PodlError<StorageErrorCode> {
  constructor(code: StorageErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = "StorageError";
  }
}

export function isStorageError(e: unknown, code?: StorageErrorCode): e is StorageError {
  return e instanceof StorageError && (code === undefined || e.code === code);
}

/** Maps a file-system failure (possibly wrapped by blockstore-fs/datastore-fs, which keep only the message) to a code. */
export function fsErrorCode(e: unknown): StorageErrorCode | undefined {
  for (let cur: unknown = e, depth = 0; cur != null && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    const text = `${typeof code === "string" ? code : ""} ${(cur as { message?: unknown }).message ?? ""}`;
    if (/\bENOSPC\b|\bEDQUOT\b/.test(text)) return "STORE_FULL";
    if (/\bEROFS\b|\bEACCES\b|\bEPERM\b/.test(text)) return "STORE_READONLY";
  }
  return undefined;
}
