import { expect } from "chai";
import { Wallet, parseEther } from "ethers";
import { connectChain } from "../../../agents/chain/index.js";
import { isAgentError } from "../../../agents/config/errors.js";
import { FAST_RETRY, account, startChain } from "../helpers/chain.js";
import { FlakyRpcDouble, type Failure } from "../helpers/flaky-rpc.js";

describe("agents/chain connectChain's provider", function () {
  let chain: Awaited<ReturnType<typeof startChain>>;
  const doubles: FlakyRpcDouble[] = [];

  before(async () => {
    chain = await startChain();
  });
  after(async () => {
    for (const d of doubles) await d.close();
    await chain.close();
  });

  async function flaky(decide: (methods: string[]) => Failure | undefined) {
    const { double, url } = await FlakyRpcDouble.start(chain.url, decide);
    doubles.push(double);
    const { provider } = await connectChain({ rpcUrl: url, pollIntervalMs: 20, retry: FAST_RETRY });
    return { double, provider };
  }

  it("retries every direct request (views, blocks, balances) through an endpoint that fails every other one, in each way", async () => {
    const kinds: Failure[] = ["http-503", "rate-limited", "reset-before", "lost-answer"];
    let n = 0;
    const { double, provider } = await flaky(() => (n++ % 2 === 0 ? kinds[(n >> 1) % kinds.length] : undefined));
    const who = account(1).address;
    for (let i = 0; i < 8; i++) {
      expect(await provider.getBlockNumber()).to.equal(await chain.provider.getBlockNumber());
      expect((await provider.getBlock("latest"))!.hash).to.equal((await chain.provider.getBlock("latest"))!.hash);
      expect(await provider.getBalance(who)).to.equal(await chain.provider.getBalance(who));
    }
    for (const kind of kinds) expect(double.injected[kind], kind).to.be.greaterThan(0);
    provider.destroy();
  });

  it("gives up with RPC_UNAVAILABLE naming the method after the policy's retries", async () => {
    const { double, provider } = await flaky((methods) => (methods.includes("eth_blockNumber") ? "http-503" : undefined));
    const error = await provider.getBlockNumber().then(
      () => expect.fail("expected RPC_UNAVAILABLE"),
      (e: unknown) => e,
    );
    expect(isAgentError(error, "RPC_UNAVAILABLE"), String(error)).to.equal(true);
    expect((error as Error).message).to.equal(`eth_blockNumber: the RPC endpoint failed ${FAST_RETRY.retries + 1} times`);
    expect(double.injected["http-503"]).to.equal(FAST_RETRY.retries + 1);
    provider.destroy();
  });

  it("sends a transaction broadcast once, even when its answer is lost (TxSender settles it by hash)", async () => {
    const { double, provider } = await flaky((methods) => (methods.includes("eth_sendRawTransaction") ? "lost-answer" : undefined));
    const from = account(2);
    const tx = await from.connect(chain.provider).populateTransaction({ to: Wallet.createRandom().address, value: parseEther("0.01") });
    const raw = await from.signTransaction(tx);
    await provider.broadcastTransaction(raw).then(
      () => expect.fail("the answer was lost"),
      () => undefined,
    );
    expect(double.methods.filter((m) => m === "eth_sendRawTransaction")).to.have.length(1);
    // The node did act: the transaction is there, once.
    expect(await chain.provider.getTransactionCount(from.address)).to.equal(tx.nonce! + 1);
    provider.destroy();
  });
});
