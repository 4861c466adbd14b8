import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { JsonRpcProvider } from "ethers";
import { withRetry, type RetryPolicy } from "../../agents/chain/retry.js";
import { retryStep } from "../../agents/chain/retry-budget.js";
import { main } from "../../agents/cli/podl.js";
import { AgentError, isAgentError } from "../../agents/config/errors.js";
import { StateStore } from "../../agents/state/store.js";
import type { TaskMarket } from "../../types/index.js";
import { startChain } from "../agents/helpers/chain.js";
import { captureLogger } from "../agents/helpers/log.js";
import { accounts, deployMarket } from "../agents/publisher/helpers/market.js";
import { FaultProxy, lossPlan } from "./fault-proxy.js";

const reset = () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });

describe("faults: one-shot commands retry for a time budget, not a count", function () {
  this.timeout(120_000);

  it("with a budget, a call that fails more often than --rpc-retries allows still gets through, and the warnings say how long it retries for", async () => {
    const { log, lines } = captureLogger();
    let calls = 0;
    const policy: RetryPolicy = { retries: 2, baseMs: 1, maxMs: 2, budgetMs: 60_000 };
    const value = await withRetry("eth_call of postTask", async () => (++calls < 10 ? Promise.reject(reset()) : 42), policy, log);
    expect([value, calls]).to.deep.equal([42, 10]);
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings.map((l) => l.attempt)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(warnings[0]!.msg).to.match(/^eth_call of postTask: attempt 1 \(retrying for up to 60 s\) failed \(socket hang up\); retrying in \d+ ms$/);
    expect(lines().filter((l) => l.level === 30).map((l) => l.msg)).to.have.length(1);
    expect(lines().find((l) => l.level === 30)!.msg).to.match(/^eth_call of postTask: recovered at attempt 10 \(retrying for up to 60 s\), \d+ ms after its first attempt$/);
  });

  it("with a budget, gives up with RPC_UNAVAILABLE once the next attempt would start after it, saying how many times in how long", async () => {
    // Back-offs of at most 2 ms: a 2 s budget holds far more attempts than retries + 1 = 3.
    const policy: RetryPolicy = { retries: 2, baseMs: 1, maxMs: 2, budgetMs: 2_000 };
    let calls = 0;
    const failure = await withRetry("eth_call", () => (calls++, Promise.reject(reset())), policy).catch((e: unknown) => e);
    expect(isAgentError(failure, "RPC_UNAVAILABLE")).to.equal(true);
    expect(calls).to.be.greaterThan(policy.retries + 1);
    const said = /^eth_call: the RPC endpoint failed (\d+) times in [\d.]+ s \(its retry budget is 2 s, --rpc-retry-budget-ms\)$/.exec((failure as Error).message);
    expect(said, (failure as Error).message).to.not.equal(null);
    expect(Number(said![1])).to.equal(calls);
  });

  it("a start-up step (a validator's stake) that spent its retries is tried again for the budget, settling the journal before each new try; other errors pass at once", async () => {
    const { log, lines } = captureLogger();
    const unavailable = () => new AgentError("RPC_UNAVAILABLE", "eth_getBalance: the RPC endpoint failed 6 times");
    let tries = 0;
    let settled = 0;
    const o = { budgetMs: 60_000, pauseMs: 1, log, before: async () => void settled++ };
    expect(await retryStep("staking", async () => (++tries < 3 ? Promise.reject(unavailable()) : "bonded"), o)).to.equal("bonded");
    expect([tries, settled]).to.deep.equal([3, 2]);
    expect(lines().filter((l) => l.level === 40).map((l) => l.msg)).to.deep.equal([
      "staking: eth_getBalance: the RPC endpoint failed 6 times; trying again in 1 ms (for up to 60 s, --rpc-retry-budget-ms)",
      "staking: eth_getBalance: the RPC endpoint failed 6 times; trying again in 1 ms (for up to 60 s, --rpc-retry-budget-ms)",
    ]);
    const other = await retryStep("staking", () => Promise.reject(new AgentError("INSUFFICIENT_FUNDS", "poor")), o).catch((e: unknown) => e);
    expect(isAgentError(other, "INSUFFICIENT_FUNDS")).to.equal(true);
    const spent = await retryStep("staking", () => Promise.reject(unavailable()), { ...o, budgetMs: 0 }).catch((e: unknown) => e);
    expect(isAgentError(spent, "RPC_UNAVAILABLE")).to.equal(true);
  });

  describe("podl publish through a proxy that fails 50 % of the requests", () => {
    let chain: Awaited<ReturnType<typeof startChain>>;
    let provider: JsonRpcProvider;
    let market: TaskMarket;
    let startBlock: number;
    let proxy: FaultProxy;
    let dir: string;

    before(async () => {
      chain = await startChain();
      provider = chain.provider;
      ({ market, block: startBlock } = await deployMarket(provider));
      proxy = await FaultProxy.start(chain.url, lossPlan(15, 0.5, 0.1, [50, 200]));
      dir = mkdtempSync(join(tmpdir(), "podl-retry-budget-"));
    });
    after(async () => {
      await proxy?.close();
      await chain?.close();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    it("posts its task once (one postTask on chain, the journal settled, no nonce gap) where 6 attempts a call gave up in bench:faults", async () => {
      const out: string[] = [];
      const dataDir = join(dir, "publisher");
      const env = { PODL_RPC_URL: proxy.url, PODL_DATA_DIR: dataDir, PODL_POLL_INTERVAL_MS: "50", PODL_PRIVATE_KEY: accounts.publisher.privateKey, PODL_RPC_BACKOFF_MS: "5", PODL_RPC_BACKOFF_MAX_MS: "200", PODL_LOG_LEVEL: "silent" };
      const io = { out: (l: string) => void out.push(l), err: (l: string) => void out.push(l), env };
      const flags = ["--market", await market.getAddress(), "--start-block", String(startBlock), "--dataset", "iris", "--spec", "irisMlp", "--reward", "0.5", "--threshold", "9000", "--train-window", "60", "--post-only"];
      expect(await main(["publish", ...flags], io), out.join("\n")).to.equal(0);
      expect(out.join("\n")).to.match(/posted task 1: reward 0.5 ETH/);
      expect(await market.taskCount()).to.equal(1n);

      // The faults happened, lost answers to the calls among them, and were ridden out without a second send.
      const c = proxy.counters;
      const failed = c.faults["drop-request"] + c.faults["drop-answer"] + c.faults["http-503"] + c.faults["closed-socket"];
      expect(failed / c.requests).to.be.within(0.4, 0.6);
      const selector = market.interface.getFunction("postTask")!.selector;
      let posts = 0;
      for (let b = startBlock; b <= (await provider.getBlockNumber()); b++) {
        posts += (await provider.getBlock(b, true))!.prefetchedTransactions.filter((tx) => tx.from === accounts.publisher.address && tx.data.startsWith(selector)).length;
      }
      expect(posts).to.equal(1);
      const state = StateStore.open(join(dataDir, "publisher.sqlite"));
      expect(state.unsettledTxs(accounts.publisher.address)).to.deep.equal([]);
      state.close();
      expect(await provider.getTransactionCount(accounts.publisher.address, "pending")).to.equal(await provider.getTransactionCount(accounts.publisher.address, "latest"));
    });
  });
});
