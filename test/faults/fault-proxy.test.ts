import { expect } from "chai";
import { startChain } from "../agents/helpers/chain.js";
import { FaultProxy, lossPlan, type FaultCounters } from "./fault-proxy.js";

/** One raw JSON-RPC request, as an agent's HTTP client sends it; what came back, or how it failed. */
async function rpc(url: string, method: string, params: unknown[] = []): Promise<string> {
  try {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
    if (res.status !== 200) return `http ${res.status}`;
    return String(((await res.json()) as { result: unknown }).result);
  } catch {
    return "socket error";
  }
}

describe("faults: the JSON-RPC fault proxy (test double)", function () {
  let chain: Awaited<ReturnType<typeof startChain>>;
  before(async () => (chain = await startChain()));
  after(async () => chain.close());

  it("injects the same faults for the same seed, and counts them", async () => {
    const runs: FaultCounters[] = [];
    for (let run = 0; run < 2; run++) {
      const proxy = await FaultProxy.start(chain.url, { ...lossPlan(42, 0.5, 0.1, [1, 2]), reorderHoldMs: 1 });
      for (let i = 0; i < 40; i++) await rpc(proxy.url, "eth_chainId");
      await proxy.close();
      runs.push(proxy.counters);
    }
    expect(runs[0]).to.deep.equal(runs[1]);
    const c = runs[0]!;
    expect(c.requests).to.equal(40);
    // Every request either reached the node or was stopped before it by one fault.
    expect(c.forwarded.eth_chainId! + c.faults["drop-request"] + c.faults["http-503"] + c.faults["closed-socket"]).to.equal(40);
    expect(c.faults["drop-request"] + c.faults["drop-answer"] + c.faults["http-503"] + c.faults["closed-socket"]).to.be.greaterThan(0);
    expect(c.faultsByMethod.eth_chainId).to.deep.equal(Object.fromEntries(Object.entries(c.faults).filter(([, n]) => n > 0)));
  });

  it("drop-answer: the node acts, the client sees a broken connection", async () => {
    const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: { "drop-answer": 1 }, eligible: (m) => m.includes("evm_mine") });
    try {
      const before = Number(await rpc(chain.url, "eth_blockNumber"));
      expect(await rpc(proxy.url, "evm_mine")).to.equal("socket error");
      expect(Number(await rpc(chain.url, "eth_blockNumber"))).to.equal(before + 1);
      expect(proxy.counters.forwarded.evm_mine).to.equal(1);
      // Requests that are not eligible pass untouched.
      expect(Number(await rpc(proxy.url, "eth_blockNumber"))).to.equal(before + 1);
    } finally {
      await proxy.close();
    }
  });

  it("drop-request, 503 and closed-socket stop the request before the node", async () => {
    for (const fault of ["drop-request", "http-503", "closed-socket"] as const) {
      const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: { [fault]: 1 } });
      const before = Number(await rpc(chain.url, "eth_blockNumber"));
      expect(await rpc(proxy.url, "evm_mine")).to.equal(fault === "http-503" ? "http 503" : "socket error");
      expect(Number(await rpc(chain.url, "eth_blockNumber")), fault).to.equal(before);
      expect(proxy.counters.forwarded.evm_mine, fault).to.equal(undefined);
      expect(proxy.counters.faults[fault]).to.equal(1);
      await proxy.close();
    }
  });

  it("reorder: a held answer arrives after the answer to a later request", async () => {
    let n = 0;
    const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: { reorder: 1 }, reorderHoldMs: 60_000, eligible: () => n++ === 0 });
    try {
      const order: string[] = [];
      const first = rpc(proxy.url, "eth_chainId").then(() => order.push("first"));
      // The second is sent once the proxy has the first (its answer held).
      while (proxy.counters.forwarded.eth_chainId !== 1) await new Promise((r) => setTimeout(r, 5));
      const second = rpc(proxy.url, "eth_blockNumber").then(() => order.push("second"));
      await Promise.all([first, second]);
      expect(order).to.deep.equal(["second", "first"]);
      expect(proxy.counters.faults.reorder).to.equal(1);
    } finally {
      await proxy.close();
    }
  });

  it("an outage resets every connection until it is lifted", async () => {
    const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: {} });
    try {
      proxy.setOutage(true);
      expect(await rpc(proxy.url, "eth_chainId")).to.equal("socket error");
      proxy.setOutage(false);
      expect(await rpc(proxy.url, "eth_chainId")).to.equal("0x7a69");
      expect(proxy.counters.refusedInOutage).to.equal(1);
    } finally {
      await proxy.close();
    }
  });

  it("refuses rates that add up to more than one fault per request, naming the field", async () => {
    const failure = await FaultProxy.start(chain.url, { seed: 1, rates: { delay: 0.6, "http-503": 0.6 } }).catch((e: unknown) => e);
    expect((failure as Error).message).to.match(/^FaultPlan\.rates: the rates add up to 1\.2/);
  });
});
