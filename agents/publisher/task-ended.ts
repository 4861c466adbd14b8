import { Interface, ZeroAddress, formatUnits } from "ethers";
import type { RewardToken, TaskMarket, Settlement } from "../../types/index.js";
import { claimMints, claimPayouts } from "../chain/payouts.js";
import type { TxSender } from "../chain/sender.js";
import type { Logger } from "../log/logger.js";
import type { ContentStore } from "../storage/index.js";
import { pinTaskModels } from "../protocol/pin-settled.js";

/**
 * What `podl publish` does once one of its tasks has ended: pin the winner's and ommers' models
 * (so the model outlives the miners' nodes) and collect its credits (the returned bond, a refund),
 * which otherwise wait for a manual `podl withdraw`.
 */
export interface TaskEndedContext {
  market: TaskMarket;
  settlement: Settlement | undefined;
  /** The PODL block-reward token (the address book's RewardToken): the publisher's share is claimed when a task settles. */
  rewardToken?: RewardToken;
  startBlock: number;
  sender: TxSender;
  me: string;
  log: Logger;
  out: (line: string) => void;
  /** Omitted: pin nothing (`--no-pin`, or a Kubo node the publisher does not run). */
  store?: ContentStore;
  pinTimeoutMs: number;
  /** `--keep-credits`: leave them in the market. */
  keepCredits: boolean;
}

export async function afterTaskEnded(ctx: TaskEndedContext, taskId: bigint): Promise<void> {
  // Credits first: pinning may wait for a slow peer.
  if (!ctx.keepCredits) await collectCredits(ctx, taskId);
  if (ctx.rewardToken !== undefined) await claimBlockReward(ctx, ctx.rewardToken, taskId);
  if (ctx.store !== undefined && ctx.settlement !== undefined) {
    const pinned = await pinTaskModels({ market: ctx.market, settlement: ctx.settlement, fromBlock: ctx.startBlock }, ctx.store, taskId, { timeoutMs: ctx.pinTimeoutMs, log: ctx.log });
    if (pinned.length > 0) ctx.out(`task ${taskId}: pinned ${pinned.length} model(s) on this node: ${pinned.join(" ")}`);
  }
}

/**
 * Claims what a settled task's posted payout list owes the publisher (its bond back; payouts are
 * pulled, so without this claim the bond never reaches its credit), then withdraws the credit in
 * the task's token. A timed-out or cancelled task credits directly and has no list to claim.
 */
export async function collectCredits(ctx: Pick<TaskEndedContext, "market" | "sender" | "me" | "out" | "startBlock">, taskId: bigint): Promise<bigint> {
  const task = await ctx.market.getTask(taskId);
  const fromBlock = task.testUnlockBlock > 0n ? Number(task.testUnlockBlock) : ctx.startBlock;
  await claimPayouts(ctx.market, ctx.sender, taskId, ctx.me, fromBlock);
  return await withdrawCredits(ctx, task.token);
}

/** Claims the publisher's share of a settled task's block reward (PODL straight to its wallet; nothing to withdraw). */
async function claimBlockReward(ctx: TaskEndedContext, rewardToken: RewardToken, taskId: bigint): Promise<void> {
  const task = await ctx.market.getTask(taskId);
  if (task.testUnlockBlock === 0n) return; // never reached settlement: no block reward was posted
  const minted = await claimMints(rewardToken, ctx.sender, taskId, ctx.me, Number(task.testUnlockBlock));
  if (minted > 0n) ctx.out(`task ${taskId}: claimed a block reward of ${formatUnits(minted, 18)} PODL`);
}

/** Withdraws the publisher's market credit in `token`. */
export async function withdrawCredits(ctx: Pick<TaskEndedContext, "market" | "sender" | "me" | "out">, token: string): Promise<bigint> {
  const credit = await ctx.market.creditOf(ctx.me, token);
  if (credit === 0n) return 0n;
  const unit = token === ZeroAddress ? "ETH" : `of token ${token}`;
  const decimals = token === ZeroAddress ? 18 : await tokenDecimals(ctx.market, token);
  const sent = await ctx.sender.call(ctx.market, "withdraw", [token], { label: `withdraw market credit ${unit}` });
  ctx.out(`withdrew ${formatUnits(credit, decimals)} ${unit} of market credit, tx ${sent.hash} (--keep-credits leaves it)`);
  return credit;
}

async function tokenDecimals(market: TaskMarket, token: string): Promise<number> {
  const erc20 = new Interface(["function decimals() view returns (uint8)"]);
  const runner = market.runner as { call(tx: { to: string; data: string }): Promise<string> };
  return Number(erc20.decodeFunctionResult("decimals", await runner.call({ to: token, data: erc20.encodeFunctionData("decimals") }))[0]);
}
