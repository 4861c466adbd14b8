import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseEther } from "ethers";
import { connectChain, type RetryPolicy } from "../../agents/chain/index.js";
import { chainClock } from "../../agents/core/clock.js";
import { openRuntime, type AgentRuntime } from "../../agents/core/runtime.js";
import { loadConfig } from "../../agents/config/load.js";
import { publisherConfigSchema } from "../../agents/cli/commands/publish.js";
import { loadIris } from "../../agents/ml/datasets/bundled.js";
import { presets } from "../../agents/ml/spec.js";
import { Publisher, type PublishTerms } from "../../agents/publisher/agent.js";
import { URGENT_BACKOFF_MAX_MS, setUrgent, type DeadlineRuntime } from "../../agents/core/deadline.js";
import { UNLOCK_RPC_CALLS, unlockMarginSeconds, warnUnlockAtRisk } from "../../agents/publisher/deadline.js";
import { preparePublication } from "../../agents/publisher/prepare.js";
import { warnAttestAtRisk } from "../../agents/verifier/deadline.js";
import { EmbeddedStore } from "../../agents/storage/index.js";
import type { TaskMarket } from "../../types/index.js";
import { startChain } from "../agents/helpers/chain.js";
import { captureLogger } from "../agents/helpers/log.js";
import { accounts, deployMarket, mineToSeed, passTime } from "../agents/publisher/helpers/market.js";
import { FaultProxy, lossPlan } from "./fault-proxy.js";

const RETRY: RetryPolicy = { retries: 20, baseMs: 250, maxMs: 8_000 };
const TERMS: PublishTerms = { reward: parseEther("1"), accuracyThreshold: 8000, maxSubmissions: 4, trainWindow: 120 };

describe("faults: the publisher's key unlocks (and the validator's attestations) under RPC loss", function () {
  this.timeout(120_000);
  let chain: Awaited<ReturnType<typeof startChain>>;
  before(async () => {
    chain = await startChain();
  });
  after(async () => await chain?.close());

  /** The slice of a runtime the deadline helpers read, on a real provider to `url`. */
  async function deadlineRuntime(url: string): Promise<DeadlineRuntime & { lines: () => Record<string, unknown>[]; close: () => void }> {
    const captured = captureLogger("publisher");
    const connection = await connectChain({ rpcUrl: url, pollIntervalMs: 20, retry: RETRY });
    return { chain: connection, retry: RETRY, clock: chainClock(connection.provider), log: captured.log, lines: captured.lines, close: () => connection.provider.destroy() };
  }

  it("keeps a margin before a key (or attestation) deadline that grows with the latency it measured (the miner's model), and warns plainly inside it", async () => {
    const proxy = await FaultProxy.start(chain.url, { seed: 3, rates: { delay: 1 }, delayMs: [300, 300] });
    const fast = await deadlineRuntime(chain.url);
    const slow = await deadlineRuntime(proxy.url);
    try {
      for (const rt of [fast, slow]) for (let i = 0; i < 4; i++) await rt.chain.provider.getBlockNumber();
      expect(unlockMarginSeconds(fast)).to.equal(1);
      // 9 calls × ≥ 0.3 s × 1.5, rounded up.
      expect(unlockMarginSeconds(slow)).to.be.at.least(Math.ceil(UNLOCK_RPC_CALLS * 0.3 * 1.5));

      const next = await fast.clock.nextTimestamp();
      expect(warnUnlockAtRisk(fast, 7n, "test-key", next, next + 2n)).to.equal(false);
      expect(warnUnlockAtRisk(slow, 7n, "test-key", next, next + 2n)).to.equal(true);
      const warning = slow.lines().find((l) => String(l.msg).includes("window closes"));
      expect(warning?.msg).to.match(/^task 7: the test-key window closes in 2 s, less than the \d+ s its 9 RPC calls are expected to take \(mean latency \d+ ms/);
      // The validator's commit and reveal windows use the same model.
      expect(warnAttestAtRisk(fast, 7n, 0, "commit", next, next + 2n)).to.equal(false);
      expect(warnAttestAtRisk(slow, 7n, 0, "commit", next, next + 2n)).to.equal(true);
      expect(slow.lines().some((l) => /^task 7: the round 0 commit window closes in 2 s, less than the \d+ s its 9 RPC calls/.test(String(l.msg)))).to.equal(true);
      expect(fast.lines().some((l) => String(l.msg).includes("window closes"))).to.equal(false);
    } finally {
      fast.close();
      slow.close();
      await proxy.close();
    }
  });

  it("while a deadline is near, retries of a failing call wait at most the urgent ceiling; otherwise they grow to the configured one", async () => {
    const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: {} });
    const captured = captureLogger("publisher");
    const retry: RetryPolicy = { retries: 5, baseMs: 250, maxMs: 8_000 };
    const connection = await connectChain({ rpcUrl: proxy.url, pollIntervalMs: 20, retry, log: captured.log });
    const rt: DeadlineRuntime = { chain: connection, retry, clock: chainClock(connection.provider), log: captured.log };
    const delays = () => captured.lines().flatMap((l) => (typeof l.delayMs === "number" ? [l.delayMs] : []));
    try {
      proxy.setOutage(true);
      setUrgent(rt, true);
      await connection.provider.getBlockNumber().then(() => expect.fail("answered in an outage"), () => undefined);
      const urgent = delays();
      expect(urgent).to.have.length(5);
      for (const d of urgent) expect(d).to.be.at.most(URGENT_BACKOFF_MAX_MS);

      setUrgent(rt, false);
      // Another call: identical retry lines (same call, attempt and error) are rate-limited.
      await connection.provider.getBalance(accounts.publisher.address).then(() => expect.fail("answered in an outage"), () => undefined);
      // The 5th back-off's ceiling is 250 ms × 2⁴ = 4 s, drawn from its upper half.
      expect(delays().slice(5)).to.have.length(5);
      expect(delays()[9]).to.be.at.least(2_000);
    } finally {
      connection.provider.destroy();
      await proxy.close();
    }
  });

  it("at 50 % request loss, a restarted publisher unlocks the test keys in its first round after the commit deadline, its retries waiting at most the urgent ceiling", async () => {
    const { market, block: startBlock } = await deployMarket(chain.provider);
    const dir = mkdtempSync(join(tmpdir(), "podl-publisher-deadline-"));
    const ipfs = await EmbeddedStore.open({ dataDir: join(dir, "ipfs") });
    const runtimes: AgentRuntime[] = [];
    const proxy = await FaultProxy.start(chain.url, lossPlan(15, 0.5, 0));
    async function agent(url: string) {
      const env = { PODL_RPC_URL: url, PODL_DATA_DIR: join(dir, "state"), PODL_POLL_INTERVAL_MS: "50", PODL_PRIVATE_KEY: accounts.publisher.privateKey, PODL_RPC_RETRIES: "20", PODL_RPC_BACKOFF_MAX_MS: "2000" };
      const captured = captureLogger("publisher");
      const rt = await openRuntime({ agent: "publisher", config: loadConfig(publisherConfigSchema, { env }), env, log: captured.log });
      runtimes.push(rt);
      return { publisher: new Publisher(rt, { market: await market.getAddress(), startBlock }), lines: captured.lines };
    }
    try {
      // Posted, started and training on a clean endpoint.
      const first = await agent(chain.url);
      const pub = await preparePublication({ spec: presets.irisMlp, dataset: loadIris(), shardCount: 10, testShards: 3, store: ipfs, providers: ipfs.addresses() });
      const taskId = await first.publisher.publish(pub, TERMS);
      await first.publisher.step();
      await mineToSeed(chain.provider);
      await first.publisher.step();
      expect((await (market as TaskMarket).getTask(taskId)).phase).to.equal(3n); // Committing

      // The commit deadline passes; a publisher restarted behind a lossy endpoint takes one round.
      await passTime(chain.provider, (await market.getTask(taskId)).commitDeadline);
      const lossy = await agent(proxy.url);
      await lossy.publisher.step();
      const unlocked = await market.queryFilter(market.filters.TestDataUnlocked(taskId));
      expect(unlocked).to.have.length(1);
      expect(proxy.counters.faults["drop-request"] + proxy.counters.faults["http-503"] + proxy.counters.faults["closed-socket"]).to.be.greaterThan(0);

      const lines = lossy.lines();
      const urgentAt = lines.findIndex((l) => String(l.msg).startsWith("a deadline is near"));
      expect(urgentAt, "the publisher says it shortened its retries").to.be.greaterThan(-1);
      const retries = lines.slice(urgentAt).filter((l) => typeof l.delayMs === "number");
      expect(retries.length, "the lossy endpoint made the unlock's calls retry").to.be.greaterThan(0);
      for (const r of retries) expect(r.delayMs as number, String(r.msg)).to.be.at.most(URGENT_BACKOFF_MAX_MS);
      // The round ended with the window closed behind it: back to the configured ceiling.
      expect(lines.some((l, i) => i > urgentAt && String(l.msg).startsWith("no deadline near"))).to.equal(true);
    } finally {
      for (const rt of runtimes) rt.close();
      await proxy.close();
      await ipfs.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
