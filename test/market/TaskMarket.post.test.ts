import { expect } from "chai";
import { network } from "hardhat";
import { deployMarket, escrowFor, ETH_MIN_REWARD, makeDataset, ONE, post, taskRequest, testParams, ZERO, type Deployed } from "./helpers/market.js";
import { claimAllPosted } from "../validators/helpers/world.js";

const conn = await network.create();
const { ethers, networkHelpers } = conn;
const dataset = makeDataset(12);

async function deployed(): Promise<Deployed> {
  return deployMarket(conn);
}

async function withTokens() {
  const d = await deployed();
  const plain = await ethers.deployContract("PlainTokenDouble");
  const fee = await ethers.deployContract("FeeOnTransferTokenDouble");
  const publisher = await d.publisher.getAddress();
  for (const token of [plain, fee]) {
    // Listed, so that the checks past the allow-list are reached (an owner may list a bad token by mistake).
    await d.market.connect(d.owner).setRewardToken(await token.getAddress(), 1n, ONE);
    await token.mint(publisher, 1000n * ONE);
    await token.connect(d.publisher).approve(await d.market.getAddress(), 1000n * ONE);
  }
  return { ...d, plain, fee };
}

describe("TaskMarket: postTask", () => {
  it("escrows an ETH reward plus the publisher bond and queues the task", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const request = taskRequest(dataset);
    const value = escrowFor(ONE);
    await expect(d.market.connect(d.publisher).postTask(request as never, { value }))
      .to.emit(d.market, "TaskPosted")
      .withArgs(1n, await d.publisher.getAddress(), ZERO, ONE, value - ONE, dataset.root, request.specCid);
    expect(await ethers.provider.getBalance(await d.market.getAddress())).to.equal(value);
    const task = await d.market.getTask(1n);
    expect(task.phase).to.equal(1n); // Queued
    expect(task.reward).to.equal(ONE);
    expect(task.publisherBond).to.equal(ONE / 20n);
    expect(task.minerBond).to.equal(ONE / 100n);
    expect(await d.market.queueLength()).to.equal(1n);
    expect(await d.market.taskPool(1n)).to.equal(value);
  });

  it("escrows an ERC20 reward through transferFrom", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    const token = await d.plain.getAddress();
    await d.market.connect(d.publisher).postTask(taskRequest(dataset, { token }) as never);
    expect(await d.plain.balanceOf(await d.market.getAddress())).to.equal(escrowFor(ONE));
    expect((await d.market.getTask(1n)).token).to.equal(token);
  });

  it("rejects a token that takes a fee on transfer", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    const token = await d.fee.getAddress();
    const amount = escrowFor(ONE);
    await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset, { token }) as never))
      .to.be.revertedWithCustomError(d.market, "TokenShortfall")
      .withArgs(token, amount, amount - amount / 100n);
    expect(await d.fee.balanceOf(await d.market.getAddress())).to.equal(0n);
  });

  it("rejects ETH sent with an ERC20 task", async () => {
    const d = await networkHelpers.loadFixture(withTokens);
    await expect(
      d.market.connect(d.publisher).postTask(taskRequest(dataset, { token: await d.plain.getAddress() }) as never, { value: 1n }),
    )
      .to.be.revertedWithCustomError(d.market, "EthSentWithToken")
      .withArgs(1n);
  });

  it("rejects ETH that does not match reward plus bond", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset) as never, { value: ONE }))
      .to.be.revertedWithCustomError(d.market, "EthAmountMismatch")
      .withArgs(ONE, escrowFor(ONE));
  });

  it("rejects a zero reward", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset, { reward: 0n }) as never))
      .to.be.revertedWithCustomError(d.market, "RewardOutOfBounds")
      .withArgs(0n);
  });

  it("rejects a reward below the token's minReward or above 2^96-1", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const small = ETH_MIN_REWARD - 1n;
    await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset, { reward: small }) as never, { value: escrowFor(small) }))
      .to.be.revertedWithCustomError(d.market, "RewardOutOfBounds")
      .withArgs(small);
    const big = 1n << 96n;
    await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset, { reward: big }) as never))
      .to.be.revertedWithCustomError(d.market, "RewardOutOfBounds")
      .withArgs(big);
  });

  const shapeCases: [string, Record<string, unknown>, string, unknown[]][] = [
    ["9 shards", { shardCount: 9 }, "ShardCountOutOfBounds", [9n]],
    ["257 shards", { shardCount: 257 }, "ShardCountOutOfBounds", [257n]],
    ["no test shard", { testShards: 0 }, "TestShardsOutOfBounds", [0n, 12n]],
    ["no training shard", { testShards: 12 }, "TestShardsOutOfBounds", [12n, 12n]],
    ["a zero accuracy threshold", { accuracyThreshold: 0 }, "AccuracyThresholdOutOfBounds", [0n]],
    ["an accuracy threshold above 100 %", { accuracyThreshold: 10_001 }, "AccuracyThresholdOutOfBounds", [10_001n]],
    ["zero submissions", { maxSubmissions: 0 }, "MaxSubmissionsOutOfBounds", [0n]],
    ["65 submissions", { maxSubmissions: 65 }, "MaxSubmissionsOutOfBounds", [65n]],
    ["a train window below the minimum", { trainWindow: 59 }, "TrainWindowOutOfBounds", [59n]],
    ["a train window above the maximum", { trainWindow: 30 * 86_400 + 1 }, "TrainWindowOutOfBounds", [30n * 86_400n + 1n]],
    ["a zero dataset root", { datasetRoot: ethers.ZeroHash }, "DatasetRootZero", []],
    ["an empty spec CID", { specCid: "" }, "CidLengthOutOfBounds", [0n]],
    ["a spec CID over 128 bytes", { specCid: "b".repeat(129) }, "CidLengthOutOfBounds", [129n]],
    [
      "a transfer time over 2^64 ns",
      { dataBytes: (1n << 64n) - 1n, modelBytes: (1n << 64n) - 1n },
      "WorkloadOutOfBounds",
      [(1n << 64n) - 1n, (1n << 64n) - 1n, 10n ** 12n],
    ],
    ["a compute time over 2^64 s", { flops: (1n << 127n) }, "WorkloadOutOfBounds", [1_000_000n, 50_000_000n, 1n << 127n]],
    // A declared workload of 0 always ranked first (finding 5).
    ["zero FLOPs", { flops: 0n }, "WorkloadOutOfBounds", [1_000_000n, 50_000_000n, 0n]],
    ["zero data bytes", { dataBytes: 0n }, "WorkloadOutOfBounds", [1_000_000n, 0n, 10n ** 12n]],
    ["zero model bytes", { modelBytes: 0n }, "WorkloadOutOfBounds", [0n, 50_000_000n, 10n ** 12n]],
  ];
  for (const [what, overrides, error, args] of shapeCases) {
    it(`rejects ${what}`, async () => {
      const d = await networkHelpers.loadFixture(deployed);
      await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset, overrides) as never, { value: escrowFor(ONE) }))
        .to.be.revertedWithCustomError(d.market, error)
        .withArgs(...args);
    });
  }

  it("test_postTask_fullQueueAndNotStrictlyBetter_reverts", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    for (let i = 0; i < Number(testParams.maxQueue); i++) await post(d, dataset);
    // Equal score: no eviction.
    await expect(d.market.connect(d.publisher).postTask(taskRequest(dataset) as never, { value: escrowFor(ONE) }))
      .to.be.revertedWithCustomError(d.market, "QueueFull")
      .withArgs(testParams.maxQueue, testParams.maxQueue);
  });

  it("test_postTask_fullQueueStrictlyBetter_evictsTheWorstAndRefundsItsPublisherInFull", async () => {
    // A griefer who fills the queue with poorly paid tasks no longer blocks a better one (finding 5).
    const d = await networkHelpers.loadFixture(deployed);
    const griefer = d.outsider;
    for (let i = 0; i < Number(testParams.maxQueue); i++) {
      await d.market.connect(griefer).postTask(taskRequest(dataset, { reward: 2000n }) as never, { value: escrowFor(2000n) });
    }
    const tx = d.market.connect(d.publisher).postTask(taskRequest(dataset) as never, { value: escrowFor(ONE) });
    // Of equal scores the worst is the highest task id (ties start the lower id first).
    await expect(tx).to.emit(d.market, "TaskEvicted").withArgs(testParams.maxQueue, testParams.maxQueue + 1n);
    expect((await d.market.getTask(testParams.maxQueue)).phase).to.equal(7n); // Cancelled
    await claimAllPosted(d);
    expect(await d.market.creditOf(await griefer.getAddress(), ZERO)).to.equal(escrowFor(2000n));
    expect(await d.market.queueLength()).to.equal(testParams.maxQueue);
    const [ids] = await d.lens.queuePage(0n, 1n);
    expect(ids[0]).to.equal(testParams.maxQueue + 1n);
    // Another task no better than the worst left is refused.
    await expect(d.market.connect(griefer).postTask(taskRequest(dataset, { reward: 2000n }) as never, { value: escrowFor(2000n) }))
      .to.be.revertedWithCustomError(d.market, "QueueFull");
  });
});

describe("TaskMarket: queue cancellation", () => {
  it("lets the publisher withdraw a queued task and credits reward and bond back", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const taskId = await post(d, dataset);
    await expect(d.market.connect(d.publisher).cancelQueued(taskId)).to.emit(d.market, "TaskCancelled");
    expect((await d.market.getTask(taskId)).phase).to.equal(7n); // Cancelled
    await claimAllPosted(d);
    expect(await d.market.creditOf(await d.publisher.getAddress(), ZERO)).to.equal(escrowFor(ONE));
    expect(await d.market.queueLength()).to.equal(0n);
  });

  it("rejects cancelQueued from anyone but the publisher", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const taskId = await post(d, dataset);
    await expect(d.market.connect(d.outsider).cancelQueued(taskId))
      .to.be.revertedWithCustomError(d.market, "NotPublisher")
      .withArgs(taskId, await d.outsider.getAddress());
  });

  it("expireQueued: too early reverts, after maxQueueTime anyone cancels, a second call reverts", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const taskId = await post(d, dataset);
    const { deadline } = await d.market.getTask(taskId);
    await expect(d.market.connect(d.keeper).expireQueued(taskId))
      .to.be.revertedWithCustomError(d.market, "TooEarly")
      .withArgs(taskId, deadline);
    await networkHelpers.time.increaseTo(deadline + 1n);
    await d.market.connect(d.keeper).expireQueued(taskId);
    await claimAllPosted(d);
    expect(await d.market.creditOf(await d.publisher.getAddress(), ZERO)).to.equal(escrowFor(ONE));
    await expect(d.market.connect(d.keeper).expireQueued(taskId))
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase")
      .withArgs(taskId, 7n);
  });

  it("expireQueued after the task started reverts (too late)", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const taskId = await post(d, dataset);
    await d.market.startNext();
    await expect(d.market.connect(d.keeper).expireQueued(taskId))
      .to.be.revertedWithCustomError(d.market, "TaskNotInPhase")
      .withArgs(taskId, 2n);
  });

  it("rejects calls on an unknown task", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await expect(d.market.getTask(99n)).to.be.revertedWithCustomError(d.market, "TaskUnknown").withArgs(99n);
  });
});

describe("TaskMarket: parameters", () => {
  it("emits ParamsUpdated when the owner changes them", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const next = { ...testParams, maxQueue: 16n };
    await expect(d.market.connect(d.owner).setParams(next)).to.emit(d.market, "ParamsUpdated");
    expect((await d.market.params()).maxQueue).to.equal(16n);
  });

  it("rejects parameter changes from anyone but the owner", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    await expect(d.market.connect(d.outsider).setParams(testParams))
      .to.be.revertedWithCustomError(d.market, "OwnableUnauthorizedAccount")
      .withArgs(await d.outsider.getAddress());
  });

  const bad: [keyof typeof testParams, bigint, number][] = [
    ["maxQueue", 1n, 0],
    ["maxQueue", 129n, 0],
    ["maxActive", 0n, 1],
    ["maxActive", 65n, 1],
    ["minCommittee", 0n, 2],
    ["publisherBondBps", 99n, 3], // floor: a publisher bond of at least 1 % (finding 5)
    ["publisherBondBps", 5001n, 3],
    ["minerBondBps", 99n, 4], // floor: filling k submission slots costs at least k % of the reward (finding 7)
    ["minerBondBps", 5001n, 4],
    ["keyWindow", 9n, 5],
    ["testKeyWindow", 31n * 86_400n, 6],
    ["revealWindow", 0n, 7],
    ["maxQueueTime", 59n, 8],
    ["minTrainWindow", 30n * 86_400n + 1n, 9],
    ["maxTrainWindow", 366n * 86_400n, 10],
    ["medianBandwidth", 0n, 11],
    ["medianCompute", 0n, 12],
    ["rankScale", 10n ** 16n - 1n, 13],
    ["rankScale", 10n * ONE + 1n, 13],
  ];
  for (const [field, value, index] of bad) {
    it(`rejects ${field} = ${value}`, async () => {
      const d = await networkHelpers.loadFixture(deployed);
      await expect(d.market.connect(d.owner).setParams({ ...testParams, [field]: value }))
        .to.be.revertedWithCustomError(d.market, "ParamOutOfBounds")
        .withArgs(index, value);
    });
  }

  it("rejects out-of-bounds parameters at deployment", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const factory = await ethers.getContractFactory("TaskMarket");
    await expect(factory.deploy(await d.owner.getAddress(), await d.registry.getAddress(), { ...testParams, maxQueue: 0n }))
      .to.be.revertedWithCustomError(d.market, "ParamOutOfBounds")
      .withArgs(0n, 0n);
  });

  it("hands ownership over in two steps", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const next = await d.outsider.getAddress();
    await d.market.connect(d.owner).transferOwnership(next);
    expect(await d.market.owner()).to.equal(await d.owner.getAddress());
    await d.market.connect(d.outsider).acceptOwnership();
    expect(await d.market.owner()).to.equal(next);
  });

  it("sets the settlement module for new tasks, owner only, and may point new tasks at another", async () => {
    const d = await networkHelpers.loadFixture(deployed);
    const s = await d.settlementAccount.getAddress();
    await expect(d.market.connect(d.outsider).setSettlement(s)).to.be.revertedWithCustomError(d.market, "OwnableUnauthorizedAccount");
    await expect(d.market.connect(d.owner).setSettlement(ZERO)).to.be.revertedWithCustomError(d.market, "SettlementZero");
    await expect(d.market.connect(d.owner).setSettlement(s)).to.emit(d.market, "SettlementSet").withArgs(s);
    expect(await d.market.settlement()).to.equal(s);
    const first = await post(d, dataset);
    const next = await d.outsider.getAddress();
    await expect(d.market.connect(d.owner).setSettlement(next)).to.emit(d.market, "SettlementSet").withArgs(next);
    const second = await post(d, dataset);
    expect(await d.market.settlementOf(first)).to.equal(s);
    expect(await d.market.settlementOf(second)).to.equal(next);
  });
});
