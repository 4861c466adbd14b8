import { isAgentError } from "../config/errors.js";
import type { TxSender } from "../chain/sender.js";
import type { Logger } from "../log/logger.js";
import { sendMarketCall, type MarketCall } from "./calls.js";
import type { TaskMarket } from "../../types/index.js";

/**
 * A permissionless call made in passing by an agent that needs it (a miner starting the task it
 * wants, or opening the default path for its bond); someone else may make it first. Whatever stops
 * it is logged and the agent's next step looks again.
 */
export async function tryMarketCall(sender: TxSender, market: TaskMarket, log: Logger, call: MarketCall, taskId?: bigint): Promise<void> {
  try {
    const sent = await sendMarketCall(sender, market, call, taskId);
    log.info({ taskId, txHash: sent.hash }, `${call} sent`);
  } catch (e) {
    const reverted = isAgentError(e, "TX_REVERTED");
    log[reverted ? "debug" : "warn"]({ taskId, err: (e as Error).message }, `${call} not possible now`);
  }
}
