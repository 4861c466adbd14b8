import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { CursorPosition, CursorStore } from "../chain/stores.js";
import { AgentError } from "../config/errors.js";

/** Checkpoints kept per cursor: how far back a reorganisation can rewind the index. */
const CHECKPOINTS_KEPT = 128;

/** One contract event as the explorer keeps it: decoded arguments as JSON (bigints as decimal strings). */
export interface EventRow {
  /** `txHash:logIndex`. */
  id: string;
  block: number;
  logIndex: number;
  tx: string;
  /** Which contract emitted it: "market", "settlement" or "registry". */
  contract: string;
  name: string;
  taskId: number | null;
  /** The account the event is about (miner, validator, credited account), checksummed. */
  account: string | null;
  args: Record<string, unknown>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, block INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (name TEXT NOT NULL, block INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (name, block));
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, time INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY, block INTEGER NOT NULL, log_index INTEGER NOT NULL, tx TEXT NOT NULL,
  contract TEXT NOT NULL, name TEXT NOT NULL, task_id INTEGER, account TEXT, args TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_task ON events (task_id, block, log_index);
CREATE INDEX IF NOT EXISTS events_name ON events (name, block, log_index);
CREATE INDEX IF NOT EXISTS events_account ON events (account);
CREATE INDEX IF NOT EXISTS events_tx ON events (tx);
CREATE TABLE IF NOT EXISTS snapshot (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/**
 * The explorer's index in one SQLite file: the contracts' events as they were emitted (the only
 * source of truth; every view is derived from them), the block times, a snapshot of live contract
 * views (parameters, queue ranking) and the event cursor's position. Rewinding the cursor after a
 * reorganisation deletes the events above the block it rewinds to, so the index never holds an
 * event of an abandoned fork and a replayed event is stored once (its id is the primary key).
 */
export class ExplorerDb implements CursorStore {
  readonly path: string;
  #db: DatabaseSync;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  static open(path: string): ExplorerDb {
    let db: DatabaseSync;
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL");
      // An index can be rebuilt from the chain: NORMAL is enough, and keeps indexing fast.
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA busy_timeout = 5000");
      db.exec(SCHEMA);
    } catch (cause) {
      throw new AgentError("STATE_UNAVAILABLE", `cannot open the explorer database ${path}`, { cause, context: { path } });
    }
    return new ExplorerDb(path, db);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Runs `fn` in one transaction (a chunk of events is written at once, or not at all). */
  transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN");
    try {
      const value = fn();
      this.#db.exec("COMMIT");
      return value;
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  // ---- CursorStore ----

  getCursor(name: string): CursorPosition | undefined {
    const row = this.#db.prepare("SELECT block, hash FROM cursors WHERE name = ?").get(name) as { block: number; hash: string } | undefined;
    return row === undefined ? undefined : { block: Number(row.block), hash: row.hash };
  }

  setCursor(name: string, position: CursorPosition): void {
    this.#run("INSERT INTO cursors (name, block, hash) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET block = excluded.block, hash = excluded.hash", name, position.block, position.hash);
    this.#run("INSERT OR REPLACE INTO checkpoints (name, block, hash) VALUES (?, ?, ?)", name, position.block, position.hash);
    this.#run(
      "DELETE FROM checkpoints WHERE name = ? AND block < (SELECT block FROM checkpoints WHERE name = ? ORDER BY block DESC LIMIT 1 OFFSET ?)",
      name,
      name,
      CHECKPOINTS_KEPT - 1,
    );
  }

  checkpoints(name: string, belowOrAt: number): CursorPosition[] {
    const rows = this.#db.prepare("SELECT block, hash FROM checkpoints WHERE name = ? AND block <= ? ORDER BY block DESC").all(name, belowOrAt) as { block: number; hash: string }[];
    return rows.map((r) => ({ block: Number(r.block), hash: r.hash }));
  }

  /** Moves the cursor back and forgets everything indexed above it (the abandoned fork's events). */
  rewindCursor(name: string, position: CursorPosition | undefined): void {
    const above = position?.block ?? -1;
    this.transaction(() => {
      if (position === undefined) this.#run("DELETE FROM cursors WHERE name = ?", name);
      else this.#run("UPDATE cursors SET block = ?, hash = ? WHERE name = ?", position.block, position.hash, name);
      this.#run("DELETE FROM checkpoints WHERE name = ? AND block > ?", name, above);
      this.#run("DELETE FROM events WHERE block > ?", above);
      this.#run("DELETE FROM blocks WHERE number > ?", above);
    });
  }

  isProcessed(_name: string, eventId: string): boolean {
    return this.#db.prepare("SELECT 1 FROM events WHERE id = ?").get(eventId) !== undefined;
  }

  /** The handler stored the event itself (`putEvent`); its id is what `isProcessed` looks for. */
  markProcessed(): void {}

  // ---- events ----

  putEvent(e: EventRow): void {
    this.#run(
      "INSERT OR IGNORE INTO events (id, block, log_index, tx, contract, name, task_id, account, args) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      e.id,
      e.block,
      e.logIndex,
      e.tx,
      e.contract,
      e.name,
      e.taskId,
      e.account,
      JSON.stringify(e.args),
    );
  }

  putBlockTime(number: number, time: number): void {
    this.#run("INSERT OR REPLACE INTO blocks (number, time) VALUES (?, ?)", number, time);
  }

  blockTime(number: number): number | undefined {
    const row = this.#db.prepare("SELECT time FROM blocks WHERE number = ?").get(number) as { time: number } | undefined;
    return row === undefined ? undefined : Number(row.time);
  }

  /** Events matching every given filter, in chain order. */
  events(filter: { taskId?: number; taskIds?: readonly number[]; names?: readonly string[]; account?: string; tx?: string } = {}): (EventRow & { time: number })[] {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (filter.taskId !== undefined) (where.push("e.task_id = ?"), params.push(filter.taskId));
    if (filter.taskIds !== undefined) (where.push(`e.task_id IN (${filter.taskIds.map(() => "?").join(",") || "NULL"})`), params.push(...filter.taskIds));
    if (filter.names !== undefined) (where.push(`e.name IN (${filter.names.map(() => "?").join(",") || "NULL"})`), params.push(...filter.names));
    if (filter.account !== undefined) (where.push("e.account = ?"), params.push(filter.account));
    if (filter.tx !== undefined) (where.push("e.tx = ?"), params.push(filter.tx));
    const sql = `SELECT e.*, COALESCE(b.time, 0) AS time FROM events e LEFT JOIN blocks b ON b.number = e.block
      ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY e.block, e.log_index`;
    return (this.#db.prepare(sql).all(...params) as Record<string, unknown>[]).map(toRow);
  }

  /** Task ids posted, newest first. */
  taskIds(options: { offset: number; limit: number }): { ids: number[]; total: number } {
    const total = Number((this.#db.prepare("SELECT COUNT(*) AS n FROM events WHERE name = 'TaskPosted'").get() as { n: number }).n);
    const rows = this.#db.prepare("SELECT task_id FROM events WHERE name = 'TaskPosted' ORDER BY task_id DESC LIMIT ? OFFSET ?").all(options.limit, options.offset) as { task_id: number }[];
    return { ids: rows.map((r) => Number(r.task_id)), total };
  }

  /** Ids of tasks with no event among `terminal`, oldest first (the queued and active ones). */
  openTaskIds(terminal: readonly string[]): number[] {
    const rows = this.#db
      .prepare(
        `SELECT task_id FROM events WHERE name = 'TaskPosted' AND task_id NOT IN
         (SELECT task_id FROM events WHERE task_id IS NOT NULL AND name IN (${terminal.map(() => "?").join(",")})) ORDER BY task_id`,
      )
      .all(...terminal) as { task_id: number }[];
    return rows.map((r) => Number(r.task_id));
  }

  /** Ids of the newest tasks that have one of `names`, newest first. */
  taskIdsWith(names: readonly string[], limit: number): number[] {
    const rows = this.#db
      .prepare(`SELECT DISTINCT task_id FROM events WHERE name IN (${names.map(() => "?").join(",")}) AND task_id IS NOT NULL ORDER BY block DESC, log_index DESC LIMIT ?`)
      .all(...names, limit) as { task_id: number }[];
    return rows.map((r) => Number(r.task_id));
  }

  /** Blocks holding events whose time is not stored yet. */
  blocksWithoutTime(): number[] {
    const rows = this.#db.prepare("SELECT DISTINCT block FROM events WHERE block NOT IN (SELECT number FROM blocks) ORDER BY block").all() as { block: number }[];
    return rows.map((r) => Number(r.block));
  }

  /** TaskPosted events whose request (from the transaction's input) has not been looked up yet. */
  postsWithoutRequest(): { id: string; tx: string }[] {
    return this.#db.prepare("SELECT id, tx FROM events WHERE name = 'TaskPosted' AND json_type(args, '$.request') IS NULL").all() as { id: string; tx: string }[];
  }

  /** Stores the posted request (null when the transaction was not a direct `postTask` call). */
  setPostRequest(id: string, request: Record<string, unknown> | null): void {
    this.#run("UPDATE events SET args = json_set(args, '$.request', json(?)) WHERE id = ?", JSON.stringify(request), id);
  }

  counts(): { events: number; block: number } {
    const row = this.#db.prepare("SELECT COUNT(*) AS n, COALESCE(MAX(block), 0) AS b FROM events").get() as { n: number; b: number };
    return { events: Number(row.n), block: Number(row.b) };
  }

  // ---- snapshot of live views ----

  putSnapshot(key: string, value: unknown): void {
    this.#run("INSERT OR REPLACE INTO snapshot (key, value) VALUES (?, ?)", key, JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
  }

  snapshot<T>(key: string): T | undefined {
    const row = this.#db.prepare("SELECT value FROM snapshot WHERE key = ?").get(key) as { value: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  #run(sql: string, ...params: SQLInputValue[]): void {
    this.#db.prepare(sql).run(...params);
  }
}

function toRow(r: Record<string, unknown>): EventRow & { time: number } {
  return {
    id: String(r.id),
    block: Number(r.block),
    logIndex: Number(r.log_index),
    tx: String(r.tx),
    contract: String(r.contract),
    name: String(r.name),
    taskId: r.task_id === null ? null : Number(r.task_id),
    account: r.account === null ? null : String(r.account),
    args: JSON.parse(String(r.args)) as Record<string, unknown>,
    time: Number(r.time),
  };
}
