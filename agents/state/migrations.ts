/**
 * Schema versions of the agent state; `PRAGMA user_version` records how many have run. Append
 * only: a released migration never changes.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY,          -- uint256 as decimal text
    phase TEXT NOT NULL,               -- the agent's own view of the task (its state machine's state)
    data TEXT NOT NULL DEFAULT '{}',   -- JSON: what the state machine keeps about the task
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE salts (
    task_id TEXT NOT NULL,
    purpose TEXT NOT NULL,             -- "model" (miner commitment), "scores" (validator attestation)
    commitment TEXT NOT NULL,          -- the commitment the salt opens
    salt TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',   -- JSON: what else the reveal needs (model hash, scores)
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, purpose, commitment)
  );
  CREATE TABLE artifacts (
    task_id TEXT NOT NULL,
    kind TEXT NOT NULL,                -- "model", "checkpoints", "shard:3", …
    cid TEXT,
    hash TEXT,
    path TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, kind)
  );
  CREATE TABLE txs (
    hash TEXT PRIMARY KEY,
    raw TEXT NOT NULL,
    from_addr TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    label TEXT NOT NULL,
    status TEXT NOT NULL,
    block_number INTEGER,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX txs_unsettled ON txs (from_addr, status, nonce);
  CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    block INTEGER NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE TABLE cursor_checkpoints (
    name TEXT NOT NULL,
    block INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (name, block)
  );
  CREATE TABLE processed_events (
    name TEXT NOT NULL,
    event_id TEXT NOT NULL,            -- txHash:logIndex
    block INTEGER NOT NULL,
    PRIMARY KEY (name, event_id)
  );
  CREATE INDEX processed_events_block ON processed_events (name, block);
  `,
];
