import { expect } from "chai";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { PeerProcess } from "./helpers/peer-protocol.js";
import type { PeerReply } from "./helpers/peer-protocol.js";

type Added = Extract<PeerReply, { op: "added" }>;
type Got = Extract<PeerReply, { op: "got" }>;
const MiB = 1 << 20;

async function rejection(promise: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await promise;
  } catch (e) {
    return e as Error & { code: string };
  }
  throw new Error("expected the request to fail");
}

describe("storage: two embedded nodes in separate processes (loopback)", function () {
  this.timeout(120_000);
  let root: string;
  let server: PeerProcess;
  let client: PeerProcess;
  let file: Added;

  before(async function () {
    root = await mkdtemp(join(tmpdir(), "podl-storage-test-"));
    [server, client] = await Promise.all([PeerProcess.start(join(root, "server")), PeerProcess.start(join(root, "client"))]);
    file = await server.request<Added>({ op: "add", size: 8 * MiB + 12345, seed: 7 });
    await client.request({ op: "dial", address: server.addresses[0]! });
  });

  after(async function () {
    await Promise.all([server?.close(), client?.close()]);
    await rm(root, { recursive: true, force: true });
  });

  it("exchanges a multi-megabyte file by bitswap, byte for byte", async function () {
    const path = join(root, "fetched.bin");
    const got = await client.request<Got>({ op: "get", cid: file.cid, path, timeoutMs: 20_000, hash: true });
    expect(got.size).to.equal(8 * MiB + 12345);
    expect(got.sha256).to.equal(file.sha256);
    expect(existsSync(`${path}.partial`)).to.equal(false);
  });

  it("fails a CID that no peer has with NOT_FOUND after timeoutMs instead of hanging", async function () {
    const missing = CID.create(1, raw.code, await sha256.digest(Buffer.from("nobody stores this")));
    const path = join(root, "missing.bin");
    const error = await rejection(client.request({ op: "get", cid: missing.toString(), path, timeoutMs: 1_500 }));
    expect(error.code).to.equal("NOT_FOUND");
    expect(error.message).to.contain("within 1500 ms");
    expect(existsSync(path) || existsSync(`${path}.partial`)).to.equal(false);
  });

  it("stops content over maxBytes with TOO_LARGE and writes nothing", async function () {
    const fresh = await server.request<Added>({ op: "add", size: 3 * MiB, seed: 8 });
    const path = join(root, "too-large.bin");
    const error = await rejection(client.request({ op: "get", cid: fresh.cid, path, maxBytes: MiB, timeoutMs: 20_000 }));
    expect(error.code).to.equal("TOO_LARGE");
    expect(error.message).to.contain(`holds ${3 * MiB} bytes, over the limit of ${MiB}`);
    expect(existsSync(path) || existsSync(`${path}.partial`)).to.equal(false);
  });

  it("rejects a block whose bytes do not match its CID, on the serving node and on the fetching one", async function () {
    // one chunk, so the file's CID is the raw leaf's own CID
    const leaf = await server.request<Added>({ op: "add", size: 200_000, seed: 9 });
    expect(CID.parse(leaf.cid).code).to.equal(raw.code);
    await server.request({ op: "corrupt", cid: leaf.cid });

    const local = await rejection(server.request({ op: "get", cid: leaf.cid, path: join(root, "local.bin"), timeoutMs: 5_000 }));
    expect(local.code).to.equal("CID_MISMATCH");

    // bitswap names a received block by the hash of its bytes, so the corrupt copy never answers the want
    const path = join(root, "remote.bin");
    const remote = await rejection(client.request({ op: "get", cid: leaf.cid, path, timeoutMs: 2_000 }));
    expect(remote.code).to.equal("NOT_FOUND");
    expect(existsSync(path) || existsSync(`${path}.partial`)).to.equal(false);
  });

  it("reports INCOMPLETE, never a short file, when the serving peer dies mid-transfer", async function () {
    const dying = await PeerProcess.start(join(root, "dying"));
    const victim = await PeerProcess.start(join(root, "victim"));
    try {
      const big = await dying.request<Added>({ op: "add", size: 32 * MiB, seed: 10 });
      await victim.request({ op: "dial", address: dying.addresses[0]! });
      const path = join(root, "short.bin");
      let killedAt = 0;
      const error = await rejection(
        victim.request({ op: "get", cid: big.cid, path, timeoutMs: 5_000 }, (bytes) => {
          if (killedAt === 0) {
            killedAt = bytes;
            dying.kill();
          }
        }),
      );
      expect(killedAt, `no progress before: ${error.message}`).to.be.greaterThan(0);
      expect(error.code).to.equal("INCOMPLETE");
      expect(existsSync(path) || existsSync(`${path}.partial`)).to.equal(false);
    } finally {
      dying.kill();
      await victim.close();
    }
  });

  it("gives the same CID for the same bytes on both nodes", async function () {
    const again = await client.request<Added>({ op: "add", size: 8 * MiB + 12345, seed: 7 });
    expect(again.cid).to.equal(file.cid);
    expect(again.sha256).to.equal(file.sha256);
  });
});
