import { getAddress } from "ethers";
import { AgentError, isAgentError } from "../config/errors.js";
import type { AgentRuntime } from "../core/runtime.js";
import { drawCommittee, escape, escapeDue, finalize, roundFinalizable } from "../keeper/index.js";
import type { Settlement, TaskMarket } from "../../types/index.js";
import type { RoundRecord, TaskData, VerifierContext } from "./context.js";
import { scoresCommitment } from "./scores.js";
import { scoreRound } from "./scoring.js";
import { whileUrgent } from "../core/deadline.js";
import { warnAttestAtRisk } from "./deadline.js";

/** `ISettlement.Status`. */
const STATUS = { None: 0n, Attesting: 1n, Finalized: 2n } as const;
/** `IRandomnessSource.RandomnessStatus.Pending`: the registry's draw randomness is not available yet. */
const RANDOMNESS_PENDING = 0n;

/**
 * An attesting task: as keeper it draws the round's committee and finalizes the round when
 * `roundFinalizable`; as a member of the committee it attests.
 */
export async function attesting(
  ctx: VerifierContext,
  taskId: bigint,
  data: TaskData,
  t: Awaited<ReturnType<TaskMarket["getTask"]>>,
  now: bigint,
  block: bigint,
  tlog: AgentRuntime["log"],
): Promise<void> {
  const { sender } = ctx.rt;
  const [status, roundBig] = await ctx.settlement.statusOf(taskId);
  if (status === STATUS.Finalized) return;
  const finalizeCall = () => ctx.keeper.keep(taskId, tlog, "finalize", () => finalize(sender, ctx.settlement, taskId));
  // A stalled attestation (finalize cannot end it): the escape hatch settles it as unvalidated.
  if (ctx.o.keeper && (await escapeDue(ctx.settlement, taskId, t, now))) return void (await ctx.keeper.keep(taskId, tlog, "escape", () => escape(sender, ctx.settlement, taskId)));
  if (t.revealedCount === 0n) {
    // Nothing to attest: finalize refunds the publisher at once.
    if (ctx.o.keeper) await finalizeCall();
    return;
  }
  const round = Number(roundBig);
  const sp = await ctx.settlement.paramsOf(taskId); // the parameters of this task (a later change does not reach it)
  let r: Awaited<ReturnType<Settlement["getRound"]>> | undefined;
  let expiresAt: bigint;
  if (status === STATUS.None) {
    // Round 0 opens with the first draw or finalize call, which requests its draw.
    expiresAt = t.revealDeadline + sp.attestCommitWindow + sp.attestRevealWindow;
  } else {
    r = await ctx.settlement.getRound(taskId, round);
    expiresAt = r.expiresAt;
  }

  if (r === undefined || r.size === 0n) {
    if (!ctx.o.keeper) return;
    if (now > expiresAt) {
      await finalizeCall(); // an undrawn round counts as a missed quorum
      return;
    }
    const drawCall = () => ctx.keeper.keep(taskId, tlog, "drawCommittee", () => drawCommittee(sender, ctx.settlement, taskId, round));
    if (status === STATUS.None) {
      // The first call requests the draw: the stake snapshot and randomness are fixed then, known later.
      await drawCall();
      return;
    }
    // The draw waits for the randomness source (a later block's hash on L1, a VRF answer on L2s); an
    // expired one is renewed by the same call.
    if ((await ctx.registry.drawStatus(taskId, round)) === RANDOMNESS_PENDING) return;
    await drawCall();
    r = await ctx.settlement.getRound(taskId, round);
    if (r.size === 0n) return;
  }

  const members = data.rounds?.[round]?.members ?? (await ctx.settlement.committee(taskId, round)).map((a) => getAddress(a));
  if (members.includes(ctx.me)) await attest(ctx, taskId, round, r, t, tlog);

  if (ctx.o.keeper && roundFinalizable(await ctx.settlement.getRound(taskId, round), await ctx.rt.clock.chainNow())) await finalizeCall();
}

/** Scores, commits and reveals as a member of `round`, each when its window allows; RPC retries wait briefly meanwhile. */
export async function attest(...args: Parameters<typeof attestInRound>): Promise<void> {
  await whileUrgent(args[0].rt, () => attestInRound(...args));
}

async function attestInRound(
  ctx: VerifierContext,
  taskId: bigint,
  round: number,
  r: Awaited<ReturnType<Settlement["getRound"]>>,
  t: Awaited<ReturnType<TaskMarket["getTask"]>>,
  tlog: AgentRuntime["log"],
): Promise<void> {
  const { store, sender } = ctx.rt;
  const purpose = `scores:${round}`;
  const state = (): RoundRecord => ctx.data(taskId)?.rounds?.[round] ?? {};
  const nowTs = () => ctx.rt.clock.chainNow();
  if (state().revealed === true) return;

  let stored = store.getSalt(taskId, purpose);
  if (stored === undefined) {
    // A transaction lands in a later block than the head: at `commitDeadline` it is already too late.
    if ((await nowTs()) >= r.commitDeadline) return missed(ctx, taskId, round, "the commit window closed before the scores were computed", tlog);
    await scoreRound(ctx, taskId, round, t, tlog);
    stored = store.getSalt(taskId, purpose)!;
  }
  const scores = stored.data.scores as number[];

  if (state().committed !== true) {
    const commitNow = await nowTs();
    if (commitNow >= r.commitDeadline) return missed(ctx, taskId, round, "the commit window closed before the commitment was sent", tlog);
    warnAttestAtRisk(ctx.rt, taskId, round, "commit", commitNow + 1n, r.commitDeadline);
    try {
      await sender.call(ctx.settlement, "commitScores", [taskId, stored.commitment], { label: `commitScores task ${taskId} round ${round}` });
      tlog.info({ round, commitment: stored.commitment }, `task ${taskId}: scores committed`);
    } catch (e) {
      if (!revertedWith(e, "AttesterAlreadyCommitted")) throw e;
    }
    ctx.mergeRound(taskId, round, { committed: true });
  }

  const fresh = await ctx.settlement.getRound(taskId, round);
  const now = await nowTs();
  // Reveals open once every member committed or the commit window is over (the next block is later than `now`).
  if (now + 1n <= fresh.commitDeadline && fresh.commits < fresh.size) return;
  // A round whose commits missed the quorum never opens its reveals (finalize moves on; committed members are not slashed).
  if (fresh.commits < fresh.size && fresh.commits < (2n * fresh.size + 2n) / 3n) {
    if (state().missed === undefined) tlog.info({ round, commits: fresh.commits }, `task ${taskId}: round ${round} missed the quorum of commitments; its reveals never open`);
    ctx.mergeRound(taskId, round, { missed: "the round missed the quorum of commitments" });
    return;
  }
  if (now >= fresh.revealDeadline) return missed(ctx, taskId, round, "the reveal window closed", tlog);
  warnAttestAtRisk(ctx.rt, taskId, round, "reveal", now + 1n, fresh.revealDeadline);
  // Reveal only what this agent computed and committed to: the stored scores must open the stored commitment.
  const again = scoresCommitment({ settlement: await ctx.settlement.getAddress(), chainId: ctx.rt.chain.chainId, taskId, round: BigInt(round), validator: ctx.me, scores, salt: stored.salt });
  if (again !== stored.commitment) {
    throw new AgentError("STATE_UNAVAILABLE", `task ${taskId}: the stored scores do not open the stored commitment ${stored.commitment}`, { context: { taskId, round } });
  }
  try {
    await sender.call(ctx.settlement, "revealScores", [taskId, scores, stored.salt], { label: `revealScores task ${taskId} round ${round}` });
    tlog.info({ round, scores }, `task ${taskId}: scores revealed`);
  } catch (e) {
    if (!revertedWith(e, "AttesterAlreadyRevealed")) throw e;
  }
  ctx.mergeRound(taskId, round, { revealed: true });
}

function missed(ctx: VerifierContext, taskId: bigint, round: number, why: string, tlog: AgentRuntime["log"]): void {
  if (ctx.data(taskId)?.rounds?.[round]?.missed !== undefined) return;
  tlog.error({ round }, `task ${taskId}: ${why}; this validator will be slashed for not revealing`);
  ctx.mergeRound(taskId, round, { missed: why });
}

function revertedWith(e: unknown, name: string): boolean {
  return isAgentError(e, "TX_REVERTED") && (e.context.revert as { name?: string } | undefined)?.name === name;
}
