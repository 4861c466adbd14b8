import { expect } from "chai";
import { network } from "hardhat";
import { queueExponent, rankingScore, referenceReward } from "../../agents/protocol/ranking.js";
import { deployMarket, escrowFor, makeDataset, ONE, post, taskRequest, testParams, trainKeysFor, ZERO, type Deployed } from "./helpers/market.js";
import { claimAllPosted } from "../validators/helpers/world.js";

const conn = await network.create();
const { ethers, networkHelpers } = conn;
const dataset = makeDataset(12);

/** A 6-decimal stablecoin at 0.0005 ETH per whole token: 1 unit (1e-6 token) = 5e8 wei, i.e. unitScale 5e26. */
const USD = 10n ** 6n;
const USD_SCALE = 5n * 10n ** 26n;
/** An 18-decimal token at 2 ETH per whole token. */
const TWO_ETH_SCALE = 2n * ONE;

async function withTokens() {
  const d: Deployed = await deployMarket(conn);
  const usd = await ethers.deployContract("StablecoinDouble");
  const dear = await ethers.deployContract("PlainTokenDouble");
  const fee = await ethers.deployContract("FeeOnTransferTokenDouble");
  const hook = await ethers.deployContract("HookTokenDouble");
  const market = await d.market.getAddress();
  for (const who of [d.publisher, d.minerA]) {
    await usd.mint(await who.getAddress(), 1_000_000n * USD);
    await usd.connect(who).approve(market, 1_000_000n * USD);
    for (const t of [dear, fee, hook]) {
      await t.mint(await who.getAddress(), 1000n * ONE);
      await t.connect(who).approve(market, 1000n * ONE);
    }
  }
  // The stablecoin: at least 1 whole token; the dear token: at least 0.001 token.
  await d.market.connect(d.owner).setRewardToken(await usd.getAddress(), USD, USD_SCALE);
  await d.market.connect(d.owner).setRewardToken(await dear.getAddress(), ONE / 1000n, TWO_ETH_SCALE);
  return { ...d, usd, dear, fee, hook };
}

/** The TypeScript twin's score of a task posted with `taskRequest` defaults and this reference reward. */
function twinScore(reference: bigint, queueLength: bigint): number {
  const t = taskRequest(dataset);
  const q = queueExponent(queueLength, testParams.maxQueue, testParams.rankScale);
  return rankingScore({ modelBytes: t.modelBytes, dataBytes: t.dataBytes, flops: t.flops, reward: reference }, testParams, q);
}

describe("TaskMarket attack: rewards compared across tokens by raw units (issue 9 finding 13)", () => {
  it("test_postTask_sixDecimalTokenWithSensibleReward_postsAndRanksByReferenceValue", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    // 100 stablecoins (1e8 units, worth 0.05 ETH): under a raw floor of 1e12 units this was refused.
    const taskId = await post(d, dataset, { token: await d.usd.getAddress(), reward: 100n * USD });
    const reference = referenceReward(100n * USD, USD_SCALE);
    expect(reference).to.equal(ONE / 20n);
    const score = Number(await d.market.rankOf(taskId)) / 1e18;
    expect(Math.abs(score - twinScore(reference, 1n)) / score).to.be.at.most(1e-9);
    // Ranked as the ETH task of the same value: the same score.
    const ethTask = await post(d, dataset, { reward: ONE / 20n });
    expect(await d.market.rankOf(ethTask)).to.equal(await d.market.rankOf(taskId));
  });

  it("test_startNext_sixDecimalTaskWorthMore_startsBeforeTheEthTask", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    // 0.04 ETH against 100 stablecoins (0.05 ETH): by raw units (4e16 vs 1e8) the ETH task would go first.
    const ethTask = await post(d, dataset, { reward: ONE / 25n });
    const usdTask = await post(d, dataset, { token: await d.usd.getAddress(), reward: 100n * USD });
    expect(await d.market.rankOf(usdTask)).to.be.lessThan(await d.market.rankOf(ethTask));
    const [ids] = await d.lens.queuePage(0n, 10n);
    expect(ids).to.deep.equal([usdTask, ethTask]);
    await d.market.startNext();
    expect((await d.market.getTask(usdTask)).phase).to.equal(2n);
    expect((await d.market.getTask(ethTask)).phase).to.equal(1n);
  });

  it("test_rankOf_equalReferenceValueInThreeTokens_ranksEqually", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    // 0.1 ETH = 200 stablecoins = 0.05 of the 2-ETH token.
    const a = await post(d, dataset, { reward: ONE / 10n });
    const b = await post(d, dataset, { token: await d.usd.getAddress(), reward: 200n * USD });
    const c = await post(d, dataset, { token: await d.dear.getAddress(), reward: ONE / 20n });
    const score = await d.market.rankOf(a);
    expect(await d.market.rankOf(b)).to.equal(score);
    expect(await d.market.rankOf(c)).to.equal(score);
    // Equal scores go by task id.
    const [ids, scores] = await d.lens.queuePage(0n, 10n);
    expect(ids).to.deep.equal([a, b, c]);
    expect(scores).to.deep.equal([score, score, score]);
    await d.market.startNext();
    expect((await d.market.getTask(a)).phase).to.equal(2n);
  });

  it("test_postTask_unlistedFeeOnTransferOrHookToken_revertsTokenNotListed", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    for (const token of [await d.fee.getAddress(), await d.hook.getAddress()]) {
      await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset, { token }) as never))
        .to.be.revertedWithCustomError(d.market, "TokenNotListed")
        .withArgs(token);
    }
    expect(await d.fee.balanceOf(await d.market.getAddress())).to.equal(0n);
    expect(await d.hook.balanceOf(await d.market.getAddress())).to.equal(0n);
    expect(await d.market.taskCount()).to.equal(0n);
  });

  it("test_postTask_belowTheTokensMinimum_revertsRewardOutOfBounds", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    const usd = await d.usd.getAddress();
    const small = USD - 1n;
    await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset, { token: usd, reward: small }) as never))
      .to.be.revertedWithCustomError(d.market, "RewardOutOfBounds")
      .withArgs(small);
    // The minimum itself posts, with a publisher bond of 5 % of it (at least the minimum × publisherBondBps).
    const taskId = await post(d, dataset, { token: usd, reward: USD });
    expect((await d.market.getTask(taskId)).publisherBond).to.equal((USD * testParams.publisherBondBps) / 10_000n);
    // A reward worth more than 2^96-1 reference units does not fit the ranking.
    const dear = await d.dear.getAddress();
    await d.market.connect(d.owner).setRewardToken(dear, 1n, 10n ** 36n);
    const huge = 10n ** 12n;
    await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset, { token: dear, reward: huge }) as never))
      .to.be.revertedWithCustomError(d.market, "RewardOutOfBounds")
      .withArgs(huge);
  });

  it("test_setRewardToken_ownerDelistsToken_liveTasksKeepTokenRankAndBonds", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    const usd = await d.usd.getAddress();
    const market = await d.market.getAddress();
    const started = await post(d, dataset, { token: usd, reward: 100n * USD });
    const queued = await post(d, dataset, { token: usd, reward: 50n * USD });
    await d.market.startNext();
    // A control in ETH of the same value (50 stablecoins = 0.025 ETH), queued beside it.
    const control = await post(d, dataset, { reward: ONE / 40n });
    const rankBefore = await d.market.rankOf(queued);
    expect(await d.market.rankOf(control)).to.equal(rankBefore);
    const wordsBefore = await d.market.queueWords();
    await expect(d.market.connect(d.owner).setRewardToken(usd, 0n, 0n)).to.emit(d.market, "RewardTokenSet").withArgs(usd, 0n, 0n);
    expect(await d.market.rewardToken(usd)).to.deep.equal([0n, 0n]);
    // New posts stop.
    await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset, { token: usd, reward: 100n * USD }) as never))
      .to.be.revertedWithCustomError(d.market, "TokenNotListed")
      .withArgs(usd);
    // The queued task keeps its rank; the started one runs on in its token: keys, then a miner bond in it.
    expect(await d.market.queueWords()).to.deep.equal(wordsBefore);
    expect(await d.market.rankOf(queued)).to.equal(rankBefore);
    expect(await d.market.rankOf(control)).to.equal(rankBefore);
    await d.mineToSeed();
    const k = await trainKeysFor(d, started, dataset);
    await d.market.connect(d.publisher).unlockTrainingData(started, k.keys, k.testLeaves);
    await d.market.connect(d.minerA).commitModel(started, ethers.id("commitment"));
    const minerBond = (100n * USD * testParams.minerBondBps) / 10_000n;
    expect(await d.usd.balanceOf(market)).to.equal(escrowFor(100n * USD) + escrowFor(50n * USD) + minerBond);
    // Cancelling the queued task refunds it in its token.
    await d.market.connect(d.publisher).cancelQueued(queued);
    await claimAllPosted(d);
    expect(await d.market.creditOf(await d.publisher.getAddress(), usd)).to.equal(escrowFor(50n * USD));
  });

  it("test_setRewardToken_outOfBoundsOrNotOwner_reverts", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    const fee = await d.fee.getAddress();
    // ETH is listed at deployment: 1 wei at par (deployMarket then raises the minimum).
    const fresh = await (await ethers.getContractFactory("TaskMarket")).deploy(await d.owner.getAddress(), await d.registry.getAddress(), testParams);
    expect(await fresh.rewardToken(ZERO)).to.deep.equal([1n, ONE]);
    await expect(d.market.connect(d.publisher).setRewardToken(fee, 1n, ONE))
      .to.be.revertedWithCustomError(d.market, "OwnableUnauthorizedAccount")
      .withArgs(await d.publisher.getAddress());
    const bad: [bigint, bigint][] = [
      [0n, ONE], // no minimum
      [1n, 0n], // a minimum without a scale
      [1n, ONE - 1n], // a minimum worth under one reference unit
      [1n << 96n, ONE], // a minimum above the ranking's range
      [ONE, 10n ** 36n + 1n], // a scale above 1e36
    ];
    for (const [minReward, unitScale] of bad) {
      await expect(d.market.connect(d.owner).setRewardToken(fee, minReward, unitScale))
        .to.be.revertedWithCustomError(d.market, "RewardTokenTermsOutOfBounds")
        .withArgs(fee, minReward, unitScale);
    }
    await expect(d.market.connect(d.owner).setRewardToken(fee, 5n, ONE)).to.emit(d.market, "RewardTokenSet").withArgs(fee, 5n, ONE);
    expect(await d.market.rewardToken(fee)).to.deep.equal([5n, ONE]);
  });
});
