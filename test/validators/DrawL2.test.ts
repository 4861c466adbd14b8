import { expect } from "chai";
import { network } from "hardhat";
import { escrowFor, makeDataset, taskRequest, testParams } from "../market/helpers/market.js";

/**
 * The committee draw on an L2 (an OP-stack chain, simulated by Hardhat's EDR): the registry takes its
 * randomness from Chainlink VRF v2.5 (VrfRandomness) instead of a block hash, which one sequencer makes.
 * The coordinator is a test double (VrfCoordinatorDouble), the boundary we do not own.
 */
const conn = await network.create({ network: "hardhatOp", chainType: "op" });
const { ethers, networkHelpers } = conn;

const ONE = 10n ** 18n;
const TIMEOUT_BLOCKS = 50n;
const params = { minStake: ONE, unbondingPeriod: 3600n, warmupBlocks: 1n, maxValidators: 64n };

async function deploy() {
  const [owner, settlement, outsider, ...validators] = await ethers.getSigners();
  const coordinator = await ethers.deployContract("VrfCoordinatorDouble");
  const source = await ethers.deployContract("VrfRandomness", [
    owner!.address, await coordinator.getAddress(), ethers.id("gas lane"), 1n, 3n, 100_000n, TIMEOUT_BLOCKS,
  ]);
  const registry = await ethers.deployContract("ValidatorRegistry", [owner!.address, ethers.ZeroAddress, await source.getAddress(), params]);
  await source.setConsumer(await registry.getAddress(), true);
  await registry.setSettlement(settlement!.address);
  for (const v of validators.slice(0, 6)) await registry.connect(v).stake(ONE, { value: ONE });
  await networkHelpers.mine(2);
  return { coordinator, source, registry, settlement: settlement!, outsider: outsider! };
}

describe("Committee draw on an OP-stack L2 (VRF randomness)", () => {
  it("runs on a chain of type op", () => {
    expect(conn.chainType).to.equal("op");
  });

  it("test_drawCommittee_onAnL2_waitsForTheVrfAnswerAndDrawsFromIt", async () => {
    const { coordinator, source, registry, settlement } = await networkHelpers.loadFixture(deploy);
    await registry.connect(settlement).requestDraw(1n, 0n);
    const { randomnessId } = await registry.drawRequest(1n, 0n);
    // blocks alone do not answer it: only the coordinator does
    await networkHelpers.mine(10);
    await expect(registry.connect(settlement).drawCommittee(1n, 0n, 3n, 3n, []))
      .to.be.revertedWithCustomError(registry, "DrawTooEarly")
      .withArgs(1n, 0n, randomnessId);
    const word = 0x5eedn;
    await expect(coordinator.fulfill(randomnessId, word)).to.emit(source, "RandomnessFulfilled");
    const seed = ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256", "uint256"], [ethers.toBeHex(word, 32), 1n, 0n]));
    const expected = await registry.previewDraw(seed, 3n, []);
    await expect(registry.connect(settlement).drawCommittee(1n, 0n, 3n, 3n, []))
      .to.emit(registry, "CommitteeDrawn")
      .withArgs(1n, 0n, [...expected], seed);
  });

  it("test_request_byAnAccountThatIsNotAConsumer_reverts_andOnlyTheCoordinatorAnswers", async () => {
    const { coordinator, source, registry, settlement, outsider } = await networkHelpers.loadFixture(deploy);
    // anyone could otherwise drain the subscription
    await expect(source.connect(outsider).request())
      .to.be.revertedWithCustomError(source, "RandomnessConsumerNotAllowed")
      .withArgs(outsider.address);
    await registry.connect(settlement).requestDraw(1n, 0n);
    const { randomnessId } = await registry.drawRequest(1n, 0n);
    // the requester (or the sequencer) cannot answer its own request with a value it likes
    await expect(source.connect(outsider).rawFulfillRandomWords(randomnessId, [1n]))
      .to.be.revertedWithCustomError(source, "RandomnessCallerNotCoordinator")
      .withArgs(outsider.address);
    expect(await coordinator.getAddress()).to.not.equal(outsider.address);
  });

  it("test_drawCommittee_whenTheVrfNeverAnswers_renewsTheRequestAndIgnoresTheLateAnswer", async () => {
    const { coordinator, source, registry, settlement } = await networkHelpers.loadFixture(deploy);
    await registry.connect(settlement).requestDraw(1n, 0n);
    const first = await registry.drawRequest(1n, 0n);
    await networkHelpers.mine(Number(TIMEOUT_BLOCKS) + 1);
    expect(await registry.drawStatus(1n, 0n)).to.equal(2n); // Expired
    await expect(registry.connect(settlement).drawCommittee(1n, 0n, 3n, 3n, []))
      .to.emit(registry, "DrawRequested")
      .and.not.to.emit(registry, "CommitteeDrawn");
    const renewed = await registry.drawRequest(1n, 0n);
    expect(renewed.requestBlock).to.equal(first.requestBlock);
    expect(renewed.randomnessId).to.not.equal(first.randomnessId);
    // the late answer to the expired request changes nothing
    await coordinator.fulfill(first.randomnessId, 7n);
    expect((await source.randomness(first.randomnessId))[0]).to.equal(2n);
    await coordinator.fulfill(renewed.randomnessId, 8n);
    await expect(registry.connect(settlement).drawCommittee(1n, 0n, 3n, 3n, [])).to.emit(registry, "CommitteeDrawn");
  });

  it("test_startNext_onAnL2_seedsTheTaskFromTheVrfAnswer", async () => {
    const { coordinator, source, registry } = await networkHelpers.loadFixture(deploy);
    const [owner, publisher] = await ethers.getSigners();
    const market = await ethers.deployContract("TaskMarket", [owner!.address, await registry.getAddress(), testParams]);
    const request = taskRequest(makeDataset(12));
    await market.connect(publisher!).postTask(request as never, { value: escrowFor(request.reward as bigint) });
    // the market requests the seed's randomness from the registry's source: it must be an allowed consumer
    await expect(market.startNext()).to.be.revertedWithCustomError(source, "RandomnessConsumerNotAllowed");
    await source.setConsumer(await market.getAddress(), true);
    await market.startNext();
    const { randomnessId } = await market.getTask(1n);
    // blocks alone (and the sequencer's prevrandao) do not make the seed: only the coordinator's answer does
    await networkHelpers.mine(10);
    expect((await market.getTask(1n)).seed).to.equal(ethers.ZeroHash);
    await expect(market.fixSeed(1n)).to.be.revertedWithCustomError(market, "SeedNotReady").withArgs(1n, randomnessId);
    const word = 0x5eedn;
    await coordinator.fulfill(randomnessId, word);
    const seed = ethers.keccak256(
      ethers.AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes32", "uint256"], [ethers.keccak256(ethers.toUtf8Bytes("PoDL learning chain genesis")), ethers.toBeHex(word, 32), 1n]),
    );
    expect((await market.getTask(1n)).seed).to.equal(seed);
    await expect(market.fixSeed(1n)).to.emit(market, "TaskSeeded").withArgs(1n, seed);
  });
});
