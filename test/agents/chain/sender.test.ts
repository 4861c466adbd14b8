import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Contract, Transaction, Wallet, keccak256, type JsonRpcProvider } from "ethers";
import { EventCursor, TxSender, connectChain, type SenderOptions, type TxJournal } from "../../../agents/chain/index.js";
import { isAgentError } from "../../../agents/config/errors.js";
import { StateStore } from "../../../agents/state/store.js";
import { PlainTokenDouble__factory } from "../../../types/index.js";
import { FAST_RETRY, account, deployToken, startChain } from "../helpers/chain.js";
import { FlakyRpcDouble, seededRandom, type Failure } from "../helpers/flaky-rpc.js";
import { captureLogger } from "../helpers/log.js";

describe("agents/chain TxSender", function () {
  let chain: Awaited<ReturnType<typeof startChain>>;
  let tokenAddress: string;
  let token: Contract;
  let dir: string;
  let store: StateStore;

  before(async () => {
    chain = await startChain();
    const deployed = await deployToken(chain.provider, account(0));
    tokenAddress = await deployed.getAddress();
    token = new Contract(tokenAddress, deployed.interface, chain.provider);
  });
  after(async () => chain.close());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "podl-sender-"));
    store = StateStore.open(join(dir, "state.sqlite"));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function senderFor(wallet: Wallet, provider: JsonRpcProvider, overrides: Partial<SenderOptions> = {}): TxSender {
    return new TxSender({
      wallet,
      provider,
      chainId: 31337n,
      retry: FAST_RETRY,
      gasHeadroomPercent: 20,
      txTimeoutMs: 30_000,
      pollIntervalMs: 20,
      journal: store,
      ...overrides,
    });
  }

  const balanceOf = async (address: string) => (await token.getFunction("balanceOf")(address)) as bigint;

  it("finishes every transaction through an RPC endpoint that fails a third of the requests", async () => {
    const random = seededRandom(6);
    const kinds: Failure[] = ["http-503", "rate-limited", "reset-before", "lost-answer"];
    const { double, url } = await FlakyRpcDouble.start(chain.url, () => (random() < 0.33 ? kinds[Math.floor(random() * 4)] : undefined));
    try {
      const { provider } = await connectChain({ rpcUrl: url, pollIntervalMs: 20, retry: FAST_RETRY });
      const wallet = account(2);
      const sender = senderFor(wallet, provider);
      const recipient = Wallet.createRandom().address;
      const before = await balanceOf(recipient);
      const startNonce = await chain.provider.getTransactionCount(wallet.address);
      const hashes: string[] = [];
      const startBlock = (await chain.provider.getBlockNumber()) + 1;
      for (let i = 1n; i <= 8n; i++) hashes.push((await sender.call(token, "mint", [recipient, i], { label: `mint ${i}` })).hash);
      // The event cursor reads them back through the same unreliable endpoint.
      const minted: string[] = [];
      const cursor = new EventCursor({
        name: "mints",
        provider,
        store,
        address: tokenAddress,
        topics: [token.interface.getEvent("Transfer")!.topicHash],
        startBlock,
        confirmations: 0,
        chunkBlocks: 2,
        maxReorgDepth: 8,
        retry: FAST_RETRY,
      });
      await cursor.poll((log) => void minted.push(log.transactionHash));
      provider.destroy();

      expect(await balanceOf(recipient)).to.equal(before + 36n); // 1 + … + 8, each minted once
      expect(await chain.provider.getTransactionCount(wallet.address)).to.equal(startNonce + 8);
      expect(double.totalInjected).to.be.greaterThan(5);
      for (const hash of hashes) expect(store.txStatus(hash)).to.equal("mined");
      expect(minted).to.deep.equal(hashes);
    } finally {
      await double.close();
    }
  });

  it("does not send twice when the node accepted a transaction but the answer was lost", async () => {
    let dropped = 0;
    const { double, url } = await FlakyRpcDouble.start(chain.url, (methods) =>
      methods.includes("eth_sendRawTransaction") && dropped++ === 0 ? "lost-answer" : undefined,
    );
    try {
      const { provider } = await connectChain({ rpcUrl: url, pollIntervalMs: 20, retry: FAST_RETRY });
      const wallet = account(3);
      const recipient = Wallet.createRandom().address;
      const startNonce = await chain.provider.getTransactionCount(wallet.address);
      const sent = await senderFor(wallet, provider).call(token, "mint", [recipient, 5n]);
      provider.destroy();
      expect(double.injected["lost-answer"]).to.equal(1);
      expect(sent.receipt.status).to.equal(1);
      expect(await balanceOf(recipient)).to.equal(5n);
      expect(await chain.provider.getTransactionCount(wallet.address)).to.equal(startNonce + 1);
    } finally {
      await double.close();
    }
  });

  it("re-syncs its nonce from the chain after another process used the key", async () => {
    const wallet = account(4);
    const logs = captureLogger();
    const sender = senderFor(wallet, chain.provider, { log: logs.log });
    const recipient = Wallet.createRandom().address;
    await sender.call(token, "mint", [recipient, 1n]);
    // Another process with the same key takes the nonce this sender has cached.
    const { provider: other } = await connectChain({ rpcUrl: chain.url, pollIntervalMs: 20, retry: FAST_RETRY });
    await (await new Contract(tokenAddress, token.interface, wallet.connect(other)).getFunction("mint")(recipient, 10n)).wait();
    other.destroy();

    const sent = await sender.call(token, "mint", [recipient, 100n]);
    expect(sent.receipt.status).to.equal(1);
    expect(await balanceOf(recipient)).to.equal(111n);
    expect(sent.nonce).to.equal((await chain.provider.getTransactionCount(wallet.address)) - 1);
    const conflicts = logs.lines().filter((l) => l.msg === "nonce already used by another transaction; re-syncing");
    expect(conflicts).to.have.length(1);
    // The attempt that lost its nonce is in the journal as dropped, not as pending.
    expect(store.unsettledTxs(wallet.address)).to.deep.equal([]);
  });

  it("shares one nonce manager per key: two senders of one key send concurrently without collisions", async () => {
    const wallet = account(8);
    const recipient = Wallet.createRandom().address;
    const [a, b] = [senderFor(wallet, chain.provider), senderFor(wallet, chain.provider)];
    expect(a.nonces).to.equal(b.nonces);
    const start = await chain.provider.getTransactionCount(wallet.address);
    const sent = await Promise.all([1n, 2n, 3n, 4n, 5n, 6n].map((i) => (i % 2n === 0n ? a : b).call(token, "mint", [recipient, i])));
    expect(sent.map((s) => s.nonce).sort((x, y) => x - y)).to.deep.equal([0, 1, 2, 3, 4, 5].map((i) => start + i));
    expect(await balanceOf(recipient)).to.equal(21n);
  });

  it("sets the gas limit to the estimate plus the configured headroom", async () => {
    const wallet = account(10);
    const recipient = Wallet.createRandom().address;
    const data = token.interface.encodeFunctionData("mint", [recipient, 3n]);
    const estimate = await chain.provider.estimateGas({ from: wallet.address, to: tokenAddress, data });
    const sent = await senderFor(wallet, chain.provider, { gasHeadroomPercent: 25 }).call(token, "mint", [recipient, 3n]);
    expect((await chain.provider.getTransaction(sent.hash))!.gasLimit).to.equal((estimate * 125n) / 100n);
  });

  it("sends through TypeChain-typed contracts", async () => {
    const typed = PlainTokenDouble__factory.connect(tokenAddress, chain.provider);
    const sender = senderFor(account(15), chain.provider);
    const recipient = Wallet.createRandom().address;
    await sender.call(typed, "mint", [recipient, 4n]);
    await sender.send({ ...(await typed.mint.populateTransaction(recipient, 5n)), label: "mint 5", iface: typed.interface });
    expect(await typed.balanceOf(recipient)).to.equal(9n);
  });

  it("reports a revert with the contract's decoded custom error, before sending", async () => {
    const wallet = account(5);
    const sender = senderFor(wallet, chain.provider);
    const before = await chain.provider.getTransactionCount(wallet.address);
    const error = await sender.call(token, "transfer", [account(6).address, 1n]).catch((e: unknown) => e);
    expect(isAgentError(error, "TX_REVERTED"), String(error)).to.equal(true);
    const revert = (error as { context: { revert: { name: string; args: unknown[] } } }).context.revert;
    expect(revert.name).to.equal("ERC20InsufficientBalance");
    expect(revert.args).to.deep.equal([wallet.address, 0n, 1n]);
    expect((error as Error).message, (error as Error).message).to.contain(`ERC20InsufficientBalance(${wallet.address}, 0, 1)`);
    expect(await chain.provider.getTransactionCount(wallet.address)).to.equal(before);
  });

  it("decodes the custom error of a transaction that passed estimation but reverted on chain", async () => {
    const wallet = account(12);
    const sender = senderFor(wallet, chain.provider);
    await sender.call(token, "mint", [wallet.address, 10n]);
    await chain.provider.send("evm_setAutomine", [false]);
    try {
      // Both transfers are estimated against a balance of 10; only the first can be paid.
      const first = sender.call(token, "transfer", [account(13).address, 10n], { label: "first" });
      const second = sender.call(token, "transfer", [account(14).address, 10n], { label: "second" }).catch((e: unknown) => e);
      while (store.unsettledTxs(wallet.address).filter((t) => t.status === "sent").length < 2) await new Promise((r) => setTimeout(r, 20));
      await chain.provider.send("evm_mine", []);
      expect((await first).receipt.status).to.equal(1);
      const error = await second;
      expect(isAgentError(error, "TX_REVERTED"), String(error)).to.equal(true);
      expect((error as Error).message).to.match(/^second: transaction 0x[0-9a-f]{64} reverted in block \d+: ERC20InsufficientBalance\(/);
      expect((error as { context: { revert: { args: unknown[] } } }).context.revert.args).to.deep.equal([wallet.address, 0n, 10n]);
      expect(store.unsettledTxs(wallet.address)).to.deep.equal([]);
    } finally {
      await chain.provider.send("evm_setAutomine", [true]);
    }
  });

  it("decodes a revert the node returns from the broadcast itself (automine lost a race after the estimate) and carries on", async () => {
    const wallet = account(15);
    const rival = account(16);
    const sender = senderFor(wallet, chain.provider);
    await sender.call(token, "mint", [wallet.address, 10n]);
    await sender.call(token, "approve", [rival.address, 10n]);
    // The rival's transferFrom, signed in advance, reaches the node just before ours: hooked into
    // the journal write that precedes our broadcast, it is queued first on the same provider.
    const steal = await rival.connect(chain.provider).populateTransaction({
      to: tokenAddress,
      data: token.interface.encodeFunctionData("transferFrom", [wallet.address, rival.address, 10n]),
      gasLimit: 100_000n,
    });
    const stealRaw = await rival.signTransaction(steal);
    let fired: Promise<unknown> | undefined;
    const journal: TxJournal = {
      recordTx: (tx) => {
        store.recordTx(tx);
        if (tx.label === "victim") fired ??= chain.provider.send("eth_sendRawTransaction", [stealRaw]);
      },
      setTxStatus: (hash, status, detail) => store.setTxStatus(hash, status, detail),
      unsettledTxs: (from) => store.unsettledTxs(from),
    };
    const racing = senderFor(wallet, chain.provider, { journal });
    const error = await racing.call(token, "transfer", [account(17).address, 10n], { label: "victim" }).then(
      () => expect.fail("expected TX_REVERTED"),
      (e: unknown) => e,
    );
    await fired;
    expect(await balanceOf(rival.address)).to.equal(10n);
    expect(isAgentError(error, "TX_REVERTED"), String(error)).to.equal(true);
    expect((error as Error).message).to.match(/^victim: transaction 0x[0-9a-f]{64} reverted in block \d+: ERC20InsufficientBalance\(/);
    // Hardhat mined it (the nonce is spent): journalled as reverted, nothing left to settle.
    expect(store.unsettledTxs(wallet.address)).to.deep.equal([]);
    // The nonce manager re-synced: the next transaction of the key goes through.
    await sender.call(token, "mint", [wallet.address, 1n]);
    expect(await balanceOf(wallet.address)).to.equal(1n);
  });

  it("says clearly when the key cannot pay for gas", async () => {
    const broke = Wallet.createRandom();
    const error = await senderFor(new Wallet(broke.privateKey), chain.provider)
      .call(token, "mint", [broke.address, 1n], { label: "mint for a broke key" })
      .catch((e: unknown) => e);
    expect(isAgentError(error, "INSUFFICIENT_FUNDS"), String(error)).to.equal(true);
    expect((error as Error).message).to.match(/mint for a broke key: 0x[0-9a-fA-F]{40} holds 0 wei, needs \d+/);
  });

  it("re-broadcasts a journalled transaction that a crash kept from the node", async () => {
    const wallet = account(7);
    const recipient = Wallet.createRandom().address;
    // What a sender killed between the write-ahead and the broadcast leaves behind.
    const nonce = await chain.provider.getTransactionCount(wallet.address);
    const fees = await chain.provider.getFeeData();
    const raw = await wallet.signTransaction(
      Transaction.from({
        type: 2,
        chainId: 31337n,
        nonce,
        to: tokenAddress,
        data: token.interface.encodeFunctionData("mint", [recipient, 42n]),
        gasLimit: 200_000n,
        maxFeePerGas: fees.maxFeePerGas!,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas!,
      }),
    );
    store.recordTx({ hash: keccak256(raw), raw, from: wallet.address, nonce, label: "mint 42" });

    const resumed = await senderFor(wallet, chain.provider).resumePending();
    expect(resumed).to.deep.equal([{ hash: keccak256(raw), label: "mint 42", status: "mined" }]);
    expect(await balanceOf(recipient)).to.equal(42n);
    expect(store.txStatus(keccak256(raw))).to.equal("mined");
  });
});
