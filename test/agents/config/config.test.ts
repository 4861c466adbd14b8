import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { expect } from "chai";
import { Wallet } from "ethers";
import { isAgentError, type AgentErrorCode } from "../../../agents/config/errors.js";
import { KEYSTORE_PASSWORD_ENV, PRIVATE_KEY_ENV, loadWallet, writeKeystore } from "../../../agents/config/keys.js";
import { envName, flagName, loadConfig } from "../../../agents/config/load.js";
import { DEFAULT_DATA_DIR, agentConfigSchema } from "../../../agents/config/schema.js";
import { captureLogger } from "../helpers/log.js";

function failure(fn: () => unknown, code: AgentErrorCode): Error {
  try {
    fn();
  } catch (e) {
    expect(isAgentError(e, code), String(e)).to.equal(true);
    return e as Error;
  }
  return expect.fail(`expected ${code}`);
}

async function asyncFailure(p: Promise<unknown>, code: AgentErrorCode): Promise<Error> {
  const e = await p.then(
    () => expect.fail(`expected ${code}`),
    (x: unknown) => x,
  );
  expect(isAgentError(e, code), String(e)).to.equal(true);
  return e as Error;
}

describe("agents/config", function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "podl-config-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe("loadConfig", () => {
    it("names a missing key and every place it can be set", () => {
      const e = failure(() => loadConfig(agentConfigSchema, { env: {} }), "CONFIG_INVALID");
      expect(e.message).to.contain('rpcUrl: Required (not set: use --rpc-url, PODL_RPC_URL or "rpcUrl" in a config file)');
    });

    it("names an invalid value and the source it came from", () => {
      const env = { PODL_RPC_URL: "http://127.0.0.1:8545", PODL_CONFIRMATIONS: "-1" };
      const e = failure(() => loadConfig(agentConfigSchema, { env, flags: { gasHeadroomPercent: "lots" } }), "CONFIG_INVALID");
      expect(e.message).to.contain("confirmations: Number must be greater than or equal to 0 (PODL_CONFIRMATIONS)");
      expect(e.message).to.contain("gasHeadroomPercent: Expected number, received nan (--gas-headroom-percent)");
      failure(() => loadConfig(agentConfigSchema, { env: { PODL_RPC_URL: "ws://127.0.0.1:8546" } }), "CONFIG_INVALID");
    });

    it("keeps state in the platform's data folder by default, never relative to the current directory", () => {
      const config = loadConfig(agentConfigSchema, { env: { PODL_RPC_URL: "http://127.0.0.1:8545" } });
      expect(config.dataDir).to.equal(DEFAULT_DATA_DIR);
      expect(isAbsolute(config.dataDir), config.dataDir).to.equal(true);
      expect(config.dataDir.endsWith("podl"), config.dataDir).to.equal(true);
    });

    it("takes flags over environment over file over defaults", () => {
      const file = join(dir, "podl.json");
      writeFileSync(file, JSON.stringify({ rpcUrl: "http://file:1", confirmations: 5, pollIntervalMs: 300, dataDir: "/file" }));
      const config = loadConfig(agentConfigSchema, {
        file,
        env: { PODL_RPC_URL: "http://env:2", PODL_CONFIRMATIONS: "4", PODL_POLL_INTERVAL_MS: "" },
        flags: { rpcUrl: "http://flag:3" },
      });
      expect(config.rpcUrl).to.equal("http://flag:3");
      expect(config.confirmations).to.equal(4);
      expect(config.pollIntervalMs).to.equal(300); // an empty variable does not count as set
      expect(config.dataDir).to.equal("/file");
      expect(config.gasHeadroomPercent).to.equal(20);
    });

    it("rejects unknown keys and unreadable files, naming them", () => {
      const file = join(dir, "podl.json");
      writeFileSync(file, JSON.stringify({ rpcUrl: "http://x:1", confirmation: 2 }));
      expect(failure(() => loadConfig(agentConfigSchema, { file }), "CONFIG_INVALID").message).to.contain("unknown key(s) confirmation");
      writeFileSync(file, "{ not json");
      expect(failure(() => loadConfig(agentConfigSchema, { file }), "CONFIG_INVALID").message).to.contain(`${file} is not valid JSON`);
      expect(failure(() => loadConfig(agentConfigSchema, { file: join(dir, "absent.json") }), "CONFIG_INVALID").message).to.contain("cannot be read");
    });

    it("derives flag and variable names from the keys", () => {
      expect([flagName("gasHeadroomPercent"), envName("gasHeadroomPercent")]).to.deep.equal(["--gas-headroom-percent", "PODL_GAS_HEADROOM_PERCENT"]);
    });
  });

  describe("keys", () => {
    const password = "correct horse battery staple";

    it("round-trips a key through an encrypted keystore", async () => {
      const wallet = new Wallet(Wallet.createRandom().privateKey);
      const path = join(dir, "key.json");
      await writeKeystore(path, wallet, password, { scryptN: 1 << 10 });
      const loaded = await loadWallet({ keystore: path, env: { [KEYSTORE_PASSWORD_ENV]: password } });
      expect(loaded.address).to.equal(wallet.address);
      expect(loaded.privateKey).to.equal(wallet.privateKey);
      const passwordFile = join(dir, "password");
      writeFileSync(passwordFile, `${password}\n`);
      expect((await loadWallet({ keystore: path, keystorePasswordFile: passwordFile, env: {} })).address).to.equal(wallet.address);
      await asyncFailure(writeKeystore(path, wallet, password), "KEY_INVALID"); // never overwrites
    });

    it("fails clearly, without echoing secrets, on a wrong password, a bad key or no key", async () => {
      const wallet = new Wallet(Wallet.createRandom().privateKey);
      const path = join(dir, "key.json");
      await writeKeystore(path, wallet, password, { scryptN: 1 << 10 });
      const wrong = await asyncFailure(loadWallet({ keystore: path, env: { [KEYSTORE_PASSWORD_ENV]: "hunter2" } }), "KEY_INVALID");
      expect(wrong.message).to.contain("wrong password").and.not.contain("hunter2");
      await asyncFailure(loadWallet({ keystore: path, env: {} }), "KEY_MISSING");
      const bad = await asyncFailure(loadWallet({ env: { [PRIVATE_KEY_ENV]: "0x1234deadbeef" } }), "KEY_INVALID");
      expect(bad.message).to.not.contain("deadbeef");
      const none = await asyncFailure(loadWallet({ env: {} }), "KEY_MISSING");
      expect(none.message).to.contain(PRIVATE_KEY_ENV).and.contain("--keystore");
      expect((await loadWallet({ env: { [PRIVATE_KEY_ENV]: wallet.privateKey.slice(2) } })).address).to.equal(wallet.address);
    });
  });

  describe("logger", () => {
    it("never writes keys, passwords or salts, and writes amounts as exact decimal strings", () => {
      const { log, lines, text } = captureLogger("miner-1");
      const secret = Wallet.createRandom().privateKey;
      log.child({ taskId: "7" }).info({ privateKey: secret, tx: { salt: "0x5a17", raw: "0xf86c" }, password: "pw-123", reward: 10n ** 30n }, "committed");
      expect(text()).to.not.contain(secret.slice(2)).and.not.contain("0x5a17").and.not.contain("pw-123").and.not.contain("0xf86c");
      expect(lines()[0]).to.include({ agent: "miner-1", taskId: "7", msg: "committed", reward: (10n ** 30n).toString() });
    });
  });
});
