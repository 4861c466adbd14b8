import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Contract, id, type Log } from "ethers";
import { EventCursor, EventDecoder, connectChain, type CursorOptions, type DecodedEvent } from "../../../agents/chain/index.js";
import { isAgentError } from "../../../agents/config/errors.js";
import { StateStore } from "../../../agents/state/store.js";
import { FAST_RETRY, account, deployToken, mine, startChain } from "../helpers/chain.js";
import { FlakyRpcDouble } from "../helpers/flaky-rpc.js";
import { captureLogger } from "../helpers/log.js";

const TRANSFER = id("Transfer(address,address,uint256)");

describe("agents/chain EventCursor", function () {
  let chain: Awaited<ReturnType<typeof startChain>>;
  let token: Contract;
  let dir: string;
  let startBlock: number;
  const deployer = account(0);

  before(async () => {
    chain = await startChain();
    const deployed = await deployToken(chain.provider, deployer);
    token = new Contract(await deployed.getAddress(), deployed.interface, deployer.connect(chain.provider));
  });
  after(async () => chain.close());
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "podl-cursor-"));
    startBlock = (await chain.provider.getBlockNumber()) + 1;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function cursorOn(store: StateStore, overrides: Partial<CursorOptions> = {}): EventCursor {
    return new EventCursor({
      name: "token",
      provider: chain.provider,
      store,
      address: token.target as string,
      topics: [TRANSFER],
      startBlock,
      confirmations: 0,
      chunkBlocks: 2_000,
      maxReorgDepth: 16,
      retry: FAST_RETRY,
      ...overrides,
    });
  }

  async function mint(amount: bigint): Promise<void> {
    await (await token.getFunction("mint")(account(1).address, amount)).wait();
  }

  const amountOf = (log: Log) => BigInt(log.data);

  it("acts on an event only once it has the configured confirmations", async () => {
    const store = StateStore.open(join(dir, "state.sqlite"));
    const cursor = cursorOn(store, { confirmations: 2 });
    const seen: bigint[] = [];
    await mint(7n);
    expect((await cursor.poll((l) => void seen.push(amountOf(l)))).handled).to.equal(0);
    await mine(chain.provider, 1);
    expect((await cursor.poll((l) => void seen.push(amountOf(l)))).handled).to.equal(0);
    await mine(chain.provider, 1);
    expect((await cursor.poll((l) => void seen.push(amountOf(l)))).handled).to.equal(1);
    expect(seen).to.deep.equal([7n]);
    store.close();
  });

  it("reads a long range in chunks, in chain order, each event once", async () => {
    const store = StateStore.open(join(dir, "state.sqlite"));
    for (let i = 1n; i <= 10n; i++) await mint(i);
    const seen: bigint[] = [];
    const result = await cursorOn(store, { chunkBlocks: 3 }).poll((l) => void seen.push(amountOf(l)));
    expect(seen).to.deep.equal([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    expect(result.to).to.equal(await chain.provider.getBlockNumber());
    expect((await cursorOn(store, { chunkBlocks: 3 }).poll(() => expect.fail("handled twice"))).handled).to.equal(0);
    store.close();
  });

  it("hands the handler logs that EventDecoder turns into named events with the contract's ABI", async () => {
    const store = StateStore.open(join(dir, "state.sqlite"));
    const decoder = new EventDecoder([{ address: token.target as string, iface: token.interface }]);
    await mint(12n);
    const events: DecodedEvent[] = [];
    await cursorOn(store, { address: decoder.addresses, topics: [] }).poll((l) => void events.push(decoder.decode(l)!));
    expect(events.map((e) => [e.name, e.args.getValue("to"), e.args.getValue("value")])).to.deep.equal([["Transfer", account(1).address, 12n]]);
    expect(events[0]!.id).to.equal(`${events[0]!.transactionHash}:${events[0]!.log.index}`);
    store.close();
  });

  it("resumes after a restart from the same SQLite file without handling anything twice", async () => {
    const path = join(dir, "state.sqlite");
    let store = StateStore.open(path);
    await mint(1n);
    await mint(2n);
    await mint(3n);
    const seen: bigint[] = [];
    // The handler dies on the second event, as an agent killed mid-chunk would.
    await cursorOn(store)
      .poll((l) => {
        if (amountOf(l) === 2n) throw new Error("killed");
        seen.push(amountOf(l));
      })
      .catch((e: Error) => expect(e.message).to.equal("killed"));
    store.close();

    store = StateStore.open(path);
    await mint(4n);
    await cursorOn(store).poll((l) => void seen.push(amountOf(l)));
    expect(seen).to.deep.equal([1n, 2n, 3n, 4n]);
    store.close();
    store = StateStore.open(path);
    expect((await cursorOn(store).poll(() => expect.fail("handled twice"))).handled).to.equal(0);
    store.close();
  });

  it("rewinds after a reorganisation and handles the new branch's events", async () => {
    const store = StateStore.open(join(dir, "state.sqlite"));
    const cursor = cursorOn(store);
    const seen: bigint[] = [];
    const handle = (l: Log) => void seen.push(amountOf(l));
    await mint(1n);
    await cursor.poll(handle);
    const snapshot = (await chain.provider.send("evm_snapshot", [])) as string;
    await mint(20n);
    await mint(21n);
    await cursor.poll(handle);
    expect(seen).to.deep.equal([1n, 20n, 21n]);

    // The blocks holding 20 and 21 are orphaned; a longer branch holds 30 instead.
    await chain.provider.send("evm_revert", [snapshot]);
    await mint(30n);
    await mine(chain.provider, 3);
    const result = await cursor.poll(handle);
    expect(result.rewound).to.not.equal(undefined);
    expect(result.rewound!.to).to.be.lessThan(result.rewound!.from);
    expect(seen).to.deep.equal([1n, 20n, 21n, 30n]);
    const head = await chain.provider.getBlock("latest");
    expect(cursor.position).to.deep.equal({ block: head!.number, hash: head!.hash });
    store.close();
  });

  it("keeps running through an RPC outage longer than its retries, and stops when aborted", async () => {
    const store = StateStore.open(join(dir, "state.sqlite"));
    let outage = false;
    let failed = 0;
    const { double, url } = await FlakyRpcDouble.start(chain.url, () => (outage && failed++ < 40 ? "http-503" : undefined));
    const { provider } = await connectChain({ rpcUrl: url, pollIntervalMs: 20, retry: FAST_RETRY });
    const logs = captureLogger();
    const cursor = cursorOn(store, { provider, retry: { retries: 2, baseMs: 1, maxMs: 2 }, log: logs.log });
    const controller = new AbortController();
    const seen: bigint[] = [];
    outage = true;
    const running = cursor.run((l) => void seen.push(amountOf(l)), { signal: controller.signal, intervalMs: 10 });
    await mint(9n);
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    await running;
    provider.destroy();
    await double.close();
    expect(seen).to.deep.equal([9n]);
    expect(double.injected["http-503"]).to.equal(40);
    expect(logs.lines().filter((l) => l.msg === "event cursor: RPC unavailable; will retry").length).to.be.greaterThan(0);
    store.close();
  });

  it("refuses to rewind further than maxReorgDepth", async () => {
    const store = StateStore.open(join(dir, "state.sqlite"));
    const cursor = cursorOn(store, { maxReorgDepth: 2 });
    await mint(1n);
    await cursor.poll(() => undefined); // checkpoint at the mint's block, which stays on the chain
    const snapshot = (await chain.provider.send("evm_snapshot", [])) as string;
    await mine(chain.provider, 5);
    await cursor.poll(() => undefined); // checkpoint 5 blocks higher, soon orphaned
    await chain.provider.send("evm_revert", [snapshot]);
    await mint(2n);
    await mine(chain.provider, 8);
    const error = await cursor.poll(() => undefined).catch((e: unknown) => e);
    expect(isAgentError(error, "REORG_TOO_DEEP"), String(error)).to.equal(true);
    store.close();
  });
});
