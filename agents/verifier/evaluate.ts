import type { Logger } from "../log/logger.js";
import type { Checkpoint } from "../ml/checkpoints.js";
import type { Dataset } from "../ml/datasets/dataset.js";
import { describeError, truncate } from "../ml/describe.js";
import { fixedOrMin } from "../ml/spec.js";
import { verifySubmission } from "../ml/verify.js";
import type { TaskDocument } from "../protocol/task-document.js";
import { fetchAllCheckpoints, fetchShards, fetchSubmission, fetchTaskDocument, isSubmissionError, prefetchShards } from "../protocol/submission.js";
import type { ContentStore } from "../storage/index.js";
import type { Prefetcher, ScoringInput, Verdict } from "./agent.js";
import { TaskDataUnavailable } from "./errors.js";
import { invalidTestDataVerdicts } from "./invalid-data.js";

/**
 * Most checkpoints an honest run of this task can have: every epoch the spec allows, over the
 * training examples the document declares, at the smallest batch, one checkpoint per
 * `checkpointEvery` steps, plus the first and the last. A longer index is refused before any
 * checkpoint is fetched.
 */
export function maxCheckpoints(doc: TaskDocument): number {
  const train = doc.shards.reduce((n, s) => n + s.examples, 0);
  const batch = fixedOrMin(doc.spec.batchSize);
  const steps = doc.spec.epochs.max * Math.ceil(train / batch);
  return Math.ceil(steps / doc.spec.checkpointEvery) + 2;
}

export interface ScorerOptions {
  store: ContentStore;
  /** Replayed segments per submission (DESIGN §5: 2); 0 turns replay off. */
  replaySegments: number;
  /** Normalised replay distance accepted; default: the ML core's calibrated tolerance. */
  replayTolerance?: number;
  /** Cap on an artifact's size, on top of the bound the spec implies. */
  maxArtifactBytes: number;
  /** Longest wait for the next block of any fetch (ms). */
  fetchTimeoutMs: number;
  /** Called before a fetch: dial the task document's providers. */
  dial?: (addresses: readonly string[]) => Promise<void>;
  log: Logger;
}

/**
 * Fetches a task's document and every shard ciphertext into the local store (all of them: the
 * split is public only at the start, and a verifier replays on the training shards and scores on
 * the test shards). The scorer then reads them locally.
 */
export function createPrefetcher(options: Pick<ScorerOptions, "store" | "fetchTimeoutMs" | "dial" | "log">): Prefetcher {
  return async ({ taskId, specCid }) => {
    const started = performance.now();
    const fetchOpts = { timeoutMs: options.fetchTimeoutMs };
    const doc = await fetchTaskDocument(options.store, specCid, fetchOpts);
    await options.dial?.(doc.providers);
    const bytes = await prefetchShards(options.store, doc, doc.shards.map((_, i) => i), fetchOpts);
    options.log.child({ taskId }).info({ phase: "fetch", seconds: (performance.now() - started) / 1000, what: "prefetch", bytes }, "timing");
  };
}

/**
 * The real scorer (DESIGN §5): fetches the task document and decrypts the test shards (and the
 * training shards, for replay) once per round, then fetches every revealed submission and runs
 * `verifySubmission` on it, replaying segments chosen from the draw seed. A submission that
 * cannot be fetched, is too large or malformed scores 0 with the reason; nothing it does throws:
 * each submission is scored in isolation, and any error while scoring it is its score of 0.
 * Task data out of reach throws TaskDataUnavailable (retried); task data that is invalid scores
 * every submission 0 (reason `task`).
 */
export function createScorer(options: ScorerOptions): (input: ScoringInput) => Promise<Verdict[]> {
  return async (input) => {
    const log = options.log.child({ taskId: input.taskId });
    const fetchOpts = { timeoutMs: options.fetchTimeoutMs };
    const timed = async <T>(phase: string, extra: Record<string, unknown>, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        log.info({ phase, seconds: (performance.now() - started) / 1000, ...extra }, "timing");
      }
    };

    let doc: TaskDocument;
    let test: Dataset;
    let train: Dataset | undefined;
    let opening: "document" | "test" | "train" = "document";
    try {
      doc = await timed("fetch", { what: "task document" }, () => fetchTaskDocument(options.store, input.specCid, fetchOpts));
      await options.dial?.(doc.providers);
      // Ciphertexts first (network), then decryption from the local blocks: two timed phases.
      const open = async (what: string, keys: ScoringInput["testKeys"]) => {
        const indices = keys.map((k) => k.index);
        await timed("fetch", { what }, () => prefetchShards(options.store, doc, indices, fetchOpts));
        return await timed("decrypt", { what }, () => fetchShards(options.store, doc, indices, keys, fetchOpts));
      };
      opening = "test";
      test = await open("test shards", input.testKeys);
      opening = "train";
      if (options.replaySegments > 0 && input.trainKeys.length > 0) train = await open("training shards", input.trainKeys);
    } catch (e) {
      if (!isSubmissionError(e)) throw e;
      // Out of reach for now: try again on the next step while the commit window lasts.
      if (e.code === "UNAVAILABLE") throw new TaskDataUnavailable(`the task's data: ${e.message}`, { cause: e, code: e.code });
      // Invalid test data: the sentinel for every submission, so the task settles against the publisher (issue 9 item 7).
      const invalid = invalidTestDataVerdicts(opening, e, input.submissions.length);
      if (invalid !== undefined) {
        log.error({ code: e.code, err: e.message }, `task ${input.taskId}: the task's test data is invalid; attesting INVALID_DATA for every submission`);
        return invalid;
      }
      // The publisher's own data is wrong (document, keys or shards): no model can be checked
      // against it, so every submission scores 0 and the commitment still goes out in time.
      log.error({ code: e.code, err: e.message }, `task ${input.taskId}: the task's data is invalid; every submission scores 0`);
      return input.submissions.map(() => ({ scoreBps: 0, reason: "task", detail: `${e.code}: ${e.message}` }));
    }

    // Each submission on its own: whatever one does (a stack overflow, a TensorFlow.js failure)
    // scores it 0 with the reason, and the others are still scored in time for the commit.
    const scoreOne = async (i: number, sub: ScoringInput["submissions"][number]): Promise<Verdict> => {
      const extra = { submission: i, miner: sub.miner };
      if (sub.modelCid === undefined) return { scoreBps: 0, reason: "fetch", detail: "no ModelRevealed event names this submission's CID" };
      let fetched: Awaited<ReturnType<typeof fetchSubmission>>;
      let checkpoints: Checkpoint[];
      try {
        [fetched, checkpoints] = await timed("fetch", extra, async () => {
          const f = await fetchSubmission(options.store, sub.modelCid!, {
            ...fetchOpts,
            spec: doc.spec,
            maxArtifactBytes: options.maxArtifactBytes,
            expectedModelHash: sub.modelHash,
            maxCheckpoints: maxCheckpoints(doc),
            taskId: input.taskId,
          });
          // Every checkpoint is needed (init, last, the replay's picks): fetch them here, several at
          // once, so `verify` times only the checks.
          return [f, await fetchAllCheckpoints(f)] as const;
        });
      } catch (e) {
        if (!isSubmissionError(e)) throw e;
        const reason = e.code === "HASH_MISMATCH" ? "hash" : e.code === "ARTIFACT_INVALID" ? "artifact" : e.code === "MANIFEST_INVALID" || e.code === "CHECKPOINT_INVALID" ? "checkpoints" : "fetch";
        return { scoreBps: 0, reason, detail: truncate(`${e.code}: ${e.message}`) };
      }
      if (fetched.bytes.byteLength > options.maxArtifactBytes) {
        return { scoreBps: 0, reason: "fetch", detail: `artifact is ${fetched.bytes.byteLength} bytes, over --max-artifact-bytes ${options.maxArtifactBytes}` };
      }
      if (fetched.manifest.root.toLowerCase() !== sub.checkpointRoot.toLowerCase()) {
        return { scoreBps: 0, reason: "checkpoints", detail: `the revealed checkpoint root ${sub.checkpointRoot} is not the artifact's ${fetched.manifest.root}` };
      }
      const result = await timed("verify", extra, () =>
        verifySubmission({
          taskId: input.taskId,
          spec: doc.spec,
          seed: input.seed,
          miner: sub.miner,
          test,
          artifact: fetched.bytes,
          expectedModelHash: sub.modelHash,
          manifest: fetched.manifest,
          fetchCheckpoint: async (c) => checkpoints[c]!,
          maxBytes: options.maxArtifactBytes,
          ...(train === undefined ? { replay: false as const } : { train, replay: { seed2: input.seed2, r: options.replaySegments, ...(options.replayTolerance === undefined ? {} : { tolerance: options.replayTolerance }) } }),
        }),
      );
      return result.reason === undefined ? { scoreBps: result.scoreBps } : { scoreBps: 0, reason: result.reason, detail: result.detail };
    };

    const verdicts: Verdict[] = [];
    for (const [i, sub] of input.submissions.entries()) {
      try {
        verdicts.push(await scoreOne(i, sub));
      } catch (e) {
        const detail = `unexpected: ${describeError(e)}`;
        log.warn({ submission: i, miner: sub.miner, err: detail }, `task ${input.taskId}: submission ${i} failed its checks unexpectedly; it scores 0`);
        verdicts.push({ scoreBps: 0, reason: "artifact", detail });
      }
    }
    return verdicts;
  };
}
