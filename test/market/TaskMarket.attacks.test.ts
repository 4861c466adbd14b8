import { expect } from "chai";
import { network } from "hardhat";
import { deployMarket, makeDataset, ONE, post, taskRequest, type Deployed } from "./helpers/market.js";

const conn = await network.create();
const { ethers, networkHelpers } = conn;
const dataset = makeDataset(12);

async function withHookToken() {
  const d: Deployed = await deployMarket(conn);
  const hook = await ethers.deployContract("HookTokenDouble");
  await hook.mint(await d.publisher.getAddress(), 1000n * ONE);
  await hook.connect(d.publisher).approve(await d.market.getAddress(), 1000n * ONE);
  return { ...d, hook };
}

describe("TaskMarket attack: a reward token whose hook re-enters the market (finding 12)", () => {
  it("test_postTask_tokenHookReentersStartNext_reverts", async () => {
    const d = await networkHelpers.loadFixture(withHookToken);
    await post(d, dataset);
    await post(d, dataset);
    // Mid-transfer, the token starts a queued task: the queue shrinks under postTask's feet.
    await d.hook.arm(await d.market.getAddress(), d.market.interface.encodeFunctionData("startNext"));
    const request = taskRequest(dataset, { token: await d.hook.getAddress() });
    await expect(d.market.connect(d.publisher).postTask(request as never))
      .to.be.revertedWithCustomError(d.market, "ReentrancyGuardReentrantCall");
    expect(await d.market.queueLength()).to.equal(2n);
    expect(await d.market.activeCount()).to.equal(0n);
  });

  it("test_postTask_tokenHookReentersExpireQueued_reverts", async () => {
    const d = await networkHelpers.loadFixture(withHookToken);
    await post(d, dataset);
    const { time } = networkHelpers;
    await time.increase(86_401);
    await d.hook.arm(await d.market.getAddress(), d.market.interface.encodeFunctionData("expireQueued", [1n]));
    const request = taskRequest(dataset, { token: await d.hook.getAddress() });
    await expect(d.market.connect(d.publisher).postTask(request as never))
      .to.be.revertedWithCustomError(d.market, "ReentrancyGuardReentrantCall");
    expect(await d.market.queueLength()).to.equal(1n);
  });
});
