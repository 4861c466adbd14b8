import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Wallet, ZeroAddress, formatEther, formatUnits, parseEther, type JsonRpcProvider } from "ethers";
import { unclaimedByToken } from "../../../../agents/chain/payouts.js";
import { main } from "../../../../agents/cli/podl.js";
import type { MarketStatus } from "../../../../agents/cli/commands/status.js";
import { shardKeys, trainingUnlock } from "../../../../agents/protocol/dataset-tree.js";
import { modelCommitment } from "../../../../agents/protocol/commitments.js";
import { splitShards } from "../../../../agents/protocol/split.js";
import { QueueLens__factory, RewardToken__factory, ValidatorRegistry__factory, type TaskMarket } from "../../../../types/index.js";
import { escrowFor, makeDataset, opening, taskRequest, type Dataset } from "../../../market/helpers/market.js";
import { accounts, deploy, deployMarket, passTime } from "../../publisher/helpers/market.js";
import { startChain } from "../../helpers/chain.js";

describe("podl status and podl withdraw", function () {
  this.timeout(120_000);
  let chain: Awaited<ReturnType<typeof startChain>>;
  let provider: JsonRpcProvider;
  let market: TaskMarket;
  let dir: string;
  let book: string;
  let lens: string;
  let token: string;
  const datasets: Dataset[] = [];

  before(async () => {
    chain = await startChain();
    provider = chain.provider;
    const deployed = await deployMarket(provider);
    market = deployed.market;
    const owner = accounts.owner.connect(provider);
    lens = await deploy("QueueLens", [await market.getAddress()], accounts.owner, provider);
    token = await deploy("RewardToken", [owner.address], accounts.owner, provider);
    dir = mkdtempSync(join(tmpdir(), "podl-status-"));
    book = join(dir, "deployment.json");
    writeFileSync(
      book,
      JSON.stringify({
        network: "test",
        chainId: "31337",
        block: deployed.block,
        contracts: { TaskMarket: await market.getAddress(), ValidatorRegistry: await market.registry(), QueueLens: lens, RewardToken: token },
      }),
    );
  });
  after(async () => {
    await chain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function podl(args: string[], key?: Wallet): Promise<{ code: number; out: string[]; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const env: Record<string, string> = { PODL_RPC_URL: chain.url, PODL_DATA_DIR: join(dir, "state"), PODL_POLL_INTERVAL_MS: "50", PODL_LOG_LEVEL: "warn", PODL_DEPLOYMENT: book };
    if (key) env.PODL_PRIVATE_KEY = key.privateKey;
    const code = await main(args, { out: (l) => void out.push(l), err: (l) => void err.push(l), env });
    return { code, out, err: err.join("\n") };
  }

  async function status(account?: string): Promise<MarketStatus> {
    const r = await podl(["status", "--json", ...(account ? ["--account", account] : [])]);
    expect(r.code, r.err).to.equal(0);
    return JSON.parse(r.out[0]!) as MarketStatus;
  }

  const publisher = () => market.connect(accounts.publisher.connect(provider));

  async function post(flops: bigint, label: string): Promise<bigint> {
    const dataset = makeDataset(10, label);
    datasets.push(dataset);
    const request = taskRequest(dataset, { flops, reward: parseEther("1"), trainWindow: 600 });
    await (await publisher().postTask(request as never, { value: escrowFor(parseEther("1")) })).wait();
    return await market.taskCount();
  }

  async function unlock(taskId: bigint, set: "train" | "test"): Promise<void> {
    const t = await market.getTask(taskId);
    const dataset = datasets[Number(taskId) - 1]!;
    const split = splitShards(t.seed, 10, 3);
    if (set === "train") {
      const { keys, testLeaves } = trainingUnlock(dataset.shards, split.train, split.test);
      await (await publisher().unlockTrainingData(taskId, keys, testLeaves)).wait();
    } else {
      await (await publisher().unlockTestData(taskId, shardKeys(dataset.shards, split.test))).wait();
    }
  }

  it("answers --help for both commands", async () => {
    for (const name of ["status", "withdraw"]) {
      const r = await podl([name, "--help"]);
      expect(r.code).to.equal(0);
      expect(r.out.join("\n")).to.match(new RegExp(`^Usage: podl ${name} \\[options\\]`)).and.to.contain("--deployment <value>");
    }
  });

  it("shows the queue in start order with DLBC scores, the active task, its submissions, the learning chain and an account", async () => {
    const heavy = await post(10n ** 15n, "heavy");
    const light = await post(10n ** 9n, "light");
    const middle = await post(10n ** 12n, "middle");

    let s = await status();
    expect(s.queue.map((q) => q.taskId)).to.deep.equal([light, middle, heavy].map(String)); // less work, lower score
    const scores = await QueueLens__factory.connect(lens, provider).queuePage(0, 8);
    expect(s.queue.map((q) => q.score)).to.deep.equal(scores[1].map((x) => formatUnits(x, 18)));
    expect(Number(s.queue[0]!.score)).to.be.below(Number(s.queue[2]!.score));
    expect([s.active, s.learningChain.height, s.account]).to.deep.equal([[], "0", undefined]);

    // The lowest score starts; its keys are unlocked; a miner commits and, after the deadline, reveals.
    await (await market.connect(accounts.keeper.connect(provider)).startNext()).wait();
    await provider.send("hardhat_mine", ["0x3"]); // the seed's randomness (a block hash two blocks on)
    await unlock(light, "train");
    const miner = accounts.miner.connect(provider);
    const o = opening("status");
    const commitment = modelCommitment({ market: await market.getAddress(), chainId: 31337n, taskId: light, miner: miner.address, modelHash: o.modelHash, checkpointRoot: o.checkpointRoot, salt: o.salt });
    await (await market.connect(miner).commitModel(light, commitment, { value: (await market.getTask(light)).minerBond })).wait();
    s = await status();
    expect(s.queue.map((q) => q.taskId)).to.deep.equal([middle, heavy].map(String));
    expect(s.active).to.have.length(1);
    expect(s.active[0]).to.include({ taskId: String(light), phase: "committing", committed: 1, maxSubmissions: 4, deadline: Number((await market.getTask(light)).commitDeadline) });

    await passTime(provider, (await market.getTask(light)).commitDeadline);
    await unlock(light, "test");
    await (await market.connect(miner).revealModel(light, o.modelCid, o.modelHash, o.checkpointRoot, o.salt)).wait();
    s = await status();
    expect(s.active[0]!.phase).to.equal("revealing");
    expect(s.active[0]!.submissions).to.deep.equal([{ miner: miner.address, modelHash: o.modelHash, commitSeq: 1, modelCid: o.modelCid }]);

    // Settlement (an outside account in this test) pays the miner and appends the first learning block.
    await passTime(provider, (await market.getTask(light)).revealDeadline);
    const pool = await market.taskPool(light);
    await (await market.connect(accounts.settlement.connect(provider)).settle(light, { outcome: 0, payouts: [{ account: miner.address, amount: pool }], winner: 0n, winnerScore: 9300, ommersHash: `0x${"00".repeat(32)}` })).wait();
    s = await status(miner.address);
    expect(s.learningChain).to.deep.include({ height: "1", head: await market.chainHead() });
    expect(s.learningChain.blocks).to.deep.equal([{ height: "1", taskId: String(light), winner: miner.address, score: 9300, modelHash: o.modelHash }]);
    expect(s.recent).to.deep.equal([{ taskId: String(light), phase: "settled", winner: miner.address, score: 9300 }]);
    // posted, not yet credited: the payout waits for a claim (podl withdraw claims it)
    expect(s.account!.marketCredits).to.deep.equal({ [ZeroAddress]: "0", [token]: "0" });
    expect(s.account!.unclaimedPayouts).to.deep.equal({ [ZeroAddress]: pool.toString() });
    expect(s.account!.eth).to.equal((await provider.getBalance(miner.address)).toString());
    expect(s.account!.registry).to.include({ stake: "0", bonded: false, credit: "0" });

    // The same for people, the account taken from the configured key.
    const text = await podl(["status"], accounts.miner);
    expect(text.code, text.err).to.equal(0);
    const lines = text.out.join("\n");
    expect(lines).to.contain("learning chain: height 1");
    expect(lines).to.contain(`  1. task ${middle}: score `);
    expect(lines).to.contain(`task ${light}: settled, winner ${miner.address} at 93.00 %`);
    expect(lines).to.contain(`account ${miner.address}:`);
    expect(lines).to.contain(`unclaimed payouts (podl withdraw claims them): ${formatEther(pool)} ETH`);
  });

  it("claims the posted payout, withdraws the market credit once and then has nothing to withdraw", async () => {
    const miner = accounts.miner;
    expect(await market.creditOf(miner.address, ZeroAddress)).to.equal(0n);
    const credit = (await unclaimedByToken(market, miner.address)).get(ZeroAddress)!;
    expect(credit).to.be.greaterThan(0n);
    const before = await provider.getBalance(miner.address);
    const first = await podl(["withdraw"], miner);
    expect(first.code, first.err).to.equal(0);
    expect(first.out[0]).to.match(new RegExp(`^withdrew ${formatEther(credit)} \\(market credit in ETH\\), tx 0x[0-9a-f]{64}$`));
    expect(await market.creditOf(miner.address, ZeroAddress)).to.equal(0n);
    const receipt = await provider.getTransactionReceipt(first.out[0]!.split("tx ")[1]!);
    // the miner's own claim transaction (podl withdraw claimed the posted payout first) costs gas too
    const [claimed] = await market.queryFilter(market.filters.PayoutClaimed(undefined, undefined, miner.address));
    expect(claimed!.args.amount).to.equal(credit);
    const claim = await provider.getTransactionReceipt(claimed!.transactionHash);
    const gas = receipt!.gasUsed * receipt!.gasPrice + claim!.gasUsed * claim!.gasPrice;
    expect(await provider.getBalance(miner.address)).to.equal(before + credit - gas);

    const second = await podl(["withdraw"], miner);
    expect(second.out).to.deep.equal([`nothing to withdraw for ${miner.address}`]);
  });

  it("unbonds a validator's stake with --unbond and withdraws it after the unbonding period", async () => {
    const validator = accounts.validators[0]!;
    const registry = ValidatorRegistry__factory.connect(await market.registry(), provider);
    const bonded = await podl(["withdraw"], validator);
    expect(bonded.out).to.deep.equal(["stake 1.0 stays bonded (--unbond starts the 3600 s unbonding period)"]);

    const unbond = await podl(["withdraw", "--unbond"], validator);
    expect(unbond.code, unbond.err).to.equal(0);
    expect(unbond.out[0]).to.match(/^unbonding 1\.0 of stake, tx 0x[0-9a-f]{64}; withdraw it after 3600 s$/);
    const s = await status(validator.address);
    expect(s.account!.registry).to.include({ bonded: false, withdrawableAt: Number((await registry.getValidator(validator.address)).unbondingAt) + 3600 });

    const early = await podl(["withdraw"], validator);
    expect(early.out[0]).to.match(/^stake 1\.0 is unbonding: withdrawable in \d+ s$/);

    await passTime(provider, BigInt(s.account!.registry.withdrawableAt));
    const done = await podl(["withdraw"], validator);
    expect(done.out[0]).to.match(/^withdrew 1\.0 \(unbonded validator stake\), tx 0x/);
    expect((await registry.getValidator(validator.address)).stake).to.equal(0n);
  });

  it("fails clearly on a bad address, a market address without code and a missing key", async () => {
    const bad = await podl(["status", "--market", "0x1234"]);
    expect([bad.code, bad.err]).to.satisfy(([c, e]: [number, string]) => c === 1 && /market: must be a 0x address \(--market\) \[CONFIG_INVALID\]/.test(e));
    const empty = await podl(["status", "--market", Wallet.createRandom().address]);
    expect(empty.code).to.equal(1);
    expect(empty.err).to.match(/no contract at market address 0x[0-9a-fA-F]{40} on this chain .* \[CONFIG_INVALID\]/);
    const keyless = await podl(["withdraw"]);
    expect(keyless.code).to.equal(1);
    expect(keyless.err).to.match(/\[KEY_MISSING\]$/);
    const reward = RewardToken__factory.connect(token, provider);
    expect(await reward.totalSupply()).to.equal(0n); // nothing above minted or moved tokens
  });
});
