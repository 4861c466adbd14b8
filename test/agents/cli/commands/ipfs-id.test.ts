import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../../agents/cli/podl.js";
import { EmbeddedStore } from "../../../../agents/storage/index.js";
import { freePort } from "../../../../devnet/node.js";

describe("storage: podl ipfs id (the address to name in PODL_IPFS_BOOTSTRAP)", function () {
  this.timeout(60_000);
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "podl-ipfs-id-"));
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it("prints the multiaddr, with peer id, that a node later started on that folder and port has", async () => {
    const dir = join(root, "ipfs-publisher");
    const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`;
    const out: string[] = [];
    const code = await main(["ipfs", "id", "--ipfs-dir", dir, "--ipfs-listen", listen], { out: (l) => out.push(l), err: () => undefined, env: {} });
    expect(code).to.equal(0);
    const node = await EmbeddedStore.open({ dataDir: dir, listen: [listen] });
    try {
      expect(out).to.deep.equal([node.addresses().join(",")]);
      expect(out[0]).to.equal(`${listen}/p2p/${node.peerId()}`);
    } finally {
      await node.close();
    }
  });
});
