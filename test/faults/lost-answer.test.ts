import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Contract, Wallet } from "ethers";
import { TxSender, connectChain } from "../../agents/chain/index.js";
import { StateStore } from "../../agents/state/store.js";
import { FAST_RETRY, account, deployToken, startChain } from "../agents/helpers/chain.js";
import { captureLogger } from "../agents/helpers/log.js";
import { FaultProxy } from "./fault-proxy.js";

describe("faults: a transaction whose answer was lost", function () {
  let chain: Awaited<ReturnType<typeof startChain>>;
  let token: Contract;
  let dir: string;
  let store: StateStore;

  before(async () => {
    chain = await startChain();
    const deployed = await deployToken(chain.provider, account(0));
    token = new Contract(await deployed.getAddress(), deployed.interface, chain.provider);
    dir = mkdtempSync(join(tmpdir(), "podl-lost-answer-"));
    store = StateStore.open(join(dir, "state.sqlite"));
  });
  after(async () => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
    await chain.close();
  });

  /** Sends one mint through a proxy that loses the answer to the first broadcast. */
  async function mintLosingFirstAnswer(wallet: Wallet, onLost: (proxy: FaultProxy) => Promise<void> = async () => {}) {
    let broadcasts = 0;
    const proxy = await FaultProxy.start(chain.url, { seed: 1, rates: { "drop-answer": 1 }, eligible: (m) => m.includes("eth_sendRawTransaction") && broadcasts++ === 0 });
    const { provider } = await connectChain({ rpcUrl: proxy.url, pollIntervalMs: 20, retry: FAST_RETRY });
    try {
      const logs = captureLogger();
      const sender = new TxSender({ wallet, provider, chainId: 31337n, retry: FAST_RETRY, gasHeadroomPercent: 20, txTimeoutMs: 30_000, pollIntervalMs: 20, journal: store, log: logs.log });
      const recipient = Wallet.createRandom().address;
      const startNonce = await chain.provider.getTransactionCount(wallet.address);
      const pending = sender.call(token, "mint", [recipient, 7n], { label: "mint 7" });
      const [sent] = await Promise.all([
        pending,
        (async () => {
          while (proxy.counters.faults["drop-answer"] === 0) await new Promise((r) => setTimeout(r, 5));
          await onLost(proxy);
        })(),
      ]);
      return { sent, proxy, logs, recipient, startNonce };
    } finally {
      provider.destroy();
      await proxy.close();
    }
  }

  it("on an automining node: the retry meets 'nonce too low', finds its own hash, sends nothing more and leaves no nonce gap", async () => {
    const wallet = account(11);
    const { sent, proxy, logs, recipient, startNonce } = await mintLosingFirstAnswer(wallet);
    expect(proxy.counters.faults["drop-answer"]).to.equal(1);
    // The node saw the signed bytes twice (the lost one and the retry) and holds one transaction.
    expect(proxy.counters.forwarded.eth_sendRawTransaction).to.equal(2);
    expect(sent.nonce).to.equal(startNonce);
    expect(await chain.provider.getTransactionCount(wallet.address)).to.equal(startNonce + 1);
    expect((await token.getFunction("balanceOf")(recipient)) as bigint).to.equal(7n);
    expect(store.txStatus(sent.hash)).to.equal("mined");
    const recognised = logs.lines().filter((l) => typeof l.msg === "string" && l.msg.includes("not sending it again"));
    expect(recognised).to.have.length(1);
    expect(recognised[0]!.txHash).to.equal(sent.hash);
  });

  it("on a node that mines later: the retry meets 'already known' and waits for the same transaction", async () => {
    const wallet = account(12);
    await chain.provider.send("evm_setAutomine", [false]);
    let mined = false;
    try {
      const { sent, proxy, logs, startNonce } = await mintLosingFirstAnswer(wallet, async (proxy) => {
        // Mine once the retry has reached the node (it found the transaction in the pool).
        while ((proxy.counters.forwarded.eth_sendRawTransaction ?? 0) < 2) await new Promise((r) => setTimeout(r, 5));
        await chain.provider.send("evm_mine", []);
        mined = true;
      });
      expect(mined).to.equal(true);
      expect(proxy.counters.forwarded.eth_sendRawTransaction).to.equal(2);
      expect(await chain.provider.getTransactionCount(wallet.address)).to.equal(startNonce + 1);
      expect(store.txStatus(sent.hash)).to.equal("mined");
      const recognised = logs.lines().find((l) => typeof l.msg === "string" && l.msg.includes("not sending it again"));
      expect(String(recognised?.answer)).to.match(/known/i);
    } finally {
      await chain.provider.send("evm_setAutomine", [true]);
    }
  });
});
