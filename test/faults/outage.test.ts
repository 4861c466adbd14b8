import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { connectChain } from "../../agents/chain/index.js";
import { openRuntime } from "../../agents/core/runtime.js";
import { isAgentError } from "../../agents/config/errors.js";
import { loadConfig } from "../../agents/config/load.js";
import { agentConfigSchema } from "../../agents/config/schema.js";
import { FAST_RETRY, account, startChain } from "../agents/helpers/chain.js";
import { captureLogger } from "../agents/helpers/log.js";
import { FaultProxy } from "./fault-proxy.js";

describe("faults: RPC outages", function () {
  let chain: Awaited<ReturnType<typeof startChain>>;
  let dir: string;
  before(async () => {
    chain = await startChain();
    dir = mkdtempSync(join(tmpdir(), "podl-outage-"));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await chain.close();
  });

  /** Lifts the proxy's outage once it has refused `n` requests (the agent kept trying). */
  async function liftAfter(proxy: FaultProxy, n: number): Promise<void> {
    while (proxy.counters.refusedInOutage < n) await new Promise((r) => setTimeout(r, 5));
    proxy.setOutage(false);
  }

  it("an agent starting during an outage waits for the endpoint instead of exiting, and says so plainly", async () => {
    const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: {} });
    proxy.setOutage(true);
    const env = { PODL_RPC_URL: proxy.url, PODL_DATA_DIR: dir, PODL_PRIVATE_KEY: account(13).privateKey, PODL_RPC_RETRIES: "2", PODL_RPC_BACKOFF_MS: "5", PODL_RPC_BACKOFF_MAX_MS: "20" };
    const config = loadConfig(agentConfigSchema, { env });
    const { log, lines } = captureLogger("miner");
    try {
      // Three spent retry policies (3 attempts each) before the node comes back.
      const [rt] = await Promise.all([openRuntime({ agent: "miner", config, env, log }), liftAfter(proxy, 9)]);
      expect(rt.chain.chainId).to.equal(31337n);
      rt.close();
      const waiting = lines().filter((l) => typeof l.msg === "string" && l.msg.includes("does not answer eth_chainId"));
      expect(waiting.length).to.be.at.least(2);
      expect(waiting[0]!.msg).to.match(/^http:\/\/127\.0\.0\.1:\d+ does not answer eth_chainId \(.+\); still waiting after \d+\.\d s, up to 300 s$/);
      expect(lines().some((l) => typeof l.msg === "string" && /answers eth_chainId after \d+\.\d s$/.test(l.msg))).to.equal(true);
    } finally {
      await proxy.close();
    }
  });

  it("gives up with RPC_UNAVAILABLE, naming the endpoint and the wait, once the start-up wait is spent", async () => {
    const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: {} });
    proxy.setOutage(true);
    try {
      const failure = await connectChain({ rpcUrl: proxy.url, pollIntervalMs: 20, retry: { retries: 1, baseMs: 1, maxMs: 5 }, startupWaitMs: 0 }).catch((e: unknown) => e);
      expect(isAgentError(failure, "RPC_UNAVAILABLE")).to.equal(true);
      expect((failure as Error).message).to.match(/^http:\/\/127\.0\.0\.1:\d+ does not answer JSON-RPC eth_chainId/);
    } finally {
      await proxy.close();
    }
  });

  it("an outage longer than the retries is reported once, the next answer says how long it lasted, and calls go on", async () => {
    const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: {} });
    const { log, lines } = captureLogger();
    const { provider, health } = await connectChain({ rpcUrl: proxy.url, pollIntervalMs: 20, retry: FAST_RETRY, log });
    try {
      const before = await provider.getBlockNumber();
      proxy.setOutage(true);
      for (let i = 0; i < 3; i++) {
        const failure = await provider.getBlockNumber().catch((e: unknown) => e);
        expect(isAgentError(failure, "RPC_UNAVAILABLE")).to.equal(true);
      }
      expect(health.downSince).to.be.a("number");
      proxy.setOutage(false);
      expect(await provider.getBlockNumber()).to.equal(before);
      expect(health.downSince).to.equal(undefined);
      const unreachable = lines().filter((l) => typeof l.msg === "string" && l.msg.startsWith("RPC endpoint unreachable"));
      expect(unreachable).to.have.length(1);
      const back = lines().filter((l) => typeof l.msg === "string" && l.msg.startsWith("RPC endpoint back after an outage of"));
      expect(back).to.have.length(1);
      expect(back[0]!.outageMs).to.be.a("number");
      expect(proxy.counters.refusedInOutage).to.equal(3 * (FAST_RETRY.retries + 1));
    } finally {
      provider.destroy();
      await proxy.close();
    }
  });
});
