// No Kubo daemon can be installed on this machine (no internet besides the npm registry, and the npm
// `kubo` package downloads its binary at install time), and the issue rules out faking one. These tests
// cover what needs no daemon: the real kubo-rpc-client against endpoints where no Kubo answers.
// Block verification on reads is UnixfsContent's, shared with the embedded node and tested there.
import { expect } from "chai";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { KuboStore } from "../../../agents/storage/kubo.js";
import { openContentStore } from "../../../agents/storage/index.js";
import { isStorageError } from "../../../agents/storage/errors.js";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function storageCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    if (isStorageError(e)) return e.code;
    throw e;
  }
  throw new Error("expected a StorageError");
}

describe("storage: Kubo RPC backend without a daemon", function () {
  this.timeout(30_000);

  it("fails to open with STORE_UNAVAILABLE when nothing answers at --ipfs-api, naming the URL", async function () {
    const url = `http://127.0.0.1:${await freePort()}`;
    try {
      await openContentStore({ dataDir: "/nonexistent-never-used", ipfsApi: url });
      expect.fail("opened a store with no Kubo behind it");
    } catch (e) {
      if (!isStorageError(e)) throw e;
      expect(e.code).to.equal("STORE_UNAVAILABLE");
      expect(e.message).to.contain(url);
    }
  });

  it("answers a malformed CID with CID_INVALID before any request", async function () {
    const store = new KuboStore(`http://127.0.0.1:${await freePort()}`);
    expect(await storageCode(store.get("notacid"))).to.equal("CID_INVALID");
    expect(await storageCode(store.pin("bafy"))).to.equal("CID_INVALID");
  });

  it("reports a read, an add and a pin with no daemon as STORE_UNAVAILABLE, not as missing content", async function () {
    const store = new KuboStore(`http://127.0.0.1:${await freePort()}`);
    const cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    expect(await storageCode(store.get(cid, { timeoutMs: 5_000 }))).to.equal("STORE_UNAVAILABLE");
    expect(await storageCode(store.add(new Uint8Array(10)))).to.equal("STORE_UNAVAILABLE");
    expect(await storageCode(store.pin(cid, { timeoutMs: 5_000 }))).to.equal("STORE_UNAVAILABLE");
  });
});
