import { getAddress } from "ethers";
import type { PodlContracts } from "../chain/contracts.js";
import { PHASE_NAMES } from "../protocol/phases.js";
import { AgentError } from "../config/errors.js";
import { decodeArtifact, maxArtifactBytes, modelHash as hashArtifact, type ArtifactV1 } from "../ml/artifact.js";
import { isMlError } from "../ml/errors.js";
import { canonicalSpecJson } from "../ml/spec.js";
import { isStorageError, type ContentStore } from "../storage/index.js";
import { SubmissionError, fetchTaskDocument } from "../protocol/submission.js";
import type { TaskDocument } from "../protocol/task-document.js";

/**
 * The product of a settled task, found on chain and fetched from IPFS: the learning block names
 * the winner, its model hash and score; ModelRevealed gives the winner's model CID; TaskPosted the
 * task document's CID. The artifact is trusted only when it hashes to the chain's model hash.
 */

export interface WinningSubmission {
  taskId: bigint;
  winner: string;
  /** keccak256 of the artifact, from the learning block. */
  modelHash: string;
  modelCid: string;
  /** The winner's median score (bps). */
  score: number;
  specCid: string;
  seed: string;
}

/** Reads the winner of `taskId` from its events since `startBlock`; USAGE when the task has none (yet). */
export async function findWinningSubmission(market: PodlContracts["market"], taskId: bigint, startBlock: number): Promise<WinningSubmission> {
  if (taskId > (await market.taskCount())) throw new AgentError("USAGE", `task ${taskId} does not exist on this market`, { context: { taskId: taskId.toString() } });
  const task = await market.getTask(taskId);
  const phase = PHASE_NAMES[Number(task.phase)] ?? `phase ${task.phase}`;
  const [block] = await market.queryFilter(market.filters.LearningBlock(undefined, taskId), startBlock);
  if (block === undefined) {
    const why = phase === "settled" ? "it settled without a winner (no submission reached the threshold)" : `it is ${phase}`;
    throw new AgentError("USAGE", `task ${taskId} has no winning model: ${why}`, { context: { taskId: taskId.toString(), phase } });
  }
  const winner = getAddress(block.args.winner);
  const reveals = await market.queryFilter(market.filters.ModelRevealed(taskId, winner), startBlock);
  const reveal = reveals.find((e) => e.args.modelHash.toLowerCase() === block.args.modelHash.toLowerCase());
  if (reveal === undefined) throw new AgentError("CONFIG_INVALID", `task ${taskId}: no ModelRevealed event of winner ${winner} with model hash ${block.args.modelHash} since block ${startBlock} (is --start-block too late?)`);
  const [posted] = await market.queryFilter(market.filters.TaskPosted(taskId), startBlock);
  if (posted === undefined) throw new AgentError("CONFIG_INVALID", `task ${taskId}: no TaskPosted event since block ${startBlock} (is --start-block too late?)`);
  return { taskId, winner, modelHash: block.args.modelHash, modelCid: reveal.args.modelCid, score: Number(block.args.score), specCid: posted.args.specCid, seed: task.seed };
}

/**
 * Fetches and checks the artifact and the task document: HASH_MISMATCH when the bytes do not hash
 * to the chain's model hash (nothing is decoded), ARTIFACT_INVALID when the artifact is not the
 * task's (task id, seed, miner, spec), DOCUMENT_INVALID for a bad document, TOO_LARGE over the
 * spec's bound, UNAVAILABLE when no peer delivers. `onDocument` runs between the two fetches (to dial the providers the document names).
 */
export async function fetchWinningModel(
  store: ContentStore,
  win: WinningSubmission,
  options: { timeoutMs?: number; onDocument?: (doc: TaskDocument) => Promise<void> } = {},
): Promise<{ bytes: Uint8Array; artifact: ArtifactV1; document: TaskDocument }> {
  const fetchOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  const document = await fetchTaskDocument(store, win.specCid, fetchOptions);
  await options.onDocument?.(document);
  const maxBytes = maxArtifactBytes(document.spec);
  const bytes = await store.get(win.modelCid, { maxBytes, ...fetchOptions }).catch((cause: unknown) => {
    const context = { modelCid: win.modelCid };
    if (isStorageError(cause, "TOO_LARGE")) throw new SubmissionError("TOO_LARGE", `artifact ${win.modelCid} is larger than the spec's model allows (${maxBytes} bytes)`, { cause, context });
    if (isStorageError(cause, "CID_INVALID") || isStorageError(cause, "NOT_A_FILE")) throw new SubmissionError("CID_INVALID", `artifact ${win.modelCid}: ${(cause as Error).message}`, { cause, context });
    throw new SubmissionError("UNAVAILABLE", `artifact ${win.modelCid}: ${(cause as Error).message} (give a peer that has it with --ipfs-peers)`, { cause, context });
  });
  return { bytes, artifact: checkWinningArtifact(bytes, win, document), document };
}

/** The hash check, then the artifact's identity against the chain and the task document. */
export function checkWinningArtifact(bytes: Uint8Array, win: Pick<WinningSubmission, "taskId" | "winner" | "modelHash" | "modelCid" | "seed">, document: TaskDocument): ArtifactV1 {
  const hash = hashArtifact(bytes);
  if (hash !== win.modelHash.toLowerCase()) {
    throw new SubmissionError("HASH_MISMATCH", `artifact ${win.modelCid} hashes to ${hash}, the chain has ${win.modelHash}: refusing it`, { context: { modelCid: win.modelCid, modelHash: hash } });
  }
  let artifact: ArtifactV1;
  try {
    artifact = decodeArtifact(bytes);
  } catch (cause) {
    if (!isMlError(cause)) throw cause;
    throw new SubmissionError("ARTIFACT_INVALID", `artifact ${win.modelCid}: ${cause.message} [${cause.code}]`, { cause, context: { modelCid: win.modelCid } });
  }
  const mismatch =
    artifact.taskId !== win.taskId.toString() ? `names task ${artifact.taskId}`
    : artifact.seed !== win.seed.toLowerCase() ? `has seed ${artifact.seed}, the task's is ${win.seed}`
    : artifact.miner !== win.winner.toLowerCase() ? `names miner ${artifact.miner}, the winner is ${win.winner}`
    : canonicalSpecJson(artifact.spec) !== canonicalSpecJson(document.spec) ? "holds another spec than the task document's"
    : undefined;
  if (mismatch !== undefined) throw new SubmissionError("ARTIFACT_INVALID", `artifact ${win.modelCid} ${mismatch}`, { context: { modelCid: win.modelCid } });
  return artifact;
}
