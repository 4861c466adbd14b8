import { revertData } from "../chain/revert.js";
import type { SentTx, TxSender } from "../chain/sender.js";
import type { Settlement, TaskMarket } from "../../types/index.js";

/** The market's permissionless calls: anyone may send them once the contract's clock allows. */
export type MarketCall = "startNext" | "expireQueued" | "timeoutTrainingKeys" | "fixSeed" | "timeoutTestKeys";

/** Sends one of the market's permissionless calls (`startNext` takes no task). */
export async function sendMarketCall(sender: TxSender, market: TaskMarket, call: MarketCall, taskId?: bigint): Promise<SentTx> {
  return await sender.call(market, call, taskId === undefined ? [] : [taskId], { label: taskId === undefined ? call : `${call} task ${taskId}` });
}

/** Draws round `round`'s committee (the first call also requests the draw's randomness). */
export async function drawCommittee(sender: TxSender, settlement: Settlement, taskId: bigint, round: number): Promise<SentTx> {
  return await sender.call(settlement, "drawCommittee", [taskId], { label: `drawCommittee task ${taskId} round ${round}` });
}

/** Closes the current round: settles the task, or opens the next round when the quorum failed. */
export async function finalize(sender: TxSender, settlement: Settlement, taskId: bigint): Promise<SentTx> {
  return await sender.call(settlement, "finalize", [taskId], { label: `finalize task ${taskId}` });
}

/** `Settlement.escape`: settles a task whose attestation stalled past `escapeDelay` as Unvalidated (keeper/escape.ts says when). */
export async function escape(sender: TxSender, settlement: Settlement, taskId: bigint): Promise<SentTx> {
  return await sender.call(settlement, "escape", [taskId], { label: `escape task ${taskId}` });
}

/**
 * Whether `fixSeed` would do something for a started task: store a seed whose randomness is ready (so
 * that it can no longer expire and be requested again), or renew randomness that expired unread.
 * It reverts while the randomness is pending and once the seed is stored (the unlock also stores it).
 */
export async function seedDue(market: TaskMarket, taskId: bigint): Promise<boolean> {
  try {
    await market.fixSeed.staticCall(taskId);
    return true;
  } catch (e) {
    if (revertData(e) === undefined) throw e;
    return false;
  }
}
