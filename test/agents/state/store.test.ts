import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { expect } from "chai";
import { isAgentError } from "../../../agents/config/errors.js";
import { MIGRATIONS } from "../../../agents/state/migrations.js";
import { StateStore } from "../../../agents/state/store.js";
import { saltFor } from "./helpers/salt-writer.js";


describe("agents/state StateStore", function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "podl-state-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("creates the schema at the latest version in WAL mode and reopens without migrating again", () => {
    const path = join(dir, "nested", "agent.sqlite");
    let store = StateStore.open(path);
    expect(store.version).to.equal(MIGRATIONS.length);
    store.putTask(1n, "seen");
    store.close();
    store = StateStore.open(path);
    expect(store.version).to.equal(MIGRATIONS.length);
    expect(store.getTask(1n)?.phase).to.equal("seen");
    store.close();
    const db = new DatabaseSync(path);
    expect(db.prepare("PRAGMA journal_mode").get()).to.deep.equal({ journal_mode: "wal" });
    db.close();
  });

  it("refuses a state file written by a newer schema", () => {
    const path = join(dir, "agent.sqlite");
    StateStore.open(path).close();
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    const error = (() => {
      try {
        StateStore.open(path);
      } catch (e) {
        return e;
      }
    })();
    expect(isAgentError(error, "STATE_TOO_NEW"), String(error)).to.equal(true);
  });

  it("keeps tasks, salts and artifacts keyed by uint256 task ids", () => {
    const store = StateStore.open(join(dir, "agent.sqlite"));
    const big = 2n ** 255n + 7n;
    store.putTask(big, "committed", { reward: 10n ** 30n, cid: "bafy" });
    store.putTask(2n ** 64n, "seen");
    store.putTask(2n, "seen");
    store.putTask(2n, "skipped", { reason: "spec exceeds --max-params" });
    expect(store.getTask(big)?.data).to.deep.equal({ reward: (10n ** 30n).toString(), cid: "bafy" });
    expect(store.listTasks().map((t) => [t.taskId, t.phase])).to.deep.equal([
      [2n, "skipped"],
      [2n ** 64n, "seen"],
      [big, "committed"],
    ]);
    expect(store.listTasks("skipped")).to.have.length(1);

    store.putSalt({ taskId: big, purpose: "model", commitment: "0xc1", salt: "0x51", data: { modelHash: "0xaa" } });
    store.putSalt({ taskId: big, purpose: "model", commitment: "0xc1", salt: "0xdifferent", data: {} });
    store.putSalt({ taskId: big, purpose: "model", commitment: "0xc2", salt: "0x52", data: {} });
    expect(store.getSalt(big, "model", "0xc1")?.salt).to.equal("0x51"); // the first salt of a commitment stays
    expect(store.getSalt(big, "model")?.commitment).to.equal("0xc2"); // newest commitment
    expect(store.getSalt(big, "scores")).to.equal(undefined);

    store.putArtifact({ taskId: big, kind: "model", cid: "bafymodel", hash: "0xab", path: "/tmp/m.bin" });
    store.putArtifact({ taskId: big, kind: "model", cid: "bafymodel2" });
    expect(store.getArtifact(big, "model")).to.deep.equal({ taskId: big, kind: "model", cid: "bafymodel2", hash: undefined, path: undefined });
    store.close();
  });

  it("loses no acknowledged salt when the writer is SIGKILLed mid-stream", async () => {
    const path = join(dir, "agent.sqlite");
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "helpers", "salt-writer.ts"), path], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let acknowledged = -1;
    let buffer = "";
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) acknowledged = Number(line);
      if (acknowledged >= 40 && !child.killed) child.kill("SIGKILL");
    });
    expect(await exit).to.equal("SIGKILL");
    expect(acknowledged).to.be.at.least(40);

    const store = StateStore.open(path);
    for (let i = 0; i <= acknowledged; i++) {
      const salt = store.getSalt(BigInt(i), "model", saltFor(i, "c"));
      expect(salt?.salt, `salt ${i}`).to.equal(saltFor(i, "s"));
      expect(salt?.data).to.deep.equal({ modelHash: saltFor(i, "m") });
    }
    store.close();
    const db = new DatabaseSync(path);
    expect(db.prepare("PRAGMA integrity_check").get()).to.deep.equal({ integrity_check: "ok" });
    db.close();
  });
});
