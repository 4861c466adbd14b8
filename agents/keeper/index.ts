/** Every permissionless call (draw, timeouts, finalize, escape, the turns keepers take), for any agent. */
export { drawCommittee, escape, finalize, seedDue, sendMarketCall, type MarketCall } from "./calls.js";
export { dueMarketCall, roundFinalizable } from "./due.js";
export { escapeDue, escapeReadyAt } from "./escape.js";
export { Keeper, type KeeperOptions } from "./turns.js";
export { tryMarketCall } from "./opportunistic.js";
