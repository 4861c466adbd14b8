import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { COMMAND_INDEX, loadCommands } from "../../../agents/cli/command-index.js";
import { main } from "../../../agents/cli/podl.js";
import type { CommandIO } from "../../../agents/cli/command.js";
import { account, startChain } from "../helpers/chain.js";

const run = promisify(execFile);

async function podl(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = { out: (l) => void out.push(l), err: (l) => void err.push(l), env };
  const code = await main(argv, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("agents/cli podl", function () {
  it("lists every subcommand in --help, and each answers --help with its options", async () => {
    const top = await podl(["--help"]);
    expect(top.code).to.equal(0);
    const commands = await loadCommands();
    // The index's names and summaries (what --help prints without loading a command) are the commands' own.
    expect(COMMAND_INDEX.map((e) => [e.name, e.summary])).to.deep.equal(commands.map((c) => [c.name, c.summary]));
    for (const command of commands) {
      expect(top.out).to.contain(`  ${command.name}`).and.contain(command.summary);
      const help = await podl([...command.name.split(" "), "--help"]);
      expect(help.code, command.name).to.equal(0);
      expect(help.out).to.contain(`Usage: podl ${command.name}`);
      for (const option of Object.keys(command.options)) expect(help.out).to.contain(`--${option}`);
    }
    expect((await podl(["help", "check"])).out).to.contain("--rpc-url");
  });

  it("exits 2 naming an unknown command or option", async () => {
    const unknown = await podl(["mine-bitcoin"]);
    expect(unknown.code).to.equal(2);
    expect(unknown.err).to.contain('unknown command "mine-bitcoin"');
    const option = await podl(["check", "--rpc-uri", "http://x"]);
    expect(option.code).to.equal(2);
    expect(option.err).to.contain("--rpc-uri");
  });

  describe("check", () => {
    let chain: Awaited<ReturnType<typeof startChain>>;
    before(async () => (chain = await startChain()));
    after(async () => chain.close());

    it("reports the chain and the key's address and balance, never the key", async () => {
      const key = account(9).privateKey;
      const result = await podl(["check", "--rpc-url", chain.url, "--log-level", "silent"], { PODL_PRIVATE_KEY: key });
      expect(result.code, result.err).to.equal(0);
      expect(result.out).to.contain("chain 31337").and.contain("acting after 0 confirmation(s)");
      expect(result.out).to.contain(account(9).address).and.contain("balance 10000.0 ETH");
      expect(result.out + result.err).to.not.contain(key.slice(2));
    });

    it("takes the agents' deployment flags and says when the deployment's contracts are not on this chain", async () => {
      const dir = mkdtempSync(join(tmpdir(), "podl-check-"));
      try {
        const missing = await podl(["check", "--rpc-url", chain.url, "--deployment", join(dir, "nowhere.json"), "--log-level", "silent"]);
        expect(missing.code).to.equal(1);
        expect(missing.err).to.contain(`cannot read deployment ${join(dir, "nowhere.json")}`).and.contain("[CONFIG_INVALID]");
        const book = join(dir, "other-chain.json");
        writeFileSync(book, JSON.stringify({ block: 0, contracts: { TaskMarket: account(8).address } }));
        const wrong = await podl(["check", "--rpc-url", chain.url, "--deployment", book, "--log-level", "silent"], { PODL_PRIVATE_KEY: account(9).privateKey });
        expect(wrong.code).to.equal(1);
        expect(wrong.err).to.contain(`market ${account(8).address} has no code on chain 31337: wrong --deployment, --market or --rpc-url?`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("fails with the configuration problem or the chain mismatch", async () => {
      const missing = await podl(["check"], { PODL_PRIVATE_KEY: account(9).privateKey });
      expect(missing.code).to.equal(1);
      expect(missing.err).to.contain("rpcUrl: Required").and.contain("[CONFIG_INVALID]");
      const mismatch = await podl(["check", "--rpc-url", chain.url, "--chain-id", "11155111", "--log-level", "silent"]);
      expect(mismatch.code).to.equal(1);
      expect(mismatch.err).to.contain("serves chain 31337, configured 11155111").and.contain("[CHAIN_MISMATCH]");
      // A web server that is not a JSON-RPC endpoint, and a port nobody listens on.
      const web = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>hello</html>"));
      await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
      const port = (web.address() as AddressInfo).port;
      const html = await podl(["check", "--rpc-url", `http://127.0.0.1:${port}/secret-api-key`, "--log-level", "silent"]);
      await new Promise<void>((resolve) => web.close(() => resolve()));
      expect(html.code).to.equal(1);
      expect(html.err).to.contain(`http://127.0.0.1:${port} does not answer JSON-RPC`).and.contain("[RPC_UNAVAILABLE]").and.not.contain("secret-api-key");
      const refused = await podl(["check", "--rpc-url", `http://127.0.0.1:${port}`, "--rpc-retries", "1", "--rpc-backoff-ms", "1", "--log-level", "silent"]);
      expect(refused.code).to.equal(1);
      expect(refused.err).to.contain(`http://127.0.0.1:${port} does not answer JSON-RPC eth_chainId`).and.contain("[RPC_UNAVAILABLE]");
    });
  });

  it("runs as a program through its bin: keystore create, then address", async function () {
    const dir = mkdtempSync(join(tmpdir(), "podl-cli-"));
    try {
      const bin = join(import.meta.dirname, "..", "..", "..", "bin", "podl");
      const env = { ...process.env, PODL_KEYSTORE_PASSWORD: "a long keystore password" };
      const file = join(dir, "key.json");
      const created = await run(bin, ["keystore", "create", file], { env });
      const address = /^(0x[0-9a-fA-F]{40}) written to /.exec(created.stdout)?.[1];
      expect(address, created.stdout).to.be.a("string");
      const shown = await run(bin, ["keystore", "address", file], { env });
      expect(shown.stdout.trim()).to.equal(address);
      const wrong = await run(bin, ["keystore", "address", file], { env: { ...env, PODL_KEYSTORE_PASSWORD: "nope" } }).catch(
        (e: { code: number; stderr: string }) => e,
      );
      expect(wrong).to.include({ code: 1 });
      expect((wrong as { stderr: string }).stderr).to.contain("[KEY_INVALID]");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
