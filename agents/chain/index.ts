export { connectChain, redactUrl, type ChainConnection, type ConnectOptions } from "./provider.js";
export { EventCursor, eventId, type CursorOptions, type EventHandler, type PollResult } from "./cursor.js";
export { TxSender, type SenderOptions, type SentTx, type TxRequest } from "./sender.js";
export { NonceManager, nonceManagerFor } from "./nonce.js";
export { decodeRevert, revertData, type DecodedRevert } from "./revert.js";
export { backoffMs, isTransientRpcError, sleep, withRetry, type RetryPolicy } from "./retry.js";
export type { CursorPosition, CursorStore, JournalTx, TxJournal, TxStatus } from "./stores.js";
export { EventDecoder, type DecodedEvent } from "./events.js";
