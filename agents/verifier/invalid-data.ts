import { isSubmissionError } from "../protocol/submission.js";
import type { Verdict } from "./agent.js";
import { INVALID_DATA } from "./scores.js";

/**
 * What a validator attests when opening the task's data failed in `phase`: the sentinel for every
 * submission when a test shard is invalid (its key does not decrypt its ciphertext, it was unlocked for
 * another CID, or its content does not match the spec: `SHARD_INVALID`), otherwise `undefined` (the
 * caller keeps its rule: data out of reach is retried, an invalid document or training shard scores 0).
 */
export function invalidTestDataVerdicts(phase: "document" | "test" | "train", error: unknown, submissions: number): Verdict[] | undefined {
  if (phase !== "test" || !isSubmissionError(error, "SHARD_INVALID")) return undefined;
  return Array.from({ length: submissions }, () => ({ scoreBps: INVALID_DATA, reason: "test-data", detail: `SHARD_INVALID: ${error.message}` }));
}
