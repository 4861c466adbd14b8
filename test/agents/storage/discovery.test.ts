import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedStore } from "../../../agents/storage/index.js";

// Issue 11: agents find each other without hand-wired addresses. Nodes that know only a bootstrap
// node (the address book's) find the provider of a root through the DHT and fetch it from there.
describe("storage: embedded nodes find each other through a bootstrap node and the DHT", function () {
  this.timeout(90_000);
  let root: string;
  const open: EmbeddedStore[] = [];
  let bootstrap: EmbeddedStore;

  async function node(name: string, listen?: string): Promise<EmbeddedStore> {
    const store = await EmbeddedStore.open({ dataDir: join(root, name), bootstrap: bootstrap.addresses(), ...(listen === undefined ? {} : { listen: [listen] }) });
    open.push(store);
    return store;
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "podl-discovery-test-"));
    bootstrap = await EmbeddedStore.open({ dataDir: join(root, "bootstrap") });
    open.push(bootstrap);
  });
  after(async () => {
    await Promise.all(open.map((s) => s.close()));
    await rm(root, { recursive: true, force: true });
  });

  it("fetches a root from a node it was never given, which announced it", async () => {
    const provider = await node("provider");
    const fetcher = await node("fetcher");
    const bytes = randomBytes(600_000);
    const cid = await provider.add(bytes);
    expect(await provider.announce(cid)).to.be.greaterThan(0);

    expect(Buffer.from(await fetcher.get(cid, { timeoutMs: 30_000 })).equals(bytes)).to.equal(true);
    // the bootstrap node only introduced them: it never held the bytes
    expect(await bootstrap.has(cid)).to.equal(false);
  });

  it("finds a node that restarted on a new port (it announces its roots again)", async () => {
    const first = await node("restarting");
    const bytes = randomBytes(300_000);
    const cid = await first.add(bytes);
    expect(await first.announce(cid)).to.be.greaterThan(0);
    const oldAddress = first.addresses()[0]!;
    await first.close();

    const again = await node("restarting");
    expect(again.peerId()).to.equal(first.peerId());
    expect(again.addresses()[0]).to.not.equal(oldAddress);
    const fetcher = await node("fetcher-2");
    expect(Buffer.from(await fetcher.get(cid, { timeoutMs: 30_000 })).equals(bytes)).to.equal(true);
  });

  it("on a LAN, finds a node by mDNS with no bootstrap node at all", async () => {
    // listening beyond loopback turns mDNS on (multicast on this host's interfaces)
    const lan = ["/ip4/0.0.0.0/tcp/0"];
    const provider = await EmbeddedStore.open({ dataDir: join(root, "lan-provider"), listen: lan });
    open.push(provider);
    const fetcher = await EmbeddedStore.open({ dataDir: join(root, "lan-fetcher"), listen: lan });
    open.push(fetcher);
    const bytes = randomBytes(200_000);
    const cid = await provider.add(bytes);
    expect(Buffer.from(await fetcher.get(cid, { timeoutMs: 30_000 })).equals(bytes)).to.equal(true);
  });

  it("starts while its bootstrap node is down, and joins through it once it is up", async () => {
    const late = await EmbeddedStore.open({ dataDir: join(root, "late-bootstrap") });
    const address = late.addresses()[0]!;
    await late.close();
    const options = (name: string) => ({ dataDir: join(root, name), bootstrap: [address], redialIntervalMs: 200 });
    const provider = await EmbeddedStore.open(options("late-provider"));
    open.push(provider);
    const fetcher = await EmbeddedStore.open(options("late-fetcher"));
    open.push(fetcher);
    const bytes = randomBytes(100_000);
    const cid = await provider.add(bytes);

    open.push(await EmbeddedStore.open({ dataDir: join(root, "late-bootstrap"), listen: [address.slice(0, address.indexOf("/p2p/"))] }));
    expect(await provider.announce(cid)).to.be.greaterThan(0);
    expect(Buffer.from(await fetcher.get(cid, { timeoutMs: 30_000 })).equals(bytes)).to.equal(true);
  });
});
