import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsBlockstore } from "blockstore-fs";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { parseCid, verifyBlock } from "../../../agents/storage/cid.js";
import { UnixfsContent } from "../../../agents/storage/content-store.js";
import { EmbeddedStore } from "../../../agents/storage/embedded.js";
import { isStorageError } from "../../../agents/storage/errors.js";
import type { StorageErrorCode } from "../../../agents/storage/errors.js";
import { pseudoRandom, pseudoRandomBytes } from "./helpers/data.js";

const MiB = 1 << 20;
const isRoot = process.getuid?.() === 0;

async function expectCode(promise: Promise<unknown>, code: StorageErrorCode): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    if (!isStorageError(e)) throw e;
    expect(e.code, e.message).to.equal(code);
    return e;
  }
  throw new Error(`expected ${code}`);
}

function mountTmpfs(dir: string, size: string): void {
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
}

describe("storage: CIDs and bad input", function () {
  it("rejects malformed CID strings with CID_INVALID", async function () {
    for (const bad of ["", "notacid", "bafy", "Qm123", "x".repeat(500), " ", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzd!"]) {
      await expectCode(Promise.resolve().then(() => parseCid(bad)), "CID_INVALID");
    }
    await expectCode(Promise.resolve().then(() => parseCid(42)), "CID_INVALID");
  });

  it("rejects CIDs with codecs or hashes a store does not serve", async function () {
    const dagCbor = CID.create(1, 0x71, await sha256.digest(Buffer.from("x")));
    await expectCode(Promise.resolve().then(() => parseCid(dagCbor.toString())), "CID_INVALID");
  });

  it("accepts raw and UnixFS CIDs, v0 and v1", function () {
    expect(parseCid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy").code).to.equal(raw.code);
    expect(parseCid("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n").version).to.equal(0);
  });

  it("verifies a block against its CID", async function () {
    const bytes = Buffer.from("block");
    const cid = CID.create(1, raw.code, await sha256.digest(bytes));
    verifyBlock(cid, bytes);
    await expectCode(Promise.resolve().then(() => verifyBlock(cid, Buffer.from("bloCk"))), "CID_MISMATCH");
  });

  describe("with one embedded node", function () {
    this.timeout(60_000);
    let root: string;
    let store: EmbeddedStore;

    before(async function () {
      root = await mkdtemp(join(tmpdir(), "podl-storage-faults-"));
      store = await EmbeddedStore.open({ dataDir: join(root, "node") });
    });
    after(async function () {
      await store?.close();
      await rm(root, { recursive: true, force: true });
    });

    it("gives a one-chunk file the raw CID of its bytes, as any IPFS implementation would", async function () {
      const bytes = await pseudoRandomBytes(300_000, 1);
      const cid = await store.add(bytes);
      expect(cid.equals(CID.create(1, raw.code, await sha256.digest(bytes)))).to.equal(true);
      expect(Buffer.from(await store.get(cid)).equals(bytes)).to.equal(true);
    });

    it("chunks larger files into 1 MiB raw leaves under one dag-pb root, the same CID for a stream and for bytes", async function () {
      const bytes = await pseudoRandomBytes(5 * MiB + 1, 2);
      const fromBytes = await store.add(bytes);
      const fromStream = await store.add(pseudoRandom(5 * MiB + 1, 2));
      expect(fromStream.toString()).to.equal(fromBytes.toString());
      expect(fromBytes.version).to.equal(1);
      expect(fromBytes.code).to.equal(0x70);
      const leaf = CID.create(1, raw.code, await sha256.digest(bytes.subarray(0, MiB)));
      expect(await store.has(leaf)).to.equal(true);
    });

    it("checks a stream against maxBytes as it goes, stopping at the cap", async function () {
      const cid = await store.add(pseudoRandom(4 * MiB, 3));
      let seen = 0;
      await expectCode(
        (async () => {
          for await (const piece of store.stream(cid, { maxBytes: 2 * MiB })) seen += piece.byteLength;
        })(),
        "TOO_LARGE",
      );
      expect(seen).to.equal(0);
    });
  });
});

describe("storage: data directory faults", function () {
  this.timeout(60_000);
  let root: string;

  beforeEach(async function () {
    root = await mkdtemp(join(tmpdir(), "podl-storage-disk-"));
  });
  afterEach(async function () {
    if (isRoot) execFileSync("sh", ["-c", `umount -l ${join(root, "node")} 2>/dev/null || true`]);
    await chmod(join(root, "node"), 0o755).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it("keeps the node's peer id across restarts (task specs carry it in the publisher's address)", async function () {
    const dataDir = join(root, "node");
    const first = await EmbeddedStore.open({ dataDir });
    const id = first.peerId();
    await first.close();
    const again = await EmbeddedStore.open({ dataDir });
    try {
      expect(again.peerId()).to.equal(id);
      expect(again.addresses().every((a) => a.endsWith(`/p2p/${id}`))).to.equal(true);
    } finally {
      await again.close();
    }
  });

  it("fails adds with STORE_READONLY on a read-only data directory, and still serves what it holds", async function () {
    const dataDir = join(root, "node");
    await mkdir(dataDir);
    if (isRoot) mountTmpfs(dataDir, "64m");
    const first = await EmbeddedStore.open({ dataDir });
    const kept = await first.add(await pseudoRandomBytes(2 * MiB, 4));
    await first.close();
    // root ignores permission bits, so for root the file system itself goes read-only
    if (isRoot) execFileSync("mount", ["-o", "remount,ro", dataDir]);
    else execFileSync("chmod", ["-R", "a-w", dataDir]);

    const store = await EmbeddedStore.open({ dataDir });
    try {
      const error = await expectCode(store.add(await pseudoRandomBytes(2 * MiB, 5)), "STORE_READONLY");
      expect(error.message).to.contain("read-only");
      expect((await store.get(kept)).byteLength).to.equal(2 * MiB);
    } finally {
      await store.close();
    }
  });

  it("fails adds with STORE_FULL when the data directory's disk fills up", async function () {
    if (isRoot) {
      const dataDir = join(root, "node");
      await mkdir(dataDir);
      mountTmpfs(dataDir, "3m");
      const store = await EmbeddedStore.open({ dataDir });
      try {
        const error = await expectCode(store.add(pseudoRandom(8 * MiB, 6)), "STORE_FULL");
        expect(error.message).to.contain("disk is full");
      } finally {
        await store.close();
      }
      return;
    }
    // Without root we cannot mount a small file system. Test double at a boundary we don't own: the
    // file system, as a blockstore-fs whose writes fail the way Node reports a full disk.
    const disk = new FsBlockstore(join(root, "node"));
    await disk.open();
    const fullDisk = {
      get: disk.get.bind(disk),
      has: disk.has.bind(disk),
      put: async () => {
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      },
    };
    const error = await expectCode(new UnixfsContent(fullDisk).add(pseudoRandom(2 * MiB, 6)), "STORE_FULL");
    expect(error.message).to.contain("disk is full");
    expect(await readdir(join(root, "node"))).to.be.an("array");
  });
});
