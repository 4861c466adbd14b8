import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { CursorPosition, CursorStore, JournalTx, TxJournal, TxStatus } from "../chain/stores.js";
import { AgentError } from "../config/errors.js";
import { MIGRATIONS } from "./migrations.js";

/** Numeric order of uint256 ids kept as decimal text (SQLite integers stop at 2^63). */
const BY_TASK_ID = "length(task_id), task_id";

/** Checkpoints kept per cursor: the cursor can rewind to any of them after a reorganisation. */
const CHECKPOINTS_KEPT = 128;

export interface TaskRecord {
  taskId: bigint;
  phase: string;
  data: Record<string, unknown>;
  updatedAt: number;
}

export interface SaltRecord {
  taskId: bigint;
  purpose: string;
  commitment: string;
  salt: string;
  data: Record<string, unknown>;
  createdAt: number;
}

export interface ArtifactRecord {
  taskId: bigint;
  kind: string;
  cid?: string | undefined;
  hash?: string | undefined;
  path?: string | undefined;
}

/**
 * An agent's durable state in one SQLite file (WAL, synchronous=FULL). Every write is committed
 * and synced when the method returns, so a record written before a transaction is sent survives a
 * SIGKILL or power cut at any later point. One agent process per file.
 */
export class StateStore implements CursorStore, TxJournal {
  readonly path: string;
  #db: DatabaseSync;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  static open(path: string): StateStore {
    let db: DatabaseSync;
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL");
      // FULL: each commit fsyncs the WAL, so "written" means on disk, not in the page cache.
      db.exec("PRAGMA synchronous = FULL");
      db.exec("PRAGMA busy_timeout = 5000");
      db.exec("PRAGMA foreign_keys = ON");
    } catch (cause) {
      throw new AgentError("STATE_UNAVAILABLE", `cannot open agent state ${path}`, { cause, context: { path } });
    }
    const store = new StateStore(path, db);
    store.#migrate();
    return store;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Schema version (number of migrations applied). */
  get version(): number {
    return Number((this.#db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version);
  }

  // ---- tasks ----

  /** Creates or replaces the agent's record of a task; bigints in `data` come back as strings. */
  putTask(taskId: bigint, phase: string, data: Record<string, unknown> = {}): void {
    this.#run(
      `INSERT INTO tasks (task_id, phase, data, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (task_id) DO UPDATE SET phase = excluded.phase, data = excluded.data, updated_at = excluded.updated_at`,
      taskId.toString(),
      phase,
      toJson(data),
      Date.now(),
    );
  }

  getTask(taskId: bigint): TaskRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM tasks WHERE task_id = ?").get(taskId.toString());
    return row === undefined ? undefined : toTask(row);
  }

  listTasks(phase?: string): TaskRecord[] {
    const rows =
      phase === undefined
        ? this.#db.prepare(`SELECT * FROM tasks ORDER BY ${BY_TASK_ID}`).all()
        : this.#db.prepare(`SELECT * FROM tasks WHERE phase = ? ORDER BY ${BY_TASK_ID}`).all(phase);
    return rows.map(toTask);
  }

  // ---- salts: write one before sending the commitment that needs it ----

  /** Idempotent: writing the same (task, purpose, commitment) again keeps the first salt. */
  putSalt(record: Omit<SaltRecord, "createdAt">): void {
    this.#run(
      `INSERT INTO salts (task_id, purpose, commitment, salt, data, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (task_id, purpose, commitment) DO NOTHING`,
      record.taskId.toString(),
      record.purpose,
      record.commitment,
      record.salt,
      toJson(record.data),
      Date.now(),
    );
  }

  /** The salt opening `commitment`, or the newest salt for (task, purpose) when none is named. */
  getSalt(taskId: bigint, purpose: string, commitment?: string): SaltRecord | undefined {
    const row =
      commitment === undefined
        ? this.#db
            .prepare("SELECT * FROM salts WHERE task_id = ? AND purpose = ? ORDER BY created_at DESC, rowid DESC LIMIT 1")
            .get(taskId.toString(), purpose)
        : this.#db
            .prepare("SELECT * FROM salts WHERE task_id = ? AND purpose = ? AND commitment = ?")
            .get(taskId.toString(), purpose, commitment);
    if (row === undefined) return undefined;
    return {
      taskId: BigInt(row.task_id as string),
      purpose: row.purpose as string,
      commitment: row.commitment as string,
      salt: row.salt as string,
      data: JSON.parse(row.data as string) as Record<string, unknown>,
      createdAt: Number(row.created_at),
    };
  }

  // ---- artifacts ----

  putArtifact(record: ArtifactRecord): void {
    this.#run(
      `INSERT INTO artifacts (task_id, kind, cid, hash, path, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (task_id, kind) DO UPDATE SET cid = excluded.cid, hash = excluded.hash, path = excluded.path`,
      record.taskId.toString(),
      record.kind,
      record.cid ?? null,
      record.hash ?? null,
      record.path ?? null,
      Date.now(),
    );
  }

  getArtifact(taskId: bigint, kind: string): ArtifactRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM artifacts WHERE task_id = ? AND kind = ?").get(taskId.toString(), kind);
    if (row === undefined) return undefined;
    return {
      taskId: BigInt(row.task_id as string),
      kind: row.kind as string,
      cid: (row.cid as string | null) ?? undefined,
      hash: (row.hash as string | null) ?? undefined,
      path: (row.path as string | null) ?? undefined,
    };
  }

  // ---- transaction journal ----

  recordTx(tx: JournalTx): void {
    const now = Date.now();
    this.#run(
      `INSERT INTO txs (hash, raw, from_addr, nonce, label, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'signed', ?, ?)
       ON CONFLICT (hash) DO NOTHING`,
      tx.hash,
      tx.raw,
      tx.from.toLowerCase(),
      tx.nonce,
      tx.label,
      now,
      now,
    );
  }

  setTxStatus(hash: string, status: TxStatus, detail: { blockNumber?: number; error?: string } = {}): void {
    this.#run(
      "UPDATE txs SET status = ?, block_number = ?, error = ?, updated_at = ? WHERE hash = ?",
      status,
      detail.blockNumber ?? null,
      detail.error ?? null,
      Date.now(),
      hash,
    );
  }

  unsettledTxs(from: string): (JournalTx & { status: TxStatus })[] {
    return this.#db
      .prepare("SELECT * FROM txs WHERE from_addr = ? AND status IN ('signed', 'sent') ORDER BY nonce, created_at")
      .all(from.toLowerCase())
      .map((row) => ({
        hash: row.hash as string,
        raw: row.raw as string,
        from: row.from_addr as string,
        nonce: Number(row.nonce),
        label: row.label as string,
        status: row.status as TxStatus,
      }));
  }

  txStatus(hash: string): TxStatus | undefined {
    const row = this.#db.prepare("SELECT status FROM txs WHERE hash = ?").get(hash);
    return row === undefined ? undefined : (row.status as TxStatus);
  }

  // ---- event cursors ----

  getCursor(name: string): CursorPosition | undefined {
    const row = this.#db.prepare("SELECT block, hash FROM cursors WHERE name = ?").get(name);
    return row === undefined ? undefined : { block: Number(row.block), hash: row.hash as string };
  }

  setCursor(name: string, position: CursorPosition): void {
    this.#transaction(() => {
      this.#run(
        "INSERT INTO cursors (name, block, hash) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET block = excluded.block, hash = excluded.hash",
        name,
        position.block,
        position.hash,
      );
      this.#run("INSERT OR REPLACE INTO cursor_checkpoints (name, block, hash) VALUES (?, ?, ?)", name, position.block, position.hash);
      const oldest = this.#db
        .prepare("SELECT block FROM cursor_checkpoints WHERE name = ? ORDER BY block DESC LIMIT 1 OFFSET ?")
        .get(name, CHECKPOINTS_KEPT - 1);
      if (oldest !== undefined) {
        // Below the oldest checkpoint the cursor never rewinds, so those ids are no longer needed.
        this.#run("DELETE FROM cursor_checkpoints WHERE name = ? AND block < ?", name, Number(oldest.block));
        this.#run("DELETE FROM processed_events WHERE name = ? AND block < ?", name, Number(oldest.block));
      }
    });
  }

  checkpoints(name: string, belowOrAt: number): CursorPosition[] {
    return this.#db
      .prepare("SELECT block, hash FROM cursor_checkpoints WHERE name = ? AND block <= ? ORDER BY block DESC")
      .all(name, belowOrAt)
      .map((row) => ({ block: Number(row.block), hash: row.hash as string }));
  }

  rewindCursor(name: string, position: CursorPosition | undefined): void {
    this.#transaction(() => {
      if (position === undefined) {
        this.#run("DELETE FROM cursors WHERE name = ?", name);
        this.#run("DELETE FROM cursor_checkpoints WHERE name = ?", name);
        return;
      }
      this.#run("UPDATE cursors SET block = ?, hash = ? WHERE name = ?", position.block, position.hash, name);
      this.#run("DELETE FROM cursor_checkpoints WHERE name = ? AND block > ?", name, position.block);
    });
  }

  isProcessed(name: string, eventId: string): boolean {
    return this.#db.prepare("SELECT 1 FROM processed_events WHERE name = ? AND event_id = ?").get(name, eventId) !== undefined;
  }

  markProcessed(name: string, eventId: string, block: number): void {
    this.#run("INSERT OR IGNORE INTO processed_events (name, event_id, block) VALUES (?, ?, ?)", name, eventId, block);
  }

  // ---- internals ----

  #migrate(): void {
    const version = this.version;
    if (version > MIGRATIONS.length) {
      throw new AgentError("STATE_TOO_NEW", `${this.path} has schema version ${version}; this agent knows up to ${MIGRATIONS.length}`, {
        context: { path: this.path, version, known: MIGRATIONS.length },
      });
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.#transaction(() => {
        this.#db.exec(MIGRATIONS[v]!);
        this.#db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  #transaction(fn: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      fn();
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#db.exec("ROLLBACK");
      if (e instanceof AgentError) throw e;
      throw new AgentError("STATE_UNAVAILABLE", `agent state ${this.path}: write failed`, { cause: e });
    }
  }

  #run(sql: string, ...params: (string | number | null)[]): void {
    try {
      this.#db.prepare(sql).run(...params);
    } catch (cause) {
      throw new AgentError("STATE_UNAVAILABLE", `agent state ${this.path}: write failed`, { cause });
    }
  }
}

function toTask(row: Record<string, unknown>): TaskRecord {
  return {
    taskId: BigInt(row.task_id as string),
    phase: row.phase as string,
    data: JSON.parse(row.data as string) as Record<string, unknown>,
    updatedAt: Number(row.updated_at),
  };
}

/** JSON for the `data` columns; bigints (on-chain amounts) are stored as decimal strings. */
function toJson(data: Record<string, unknown>): string {
  return JSON.stringify(data, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}
