/**
 * What agents/chain needs from durable storage. agents/state's StateStore implements both; the
 * chain code depends only on these shapes.
 */

export interface CursorPosition {
  /** Last block whose events were all handled. */
  block: number;
  /** Its hash, to notice a reorganisation below it. */
  hash: string;
}

export interface CursorStore {
  getCursor(name: string): CursorPosition | undefined;
  /** Advances the cursor and remembers the position as a checkpoint to rewind to later. */
  setCursor(name: string, position: CursorPosition): void;
  /** Checkpoints at or below `block`, newest first. */
  checkpoints(name: string, belowOrAt: number): CursorPosition[];
  /** Moves the cursor back to `position` and forgets checkpoints above it. */
  rewindCursor(name: string, position: CursorPosition | undefined): void;
  isProcessed(name: string, eventId: string): boolean;
  markProcessed(name: string, eventId: string, block: number): void;
}

export type TxStatus = "signed" | "sent" | "mined" | "reverted" | "dropped";

export interface JournalTx {
  hash: string;
  /** The signed transaction, so it can be re-broadcast after a crash. */
  raw: string;
  from: string;
  nonce: number;
  /** What the transaction does, for logs and `podl status` ("commitModel task 7"). */
  label: string;
}

export interface TxJournal {
  /** Written (and synced) before the transaction is broadcast. */
  recordTx(tx: JournalTx): void;
  setTxStatus(hash: string, status: TxStatus, detail?: { blockNumber?: number; error?: string }): void;
  /** Transactions not yet known to be mined, reverted or dropped, oldest nonce first. */
  unsettledTxs(from: string): (JournalTx & { status: TxStatus })[];
}
