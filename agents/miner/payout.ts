import { claimMints, claimPayouts } from "../chain/payouts.js";
import { ZeroAddress, formatEther } from "ethers";
import type { RewardToken } from "../../types/index.js";
import { isAgentError } from "../config/errors.js";
import { PHASE, PHASE_NAMES } from "../protocol/phases.js";
import type { ChainTask, MinerContext, MinerPhase, TaskData } from "./context.js";

/** The task ended on chain: withdraw what it credited us, then stop following it. */
export async function finish(ctx: MinerContext, taskId: bigint, phase: MinerPhase, data: TaskData, t: ChainTask): Promise<void> {
  const ended = PHASE_NAMES[Number(t.phase)]!;
  if (phase === "committed" || phase === "revealed") {
    if (t.phase === PHASE.Defaulted) await claimDefaultShare(ctx, taskId);
    // a list is posted at settle, after the test unlock: the lookup starts there, not at block 0
    else await claimPayouts(ctx.market, ctx.rt.sender, taskId, ctx.address, Number(t.testUnlockBlock));
    if (t.phase === PHASE.Settled && ctx.rewardToken !== undefined) await claimBlockReward(ctx, ctx.rewardToken, taskId, t);
    const credit = await ctx.market.creditOf(ctx.address, t.token);
    if (credit > 0n) {
      const started = performance.now();
      try {
        const sent = await ctx.rt.sender.call(ctx.market, "withdraw", [t.token], { label: `withdraw after task ${taskId}` });
        ctx.timing(taskId, "tx", started, { tx: "withdraw" });
        ctx.say(taskId, `task ${taskId} ${ended}: withdrew ${credit} ${t.token === ZeroAddress ? "wei" : `units of ${t.token}`}`, "info", { txHash: sent.hash, credit });
      } catch (e) {
        // Another task's withdrawal may have taken this token's whole credit already.
        if (!isAgentError(e, "TX_REVERTED") || (await ctx.market.creditOf(ctx.address, t.token)) > 0n) throw e;
      }
    } else {
      ctx.say(taskId, `task ${taskId} ${ended}: no credit left to withdraw (a withdrawal after another task in the same token took it, or the bond was forfeit)`);
    }
  } else {
    ctx.say(taskId, `task ${taskId} ${ended} before this miner committed`);
  }
  ctx.set(taskId, "done", { ...data, ended });
}

/** A settled task minted block rewards to its winner and ommers: claim ours (it is PODL in our wallet, nothing to withdraw). */
async function claimBlockReward(ctx: MinerContext, rewardToken: RewardToken, taskId: bigint, t: ChainTask): Promise<void> {
  const minted = await claimMints(rewardToken, ctx.rt.sender, taskId, ctx.address, Number(t.testUnlockBlock));
  if (minted > 0n) ctx.say(taskId, `task ${taskId} settled: claimed a block reward of ${formatEther(minted)} PODL`, "info", { minted });
}

/** A defaulted task: our bond and our share of the publisher bond become a credit. */
async function claimDefaultShare(ctx: MinerContext, taskId: bigint): Promise<void> {
  try {
    const sent = await ctx.rt.sender.call(ctx.market, "claimDefaultShare", [taskId], { label: `claimDefaultShare task ${taskId}` });
    ctx.say(taskId, `task ${taskId} defaulted: claimed the bond and a share of the publisher bond`, "info", { txHash: sent.hash });
  } catch (e) {
    // Claimed already (a restart after the claim landed): the credit is there to withdraw.
    if (!isAgentError(e, "TX_REVERTED")) throw e;
    ctx.rt.log.info({ taskId, err: e.message }, `task ${taskId}: default share not claimable (claimed already)`);
  }
}
