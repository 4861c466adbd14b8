// A child process that runs one EmbeddedStore and obeys its parent over IPC; used by the storage tests
// and bench/storage.ts so that the two nodes of a transfer live in separate processes.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { FsBlockstore } from "blockstore-fs";
import { EmbeddedStore } from "../../../../agents/storage/embedded.js";
import { parseCid } from "../../../../agents/storage/cid.js";
import { isStorageError } from "../../../../agents/storage/errors.js";
import { pseudoRandom } from "./data.js";
import type { PeerReply, PeerRequest } from "./peer-protocol.js";

const CHUNK = 1 << 20;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  if (dataDir === undefined) throw new Error("usage: peer.ts <dataDir>");
  const started = performance.now();
  const store = await EmbeddedStore.open({ dataDir });
  const startupMs = performance.now() - started;
  const send = (reply: PeerReply) => process.send?.(reply);
  send({ op: "ready", addresses: store.addresses(), startupMs });

  // a parent that dies (or a test that fails) must not leave nodes behind
  process.on("disconnect", () => process.exit(0));
  process.on("message", (request: PeerRequest) => {
    void handle(store, dataDir, request).then(send, (e: unknown) => {
      send({ op: "error", id: request.id, code: isStorageError(e) ? e.code : "UNEXPECTED", message: (e as Error).message });
    });
  });
}

async function handle(store: EmbeddedStore, dataDir: string, request: PeerRequest): Promise<PeerReply> {
  switch (request.op) {
    case "add": {
      const hash = createHash("sha256");
      const t0 = performance.now();
      const cid = await store.add(
        (async function* () {
          for await (const piece of pseudoRandom(request.size, request.seed)) {
            hash.update(piece);
            yield piece;
          }
        })(),
      );
      return { op: "added", id: request.id, cid: cid.toString(), ms: performance.now() - t0, sha256: hash.digest("hex") };
    }
    case "dial":
      await store.dial(request.address);
      return { op: "done", id: request.id };
    case "get": {
      const hash = createHash("sha256");
      const t0 = performance.now();
      const cpu0 = cpuMs();
      let reported = 0;
      const size = await store.getToFile(request.cid, request.path, {
        maxBytes: request.maxBytes,
        timeoutMs: request.timeoutMs,
        onProgress: (bytes) => {
          if (bytes - reported >= CHUNK) {
            reported = bytes;
            process.send?.({ op: "progress", id: request.id, bytes } satisfies PeerReply);
          }
        },
      });
      const ms = performance.now() - t0;
      const cpu = cpuMs() - cpu0;
      if (request.hash === true) {
        const { createReadStream } = await import("node:fs");
        for await (const piece of createReadStream(request.path)) hash.update(piece as Buffer);
      }
      return {
        op: "got",
        id: request.id,
        size,
        ms,
        cpuMs: cpu,
        sha256: request.hash === true ? hash.digest("hex") : undefined,
        peakRssMB: process.resourceUsage().maxRSS / 1024,
      };
    }
    case "corrupt": {
      // Write wrong bytes under the CID straight into the on-disk blockstore, as disk rot or a
      // malicious peer would, bypassing every check of the store API.
      const raw = new FsBlockstore(join(dataDir, "blocks"));
      await raw.open();
      await raw.put(parseCid(request.cid), Buffer.from("these are not the bytes you are looking for"));
      await raw.close();
      return { op: "done", id: request.id };
    }
    case "usage":
      return { op: "usage", id: request.id, cpuMs: cpuMs() };
    case "close":
      await store.close();
      setImmediate(() => process.exit(0));
      return { op: "done", id: request.id };
  }
}

// Only as a program: Hardhat's mocha loads every .ts under test/, and would otherwise start a node in ./test.
if (import.meta.filename === process.argv[1]) {
  main().catch((e: unknown) => {
    process.send?.({ op: "error", id: -1, code: isStorageError(e) ? e.code : "UNEXPECTED", message: (e as Error).message } satisfies PeerReply);
    process.exitCode = 1;
  });
}
