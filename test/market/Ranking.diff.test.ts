import { expect } from "chai";
import { network } from "hardhat";
import { computeLog2, queueExponent, rankingScore, rankQueue, referenceReward, scoreFromUd, type RankingTask } from "../../agents/protocol/ranking.js";
import { deployMarket, escrowFor, makeDataset, taskRequest, testParams } from "./helpers/market.js";
import { logUniform, randomStream } from "./helpers/random.js";

const conn = await network.create();
const { ethers } = conn;

const ONE = 10n ** 18n;
const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

interface Input {
  modelBytes: bigint;
  dataBytes: bigint;
  flops: bigint;
  reward: bigint;
  bandwidth: bigint;
  compute: bigint;
  queueLength: bigint;
  maxQueue: bigint;
  rankScale: bigint;
}

function randomInputs(count: number): Input[] {
  const next = randomStream("ranking-diff");
  const inputs: Input[] = [];
  while (inputs.length < count) {
    const maxQueue = 2n + next(127n);
    const input: Input = {
      modelBytes: logUniform(next, 1n, 10n ** 10n),
      dataBytes: logUniform(next, 1n, 10n ** 12n),
      flops: logUniform(next, 1n, 10n ** 21n),
      reward: logUniform(next, 10n ** 9n, 10n ** 24n),
      bandwidth: logUniform(next, 10n ** 3n, 10n ** 10n),
      compute: logUniform(next, 10n ** 6n, 10n ** 14n),
      queueLength: 1n + next(maxQueue),
      maxQueue,
      rankScale: logUniform(next, 10n ** 16n, 10n * ONE),
    };
    // Keep dn within the queue word (2^64 ns); the market rejects the rest.
    if ((input.modelBytes + input.dataBytes) * 1_000_000_000n / input.bandwidth >= 1n << 64n) continue;
    inputs.push(input);
  }
  return inputs;
}

function relative(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

describe("Ranking: contract vs TypeScript reference", () => {
  it("agrees within 1e-9 relative on 1,000 random inputs", async () => {
    const harness = await ethers.deployContract("RankingHarness");
    const inputs = randomInputs(1000);
    let worst = 0;
    for (let start = 0; start < inputs.length; start += 250) {
      const batch = inputs.slice(start, start + 250);
      const [scores, qs] = await harness.scores(batch);
      batch.forEach((x, i) => {
        const q = queueExponent(x.queueLength, x.maxQueue, x.rankScale);
        const qChain = Number(qs[i]!) / 1e18;
        expect(Math.abs(qChain - q)).to.be.at.most(1e-15, `q of input ${start + i}`);
        const ts = rankingScore(x, { medianBandwidth: x.bandwidth, medianCompute: x.compute }, q);
        const chain = scoreFromUd(scores[i]!);
        const err = relative(chain, ts);
        worst = Math.max(worst, err);
        expect(err).to.be.at.most(1e-9, `input ${start + i}: chain ${chain}, ts ${ts}`);
      });
    }
    expect(worst).to.be.lessThan(1e-9);
  });

  it("clamps q to [0, 2] on both sides", async () => {
    const harness = await ethers.deployContract("RankingHarness");
    expect(await harness.exponent(1n, 128n, ONE)).to.equal(0n);
    expect(queueExponent(1n, 128n, ONE)).to.equal(0);
    expect(await harness.exponent(128n, 2n, 10n * ONE)).to.equal(2n * ONE);
    expect(queueExponent(128n, 2n, 10n * ONE)).to.equal(2);
  });

  it("a mixed-token queue (ETH, a 6-decimal and an 18-decimal token) starts in rankQueue's order over reference rewards", async () => {
    const d = await deployMarket(conn);
    const dataset = makeDataset(12);
    const next = randomStream("mixed-token-order");
    const market = await d.market.getAddress();
    const usd = await ethers.deployContract("StablecoinDouble");
    const dear = await ethers.deployContract("PlainTokenDouble");
    await usd.mint(await d.publisher.getAddress(), 10n ** 18n);
    await usd.connect(d.publisher).approve(market, 10n ** 18n);
    await dear.mint(await d.publisher.getAddress(), 10n ** 24n);
    await dear.connect(d.publisher).approve(market, 10n ** 24n);
    // 0.0005 ETH per stablecoin (6 decimals) and 2 ETH per whole dear token.
    const tokens = [
      { token: ZERO_ADDRESS, unitScale: ONE },
      { token: await usd.getAddress(), unitScale: 5n * 10n ** 26n },
      { token: await dear.getAddress(), unitScale: 2n * ONE },
    ];
    for (const t of tokens.slice(1)) await d.market.connect(d.owner).setRewardToken(t.token, 1n, t.unitScale);
    const tasks: RankingTask[] = [];
    for (let i = 1n; i <= 7n; i++) {
      const { token, unitScale } = tokens[Number(next(3n))]!;
      // Rewards worth 1e15..1e19 wei, in the token's own units.
      const reward = (logUniform(next, 10n ** 15n, 10n ** 19n) * ONE) / unitScale;
      const work = { modelBytes: logUniform(next, 1n, 10n ** 9n), dataBytes: logUniform(next, 1n, 10n ** 10n), flops: logUniform(next, 10n ** 9n, 10n ** 16n) };
      tasks.push({ taskId: i, ...work, reward: referenceReward(reward, unitScale) });
      await d.market.connect(d.publisher).postTask(taskRequest(dataset, { ...work, token, reward }) as never, { value: token === ZERO_ADDRESS ? escrowFor(reward) : 0n });
    }
    const expected = rankQueue(tasks, testParams);
    const [ids, scores] = await d.lens.queuePage(0n, 10n);
    expect(ids).to.deep.equal(expected.map((e) => e.taskId));
    scores.forEach((s, i) => expect(relative(scoreFromUd(s), expected[i]!.score)).to.be.at.most(1e-9));
    await d.market.startNext();
    expect((await d.market.getTask(expected[0]!.taskId)).phase).to.equal(2n);
  });

  it("counts a compute time under one second as one second", () => {
    expect(computeLog2(10n, 1000n)).to.equal(0);
  });

  it("the market's queuePage order matches rankQueue", async () => {
    const d = await deployMarket(conn);
    const dataset = makeDataset(12);
    const next = randomStream("queue-order");
    const tasks = [];
    for (let i = 1n; i <= 6n; i++) {
      const t = { taskId: i, modelBytes: logUniform(next, 1n, 10n ** 9n), dataBytes: logUniform(next, 1n, 10n ** 10n), flops: logUniform(next, 10n ** 9n, 10n ** 16n), reward: logUniform(next, 10n ** 15n, 10n ** 19n) };
      tasks.push(t);
      await d.market.connect(d.publisher).postTask(taskRequest(dataset, t) as never, { value: escrowFor(t.reward) });
    }
    const [ids, scores] = await d.lens.queuePage(0n, 10n);
    const expected = rankQueue(tasks, testParams);
    expect(ids).to.deep.equal(expected.map((e) => e.taskId));
    scores.forEach((s, i) => expect(relative(scoreFromUd(s), expected[i]!.score)).to.be.at.most(1e-9));
    for (const t of tasks) expect(relative(scoreFromUd(await d.market.rankOf(t.taskId)), expected.find((e) => e.taskId === t.taskId)!.score)).to.be.at.most(1e-9);
    const [page] = await d.lens.queuePage(2n, 2n);
    expect(page).to.deep.equal(expected.slice(2, 4).map((e) => e.taskId));
    await d.market.startNext();
    expect((await d.market.getTask(expected[0]!.taskId)).phase).to.equal(2n);
  });

  it("startNext drains a random queue, cancelled in places, in the reference order (the lower-bound pruning changes nothing)", async () => {
    const params = { ...testParams, maxQueue: 24n, maxActive: 64n };
    const d = await deployMarket(conn, params);
    const dataset = makeDataset(12);
    const next = randomStream("drain-order");
    let remaining: RankingTask[] = [];
    for (let i = 1n; i <= 24n; i++) {
      // Every third task repeats the previous one: exact ties, broken by task id.
      const t: RankingTask = i % 3n === 0n
        ? { ...remaining[remaining.length - 1]!, taskId: i }
        : { taskId: i, modelBytes: logUniform(next, 1n, 10n ** 9n), dataBytes: logUniform(next, 1n, 10n ** 10n), flops: logUniform(next, 10n ** 9n, 10n ** 16n), reward: logUniform(next, 10n ** 15n, 10n ** 19n) };
      remaining.push(t);
      await d.market.connect(d.publisher).postTask(taskRequest(dataset, { ...t }) as never, { value: escrowFor(t.reward) });
    }
    // Cancellations from the middle move the last task's word and ranking key into the gap.
    for (const id of [5n, 11n, 1n]) {
      await d.market.connect(d.publisher).cancelQueued(id);
      remaining = remaining.filter((t) => t.taskId !== id);
    }
    while (remaining.length > 0) {
      const expected = rankQueue(remaining, params)[0]!.taskId;
      await d.market.startNext();
      const [started] = (await d.market.queryFilter(d.market.filters.TaskStarted())).slice(-1);
      expect(started!.args.taskId).to.equal(expected);
      remaining = remaining.filter((t) => t.taskId !== expected);
    }
  });
});
