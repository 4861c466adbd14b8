import { getAddress } from "ethers";
import type { RewardToken, TaskMarket } from "../../types/index.js";
import { AgentError, isAgentError } from "../config/errors.js";
import { queryInRanges, type HeadSource } from "./log-ranges.js";
import type { TxSender } from "./sender.js";

/**
 * Pull payouts (docs/market.md, "Payouts"): `settle` posts a task's payout list (`PayoutsPosted`: the
 * market keeps only its hash) and each entry becomes a credit only when someone claims it with the
 * list (`claimPayouts`). Everything an agent needs to claim its own entries: read the posted list
 * from the event, find its unclaimed indices, claim them.
 */

export interface Payout {
  account: string;
  amount: bigint;
}

/** A task's posted list and what of it is still unclaimed for an account. */
export interface UnclaimedPayouts {
  taskId: bigint;
  payouts: Payout[];
  indices: number[];
  /** Sum of the unclaimed entries' amounts, in the task's token. */
  amount: bigint;
}

/** The payout list posted for `taskId`, or undefined when the task is not settled (yet). */
export async function postedPayouts(market: TaskMarket, taskId: bigint, fromBlock = 0): Promise<Payout[] | undefined> {
  const filter = market.filters.PayoutsPosted(taskId);
  const [event] = await queryInRanges(headOf(market), fromBlock, (from, to) => market.queryFilter(filter, from, to), { first: true });
  if (event === undefined) return undefined;
  return event.args.payouts.map((p) => ({ account: getAddress(p.account), amount: p.amount }));
}

/** Indices of `payouts` naming `account` (every index when it is undefined) whose bit in `claimed` is clear. */
export function unclaimedIndices(payouts: readonly Payout[], claimed: bigint, account?: string): number[] {
  const who = account === undefined ? undefined : getAddress(account);
  const out: number[] = [];
  payouts.forEach((p, i) => {
    if ((claimed >> BigInt(i)) & 1n) return;
    if (who === undefined || p.account === who) out.push(i);
  });
  return out;
}

/** What of `taskId`'s posted payouts is unclaimed for `account` (all payees when undefined); undefined when none is. */
export async function unclaimedPayouts(market: TaskMarket, taskId: bigint, account?: string, fromBlock = 0): Promise<UnclaimedPayouts | undefined> {
  const payouts = await postedPayouts(market, taskId, fromBlock);
  if (payouts === undefined) return undefined;
  const indices = unclaimedIndices(payouts, await market.claimedPayouts(taskId), account);
  if (indices.length === 0) return undefined;
  return { taskId, payouts, indices, amount: indices.reduce((sum, i) => sum + payouts[i]!.amount, 0n) };
}

/**
 * Claims `account`'s unclaimed payouts of `taskId` into its market credit; returns the amount claimed
 * (0n when nothing was due or someone claimed it for us first).
 */
export async function claimPayouts(market: TaskMarket, sender: TxSender, taskId: bigint, account: string, fromBlock = 0): Promise<bigint> {
  return claimDue(
    () => unclaimedPayouts(market, taskId, account, fromBlock),
    (due) => sender.call(market, "claimPayouts", [taskId, due.payouts, due.indices], { label: `claimPayouts task ${taskId}` }),
  );
}

/** Every task with a posted payout to `account` still unclaimed (for `podl withdraw` and `podl status`). */
export async function allUnclaimedPayouts(market: TaskMarket, account: string, fromBlock = 0): Promise<UnclaimedPayouts[]> {
  const who = getAddress(account);
  const filter = market.filters.PayoutsPosted();
  const events = await queryInRanges(headOf(market), fromBlock, (from, to) => market.queryFilter(filter, from, to));
  const out: UnclaimedPayouts[] = [];
  for (const event of events) {
    const payouts = event.args.payouts.map((p) => ({ account: getAddress(p.account), amount: p.amount }));
    if (!payouts.some((p) => p.account === who)) continue;
    const taskId = event.args.taskId;
    const indices = unclaimedIndices(payouts, await market.claimedPayouts(taskId), who);
    if (indices.length === 0) continue;
    out.push({ taskId, payouts, indices, amount: indices.reduce((sum, i) => sum + payouts[i]!.amount, 0n) });
  }
  return out;
}

/** Unclaimed posted payouts of `account`, summed by token (address(0) = ETH). */
export async function unclaimedByToken(market: TaskMarket, account: string, fromBlock = 0): Promise<Map<string, bigint>> {
  const byToken = new Map<string, bigint>();
  for (const due of await allUnclaimedPayouts(market, account, fromBlock)) {
    const token = getAddress((await market.getTask(due.taskId)).token);
    byToken.set(token, (byToken.get(token) ?? 0n) + due.amount);
  }
  return byToken;
}

/** Claims every unclaimed posted payout of `account` into its market credits; returns the tokens credited. */
export async function claimAllPayouts(market: TaskMarket, sender: TxSender, account: string, fromBlock = 0): Promise<string[]> {
  const tokens = new Set<string>();
  for (const due of await allUnclaimedPayouts(market, account, fromBlock)) {
    if ((await claimPayouts(market, sender, due.taskId, account, fromBlock)) > 0n) tokens.add(getAddress((await market.getTask(due.taskId)).token));
  }
  return [...tokens];
}

/**
 * Block rewards follow the same rule in the reward token (`MintsPosted`, `claimMints`): what of
 * `taskId`'s posted mints is unclaimed for `account` (all recipients when undefined).
 */
export async function unclaimedMints(rewardToken: RewardToken, taskId: bigint, account?: string, fromBlock = 0): Promise<UnclaimedPayouts | undefined> {
  const filter = rewardToken.filters.MintsPosted(taskId);
  const [event] = await queryInRanges(headOf(rewardToken), fromBlock, (from, to) => rewardToken.queryFilter(filter, from, to), { first: true });
  if (event === undefined) return undefined;
  const mints = event.args.mints.map((m) => ({ account: getAddress(m.account), amount: m.amount }));
  const indices = unclaimedIndices(mints, await rewardToken.claimedMints(taskId), account).filter((i) => mints[i]!.amount > 0n);
  if (indices.length === 0) return undefined;
  return { taskId, payouts: mints, indices, amount: indices.reduce((sum, i) => sum + mints[i]!.amount, 0n) };
}

/**
 * Claims (mints) `account`'s unclaimed block reward of `taskId`; returns the amount minted (0n when
 * none was posted to it, or someone claimed it on its behalf first: anyone may).
 */
export async function claimMints(rewardToken: RewardToken, sender: TxSender, taskId: bigint, account: string, fromBlock = 0): Promise<bigint> {
  return claimDue(
    () => unclaimedMints(rewardToken, taskId, account, fromBlock),
    (due) => sender.call(rewardToken, "claimMints", [taskId, due.payouts, due.indices], { label: `claimMints task ${taskId}` }),
  );
}

/** Every task with a posted block reward to `account` still unclaimed. */
export async function allUnclaimedMints(rewardToken: RewardToken, account: string, fromBlock = 0): Promise<UnclaimedPayouts[]> {
  const out: UnclaimedPayouts[] = [];
  const filter = rewardToken.filters.MintsPosted();
  for (const event of await queryInRanges(headOf(rewardToken), fromBlock, (from, to) => rewardToken.queryFilter(filter, from, to))) {
    if (!event.args.mints.some((m) => getAddress(m.account) === getAddress(account))) continue;
    const due = await unclaimedMints(rewardToken, event.args.taskId, account, fromBlock);
    if (due !== undefined) out.push(due);
  }
  return out;
}

/** Claims (mints) every unclaimed block reward of `account`; returns the amount minted. */
export async function claimAllMints(rewardToken: RewardToken, sender: TxSender, account: string, fromBlock = 0): Promise<bigint> {
  let total = 0n;
  for (const due of await allUnclaimedMints(rewardToken, account, fromBlock)) {
    await sender.call(rewardToken, "claimMints", [due.taskId, due.payouts, due.indices], { label: `claimMints task ${due.taskId}` });
    total += due.amount;
  }
  return total;
}

/** Sends the claim of what `read` finds due; returns its amount (0n when nothing was due). */
async function claimDue(read: () => Promise<UnclaimedPayouts | undefined>, send: (due: UnclaimedPayouts) => Promise<unknown>): Promise<bigint> {
  const due = await read();
  if (due === undefined) return 0n;
  try {
    await send(due);
  } catch (e) {
    // anyone may claim on a payee's behalf: a claim that raced ours leaves nothing unclaimed
    if (isAgentError(e, "TX_REVERTED") && (await read()) === undefined) return 0n;
    throw e;
  }
  return due.amount;
}

/** The provider behind a contract, for the head of a lookup. */
function headOf(contract: TaskMarket | RewardToken): HeadSource {
  const provider = contract.runner?.provider;
  if (provider == null) throw new AgentError("CONFIG_INVALID", "the contract is not connected to a provider");
  return provider;
}
