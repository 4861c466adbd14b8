import { readFileSync } from "node:fs";
import { expect } from "chai";
import { account, startChain } from "../helpers/chain.js";
import { podl } from "../helpers/podl-io.js";

describe("agents/cli podl --version and --json", function () {
  it("--version prints the package's name and version", async () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    const r = await podl(["--version"]);
    expect(r.code).to.equal(0);
    expect(r.out).to.equal(`podl ${pkg.version}`);
  });

  it("check --json prints one object with the chain, the key and its balance in ETH", async () => {
    const chain = await startChain();
    try {
      const r = await podl(["check", "--rpc-url", chain.url, "--log-level", "silent", "--json"], { PODL_PRIVATE_KEY: account(9).privateKey });
      expect(r.code, r.err).to.equal(0);
      const report = JSON.parse(r.out);
      expect(report).to.include({ chainId: "31337", ok: true, confirmations: 0 });
      expect(report.key).to.deep.equal({ address: account(9).address, source: "PODL_PRIVATE_KEY", balanceEth: "10000.0" });
      const keyless = await podl(["check", "--rpc-url", chain.url, "--log-level", "silent", "--json"], {});
      expect(keyless.code).to.equal(1);
      expect(JSON.parse(keyless.out)).to.include({ ok: false }).and.have.property("problem").that.contains("key:");
    } finally {
      await chain.close();
    }
  });
});
