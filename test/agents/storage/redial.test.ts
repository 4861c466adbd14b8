import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedStore, isStorageError } from "../../../agents/storage/index.js";

// Demo findings (21:56, 22:22): an agent started before a peer's node listened failed its one dial
// at start and then timed out fetching from that peer. The store now keeps dialled addresses and
// dials them again while they are not connected.
describe("storage: an embedded node reaches a peer that came up after its dial failed", function () {
  this.timeout(60_000);
  let root: string;
  const open: EmbeddedStore[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "podl-redial-test-"));
  });
  after(async () => {
    await Promise.all(open.map((s) => s.close()));
    await rm(root, { recursive: true, force: true });
  });

  /** A serving node with `bytes`, stopped again; returns its address (fixed port, same peer id) and the CID. */
  async function servingNodeDown(name: string, bytes: Uint8Array): Promise<{ address: string; cid: string; restart: () => Promise<void> }> {
    const dataDir = join(root, name);
    const first = await EmbeddedStore.open({ dataDir });
    const cid = (await first.add(bytes)).toString();
    const address = first.addresses()[0]!;
    await first.close();
    const listen = address.slice(0, address.indexOf("/p2p/"));
    return { address, cid, restart: async () => void open.push(await EmbeddedStore.open({ dataDir, listen: [listen] })) };
  }

  async function dialFails(store: EmbeddedStore, address: string): Promise<void> {
    const e = await store.dial(address).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isStorageError(e, "STORE_UNAVAILABLE"), String(e)).to.equal(true);
  }

  it("dials the peer again before a fetch", async () => {
    const bytes = randomBytes(300_000);
    const server = await servingNodeDown("server-1", bytes);
    const client = await EmbeddedStore.open({ dataDir: join(root, "client-1"), redialIntervalMs: 3_600_000 });
    open.push(client);
    await dialFails(client, server.address);
    await server.restart();
    expect(Buffer.from(await client.get(server.cid, { timeoutMs: 20_000 })).equals(bytes)).to.equal(true);
  });

  it("dials it again every redialIntervalMs, so a fetch already waiting gets its blocks", async () => {
    const bytes = randomBytes(300_000);
    const server = await servingNodeDown("server-2", bytes);
    const client = await EmbeddedStore.open({ dataDir: join(root, "client-2"), redialIntervalMs: 200 });
    open.push(client);
    await dialFails(client, server.address);
    const fetching = client.get(server.cid, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 500));
    await server.restart();
    expect(Buffer.from(await fetching).equals(bytes)).to.equal(true);
  });
});
