/** Every permissionless call (draw, timeouts, finalize, the turns keepers take), for any agent. */
export { drawCommittee, finalize, seedDue, sendMarketCall, type MarketCall } from "./calls.js";
export { dueMarketCall, roundFinalizable } from "./due.js";
export { Keeper, type KeeperOptions } from "./turns.js";
export { tryMarketCall } from "./opportunistic.js";
