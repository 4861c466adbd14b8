import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseEther, type JsonRpcProvider } from "ethers";
import { TxSender } from "../../../agents/chain/index.js";
import { afterTaskEnded } from "../../../agents/publisher/task-ended.js";
import { modelCommitment } from "../../../agents/protocol/commitments.js";
import { shardKeys, trainingUnlock } from "../../../agents/protocol/dataset-tree.js";
import { splitShards } from "../../../agents/protocol/split.js";
import { StateStore } from "../../../agents/state/store.js";
import type { TaskMarket } from "../../../types/index.js";
import { escrowFor, makeDataset, opening, taskRequest } from "../../market/helpers/market.js";
import { FAST_RETRY, startChain } from "../helpers/chain.js";
import { captureLogger } from "../helpers/log.js";
import { accounts, deployMarket, passTime } from "./helpers/market.js";

// Payouts are pulled: a settled task posts its list and each payee claims. The publisher's bond is
// on that list, so `podl publish` must claim it before it withdraws, or the bond stays in the market.
describe("podl publish after a task ends", function () {
  this.timeout(120_000);
  let chain: Awaited<ReturnType<typeof startChain>>;
  let provider: JsonRpcProvider;
  let market: TaskMarket;
  let dir: string;
  let store: StateStore;

  before(async () => {
    chain = await startChain();
    provider = chain.provider;
    market = (await deployMarket(provider)).market;
    dir = mkdtempSync(join(tmpdir(), "podl-task-ended-"));
    store = StateStore.open(join(dir, "state.sqlite"));
  });
  after(async () => {
    store?.close();
    await chain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Posts, starts, commits, reveals and settles a task; the settlement posts `bondBack` to the publisher. */
  async function settledTask(): Promise<{ taskId: bigint; bond: bigint }> {
    const publisher = market.connect(accounts.publisher.connect(provider));
    const dataset = makeDataset(10, "ended");
    await (await publisher.postTask(taskRequest(dataset, { flops: 10n ** 9n, reward: parseEther("1"), trainWindow: 600 }) as never, { value: escrowFor(parseEther("1")) })).wait();
    const taskId = await market.taskCount();
    await (await market.connect(accounts.keeper.connect(provider)).startNext()).wait();
    await provider.send("hardhat_mine", ["0x3"]); // the seed's randomness
    const split = splitShards((await market.getTask(taskId)).seed, 10, 3);
    const { keys, testLeaves } = trainingUnlock(dataset.shards, split.train, split.test);
    await (await publisher.unlockTrainingData(taskId, keys, testLeaves)).wait();
    const miner = accounts.miner.connect(provider);
    const o = opening("ended");
    const commitment = modelCommitment({ market: await market.getAddress(), chainId: 31337n, taskId, miner: miner.address, modelHash: o.modelHash, checkpointRoot: o.checkpointRoot, salt: o.salt });
    await (await market.connect(miner).commitModel(taskId, commitment, { value: (await market.getTask(taskId)).minerBond })).wait();
    await passTime(provider, (await market.getTask(taskId)).commitDeadline);
    await (await publisher.unlockTestData(taskId, shardKeys(dataset.shards, split.test))).wait();
    await (await market.connect(miner).revealModel(taskId, o.modelCid, o.modelHash, o.checkpointRoot, o.salt)).wait();
    await passTime(provider, (await market.getTask(taskId)).revealDeadline);
    const bond = (await market.getTask(taskId)).publisherBond;
    const pool = await market.taskPool(taskId);
    const payouts = [{ account: miner.address, amount: pool - bond }, { account: accounts.publisher.address, amount: bond }];
    await (await market.connect(accounts.settlement.connect(provider)).settle(taskId, { outcome: 0, payouts, winner: 0n, winnerScore: 9300, ommersHash: `0x${"00".repeat(32)}` })).wait();
    return { taskId, bond };
  }

  it("claims the publisher's posted bond and withdraws it, leaving nothing in the market", async () => {
    const { taskId, bond } = await settledTask();
    expect(bond).to.be.greaterThan(0n);
    const me = accounts.publisher.address;
    const wallet = accounts.publisher.connect(provider);
    const sender = new TxSender({ wallet, provider, chainId: 31337n, retry: FAST_RETRY, gasHeadroomPercent: 20, txTimeoutMs: 30_000, pollIntervalMs: 20, journal: store });
    const out: string[] = [];
    const before = await provider.getBalance(me);
    await afterTaskEnded({ market, settlement: undefined, startBlock: 0, sender, me, log: captureLogger().log, out: (l) => void out.push(l), pinTimeoutMs: 1_000, keepCredits: false }, taskId);

    const [claimed] = await market.queryFilter(market.filters.PayoutClaimed(taskId, undefined, me));
    expect(claimed, "the publisher's payout was claimed").to.not.equal(undefined);
    expect(claimed!.args.amount).to.equal(bond);
    expect(await market.creditOf(me, await (await market.getTask(taskId)).token)).to.equal(0n);
    const withdrawal = out.join("\n").match(/tx (0x[0-9a-f]{64})/)![1]!;
    let gas = 0n;
    for (const hash of [claimed!.transactionHash, withdrawal]) {
      const receipt = await provider.getTransactionReceipt(hash);
      gas += receipt!.gasUsed * receipt!.gasPrice;
    }
    expect(await provider.getBalance(me)).to.equal(before + bond - gas);
  });
});
