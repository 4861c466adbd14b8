import { expect } from "chai";
import { RpcHealth, LATENCY_SAFETY, COMMIT_RPC_CALLS } from "../../agents/chain/latency.js";
import { connectChain, type RetryPolicy } from "../../agents/chain/index.js";
import { FAST_RETRY, startChain } from "../agents/helpers/chain.js";
import { FaultProxy } from "./fault-proxy.js";

const RETRY: RetryPolicy = { retries: 5, baseMs: 250, maxMs: 8_000 };

describe("faults: deadline margins that grow with measured RPC latency and failures", function () {
  it("keeps the configured margin while nothing is measured or the endpoint is fast", () => {
    const health = new RpcHealth();
    expect(health.marginSeconds(8, COMMIT_RPC_CALLS, RETRY)).to.equal(8);
    for (let i = 0; i < 100; i++) health.record(2, true);
    // 10 calls × 2 ms × 1.5 round up to one second, less than the configured 8.
    expect(health.marginSeconds(8, COMMIT_RPC_CALLS, RETRY)).to.equal(8);
  });

  it("grows with the latency: with 10 % of calls taking 3.5 s it is 10 × 0.35 s × 1.5, rounded up, once that passes the configured one", () => {
    const health = new RpcHealth();
    for (let i = 0; i < 200; i++) health.record(i % 10 === 0 ? 3_500 : 0, true);
    expect(health.meanLatencyMs()).to.equal(350);
    expect(health.marginSeconds(2, 10, RETRY)).to.equal(Math.ceil(10 * 0.35 * LATENCY_SAFETY));
    expect(health.marginSeconds(8, 10, RETRY)).to.equal(8);
  });

  it("grows with the failure rate: at 30 % failures a call takes 1/0.7 attempts and 0.43 back-offs", () => {
    const fast = new RpcHealth();
    const lossy = new RpcHealth();
    for (let i = 0; i < 200; i++) {
      fast.record(100, true);
      lossy.record(100, i % 10 >= 3);
    }
    expect(lossy.failureRate()).to.equal(60 / 200);
    const expected = (100 / 0.7 + (1 / 0.7 - 1) * 0.75 * 250) / 1000;
    expect(Math.abs(lossy.expectedCallSeconds(RETRY) - expected)).to.be.below(1e-9);
    expect(lossy.marginSeconds(0, 10, RETRY)).to.be.greaterThan(fast.marginSeconds(0, 10, RETRY));
  });

  it("forgets old samples: a recovered endpoint shrinks the margin back", () => {
    const health = new RpcHealth();
    for (let i = 0; i < 200; i++) health.record(5_000, false);
    const slow = health.marginSeconds(8, 10, RETRY);
    for (let i = 0; i < 200; i++) health.record(1, true);
    expect(health.marginSeconds(8, 10, RETRY)).to.be.lessThan(slow);
    expect(health.marginSeconds(8, 10, RETRY)).to.equal(8);
    expect(health.failureRate()).to.equal(0);
  });

  it("is measured by the agents' provider on every request, through an endpoint that delays each answer", async () => {
    const chain = await startChain();
    const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: { delay: 1 }, delayMs: [40, 40] });
    try {
      const { provider, health } = await connectChain({ rpcUrl: proxy.url, pollIntervalMs: 20, retry: FAST_RETRY });
      for (let i = 0; i < 5; i++) await provider.getBlockNumber();
      provider.destroy();
      expect(health.samples).to.equal(proxy.counters.forwarded.eth_blockNumber);
      expect(health.meanLatencyMs()).to.be.at.least(40);
      expect(health.marginSeconds(0, 10, FAST_RETRY)).to.be.at.least(1);
    } finally {
      await proxy.close();
      await chain.close();
    }
  });
});
