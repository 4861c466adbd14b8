import { getAddress, hexlify, randomBytes } from "ethers";
import { testKillPoint } from "../chain/test-hook.js";
import { AgentError } from "../config/errors.js";
import type { AgentRuntime } from "../core/runtime.js";
import { PHASE } from "../protocol/phases.js";
import type { TaskMarket } from "../../types/index.js";
import type { ScoringInput, TaskData, VerifierContext } from "./context.js";
import { scoresCommitment } from "./scores.js";

/**
 * Starts fetching the task's document and ciphertexts in the background while miners train, so
 * scoring after the draw reads them from the local store instead of spending the commit window
 * on the network. Not awaited: a step never waits for it. A failure is logged and retried later.
 */
export function prefetch(ctx: VerifierContext, taskId: bigint, data: TaskData, phase: bigint, tlog: AgentRuntime["log"]): void {
  const prefetch = ctx.o.prefetch;
  if (prefetch === undefined || data.specCid === undefined || phase < PHASE.Started || ctx.prefetched.has(taskId)) return;
  if (ctx.rt.store.getSalt(taskId, "scores:0") !== undefined) return;
  ctx.prefetched.add(taskId);
  prefetch({ taskId, specCid: data.specCid }).catch((e: unknown) => {
    ctx.prefetched.delete(taskId);
    tlog.warn({ err: (e as Error).message }, `task ${taskId}: prefetching its data failed; scoring fetches it when due`);
  });
}

/**
 * Scores every revealed submission of the round with the configured scorer, then stores scores
 * and salt under `scores:<round>` before the commitment can be sent (write-ahead).
 */
export async function scoreRound(ctx: VerifierContext, taskId: bigint, round: number, t: Awaited<ReturnType<TaskMarket["getTask"]>>, tlog: AgentRuntime["log"]): Promise<void> {
  const { store } = ctx.rt;
  const purpose = `scores:${round}`;
  const input = await scoringInput(ctx, taskId, round, t);
  const started = performance.now();
  const verdicts = await ctx.o.scorer(input);
  if (verdicts.length !== input.submissions.length) throw new Error(`scorer returned ${verdicts.length} verdicts for ${input.submissions.length} submissions`);
  const scores = verdicts.map((v) => v.scoreBps);
  for (const [i, v] of verdicts.entries()) {
    tlog.info({ round, index: i, miner: input.submissions[i]!.miner, score: v.scoreBps, reason: v.reason, detail: v.detail }, `task ${taskId}: submission ${i} scores ${v.scoreBps} bps${v.reason ? ` (${v.reason})` : ""}`);
  }
  const salt = hexlify(randomBytes(32));
  const commitment = scoresCommitment({ settlement: await ctx.settlement.getAddress(), chainId: ctx.rt.chain.chainId, taskId, round: BigInt(round), validator: ctx.me, scores, salt });
  // Write-ahead: scores and salt are on disk before the commitment is sent.
  store.putSalt({ taskId, purpose, commitment, salt, data: { round, scores, verdicts, verifySeconds: (performance.now() - started) / 1000 } });
  testKillPoint("after-salt", `scores task ${taskId} round ${round}`);
}

/** The inputs of a round's scoring, all read from the state's events and the contracts. */
export async function scoringInput(ctx: VerifierContext, taskId: bigint, round: number, t: Awaited<ReturnType<TaskMarket["getTask"]>>): Promise<ScoringInput> {
  // A committee this agent drew itself in this step: its CommitteeDrawn event is not read yet.
  if (ctx.data(taskId)?.rounds?.[round]?.seed2 === undefined) await ctx.follow();
  const data = ctx.data(taskId) ?? {};
  const seed2 = data.rounds?.[round]?.seed2;
  const missing = [
    data.specCid === undefined ? "TaskPosted (spec CID)" : undefined,
    data.testKeys === undefined ? "TestDataUnlocked (test keys)" : undefined,
    seed2 === undefined ? "CommitteeDrawn (draw seed)" : undefined,
  ].filter((m) => m !== undefined);
  if (missing.length > 0) {
    throw new AgentError("STATE_UNAVAILABLE", `task ${taskId}: events not seen: ${missing.join(", ")}; is --start-block after the task was posted?`, { context: { taskId, missing } });
  }
  const revealed = await ctx.market.getRevealed(taskId);
  return {
    taskId,
    round,
    seed: t.seed,
    seed2: seed2!,
    specCid: data.specCid!,
    trainKeys: data.trainKeys ?? [],
    testKeys: data.testKeys!,
    submissions: revealed.map((s) => ({
      miner: getAddress(s.miner),
      modelHash: s.modelHash,
      checkpointRoot: s.checkpointRoot,
      modelCid: data.cids?.[getAddress(s.miner)],
    })),
  };
}
