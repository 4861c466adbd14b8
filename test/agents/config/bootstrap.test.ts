import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { addressBook } from "../../../agents/config/deployment.js";
import { isAgentError } from "../../../agents/config/errors.js";
import { nameBootstrapPeers, parseBootstrap } from "../../../devnet/bootstrap.js";

const MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const PEER = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWSXHUMfM9xpRZBfqedy3fpG4g7jcUJoxNp413b85yGqm6";

describe("address book: bootstrap peers", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "podl-bootstrap-test-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function book(json: unknown): string {
    const file = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(json));
    return file;
  }

  it("reads the bootstrap list, and none from an address book without one", () => {
    expect(addressBook({ deployment: book({ contracts: { TaskMarket: MARKET }, bootstrap: [PEER] }) }).bootstrap).to.deep.equal([PEER]);
    expect(addressBook({ deployment: book({ contracts: { TaskMarket: MARKET } }) }).bootstrap).to.deep.equal([]);
    expect(addressBook({ market: MARKET }).bootstrap).to.deep.equal([]);
  });

  it("refuses an entry that is not a multiaddr, naming the field", () => {
    const file = book({ contracts: { TaskMarket: MARKET }, bootstrap: ["10.0.0.5:4001"] });
    let error: unknown;
    try {
      addressBook({ deployment: file });
    } catch (e) {
      error = e;
    }
    expect(isAgentError(error, "CONFIG_INVALID")).to.equal(true);
    expect((error as Error).message).to.contain("bootstrap.0: must be a multiaddr");
  });

  it("PODL_IPFS_BOOTSTRAP: comma-separated multiaddrs with a peer id, anything else refused with an example", () => {
    expect(parseBootstrap(undefined)).to.deep.equal([]);
    expect(parseBootstrap(` ${PEER} ,`)).to.deep.equal([PEER]);
    expect(() => parseBootstrap("/ip4/10.0.0.5/tcp/4001")).to.throw(/PODL_IPFS_BOOTSTRAP: "\/ip4\/10.0.0.5\/tcp\/4001" is not a multiaddr with a peer id, e.g. \/ip4\//);
    expect(() => parseBootstrap("10.0.0.5:4001")).to.throw(/is not a multiaddr with a peer id/);
  });

  it("the local demo names its bootstrap node in the address book the agents read", async () => {
    const file = book({ network: "demo", contracts: { TaskMarket: MARKET } });
    await nameBootstrapPeers(file, [PEER]);
    expect(addressBook({ deployment: file })).to.include({ market: MARKET }).and.to.have.deep.property("bootstrap", [PEER]);
  });
});
