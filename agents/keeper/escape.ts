import type { Settlement, TaskMarket } from "../../types/index.js";

/**
 * The escape hatch as a keeper duty (docs/settlement.md, "Escape hatch"): a task whose attestation
 * stalled (`escapeDelay` past its current round's last deadline) is settled as Unvalidated by
 * `Settlement.escape(taskId)`, anyone may call it. The rule mirrors the contract's `escape`.
 */

type ChainTask = Awaited<ReturnType<TaskMarket["getTask"]>>;
type Params = Pick<Awaited<ReturnType<Settlement["paramsOf"]>>, "attestCommitWindow" | "attestRevealWindow" | "escapeDelay">;
type Round = Pick<Awaited<ReturnType<Settlement["getRound"]>>, "size" | "revealDeadline" | "expiresAt">;

const STATUS_NONE = 0n;
const STATUS_FINALIZED = 2n;

/** The first timestamp at which `escape` succeeds; undefined while the task does not await attestation. */
export function escapeReadyAt(task: Pick<ChainTask, "testUnlockBlock" | "revealDeadline">, status: bigint, round: Round | undefined, p: Params): bigint | undefined {
  if (task.testUnlockBlock === 0n || status === STATUS_FINALIZED) return undefined;
  let last: bigint;
  if (status === STATUS_NONE || round === undefined) last = task.revealDeadline + p.attestCommitWindow + p.attestRevealWindow;
  else last = round.size !== 0n ? round.revealDeadline : round.expiresAt;
  return last + p.escapeDelay + 1n;
}

/** Whether `escape(taskId)` is due at `now` (reads the task's settlement status, round and parameters). */
export async function escapeDue(settlement: Settlement, taskId: bigint, task: ChainTask, now: bigint): Promise<boolean> {
  const [status, round] = await settlement.statusOf(taskId);
  if (status === STATUS_FINALIZED) return false;
  const r = status === STATUS_NONE ? undefined : await settlement.getRound(taskId, round);
  const readyAt = escapeReadyAt(task, status, r, await settlement.paramsOf(taskId));
  return readyAt !== undefined && now >= readyAt;
}
