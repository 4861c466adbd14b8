import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Contract, ContractFactory, Wallet, hexlify, keccak256, parseEther, randomBytes, toQuantity, ZeroHash, type JsonRpcProvider } from "ethers";
import { artifacts } from "hardhat";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { main } from "../../../agents/cli/podl.js";
import { openRuntime, type AgentRuntime } from "../../../agents/core/runtime.js";
import { loadConfig } from "../../../agents/config/load.js";
import { selectBackend } from "../../../agents/ml/backend.js";
import { loadIris } from "../../../agents/ml/datasets/bundled.js";
import type { Dataset } from "../../../agents/ml/datasets/dataset.js";
import { presets, weightLayout } from "../../../agents/ml/spec.js";
import { extractWatermark, watermarkKey } from "../../../agents/ml/watermark.js";
import { train } from "../../../agents/ml/train.js";
import { modelCommitment } from "../../../agents/protocol/commitments.js";
import { buildDatasetCommitment, shardKeys, trainingUnlock, type ShardSecret } from "../../../agents/protocol/dataset-tree.js";
import { splitShards } from "../../../agents/protocol/split.js";
import { preparePublication, type Publication } from "../../../agents/publisher/prepare.js";
import { StateStore } from "../../../agents/state/store.js";
import { EmbeddedStore } from "../../../agents/storage/index.js";
import { fetchShards, fetchTaskDocument, uploadSubmission } from "../../../agents/protocol/submission.js";
import { Verifier, type Scorer, type Verdict } from "../../../agents/verifier/agent.js";
import { verifierConfigSchema } from "../../../agents/cli/commands/verifier.js";
import { createPrefetcher, createScorer } from "../../../agents/verifier/evaluate.js";
import { scoresCommitment } from "../../../agents/verifier/scores.js";
import { account, deployToken, startChain } from "../helpers/chain.js";
import { captureLogger } from "../helpers/log.js";
import { DEEP, nested, openContainer, sealContainer } from "../ml/helpers/hostile.js";
import { accounts, deployContracts, passTime, type Contracts } from "./helpers/world.js";
import { drawDelay } from "../../validators/helpers/world.js";
import { claimAllPosted } from "../../validators/helpers/world.js";

const ONE = parseEther("1");
const THRESHOLD = 5_000n;
const ZERO = "0x0000000000000000000000000000000000000000";
/** Reveal order of task 1: the honest miner, its copier, a CID nobody serves, a malformed CID, an oversized artifact. */
const missingCid = account(7);
/** Honest miners to try in turn (accounts nobody else in this file uses). */
const HONEST_CANDIDATES = [account(2), account(10), account(11), account(12)];
/** Reveals an artifact that overflowed the scorer's stack before issue 16. */
const CRASHER = account(14);
const PODL = join(import.meta.dirname, "..", "..", "..", "agents", "cli", "podl.ts");

describe("verifier agent", function () {
  this.timeout(120_000);
  let chain: Awaited<ReturnType<typeof startChain>>;
  let provider: JsonRpcProvider;
  let c: Contracts;
  let dir: string;
  let publisherNode: EmbeddedStore;
  let minerNode: EmbeddedStore;
  let verifierNode: EmbeddedStore;
  const runtimes: AgentRuntime[] = [];
  const children: ChildProcess[] = [];
  let scorerCalls = 0;
  let lastLogs: ReturnType<typeof captureLogger> | undefined;
  let taskId: bigint;
  let pub: Publication;
  /** The honest miner of task 1. */
  let honest: Wallet;

  before(async () => {
    await selectBackend({ force: "cpu" });
    chain = await startChain();
    provider = chain.provider;
    c = await deployContracts(provider);
    dir = mkdtempSync(join(tmpdir(), "podl-verifier-"));
    const node = (role: string) => EmbeddedStore.open({ dataDir: join(dir, `ipfs-${role}`) });
    publisherNode = await node("publisher");
    minerNode = await node("miner");
    verifierNode = await node("verifier");
    await minerNode.dial(publisherNode.addresses()[0]!);
    await verifierNode.dial(minerNode.addresses()[0]!);
    await (await c.registry.connect(accounts.scripted.connect(provider)).stake(ONE, { value: ONE })).wait();
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    for (const rt of runtimes) rt.close();
    await Promise.all([publisherNode?.close(), minerNode?.close(), verifierNode?.close()]);
    await chain?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** A verifier on `dataDir` whose scorer is the real one (embedded IPFS, verifySubmission with replay). */
  async function openVerifier(dataDir = join(dir, "verifier-state"), keeperGraceMs = 0): Promise<{ rt: AgentRuntime; verifier: Verifier; logs: ReturnType<typeof captureLogger> }> {
    const env = {
      PODL_RPC_URL: chain.url,
      PODL_DATA_DIR: dataDir,
      PODL_POLL_INTERVAL_MS: "50",
      PODL_RPC_BACKOFF_MS: "5",
      PODL_PRIVATE_KEY: accounts.verifier.privateKey,
    };
    const config = loadConfig(verifierConfigSchema, { env });
    const logs = captureLogger("verifier");
    lastLogs = logs;
    const rt = await openRuntime({ agent: "verifier", config, env, log: logs.log });
    runtimes.push(rt);
    const fetching = {
      store: verifierNode,
      fetchTimeoutMs: 1_500,
      // The shards are only on the publisher's node, which the task document names.
      dial: async (addresses: readonly string[]) => {
        for (const a of addresses) await verifierNode.dial(a);
      },
      log: logs.log,
    };
    const real = createScorer({ ...fetching, replaySegments: 2, maxArtifactBytes: 1 << 20 });
    const scorer: Scorer = async (input) => {
      scorerCalls++;
      return await real(input);
    };
    const verifier = new Verifier(rt, {
      market: await c.market.getAddress(),
      settlement: await c.settlement.getAddress(),
      registry: await c.registry.getAddress(),
      startBlock: c.block,
      scorer,
      prefetch: createPrefetcher(fetching),
      keeper: true,
      keeperGraceMs,
    });
    return { rt, verifier, logs };
  }

  async function unlock(method: "unlockTrainingData" | "unlockTestData", id: bigint, shards: ShardSecret[], indices: number[]): Promise<void> {
    const market = c.market.connect(accounts.publisher.connect(provider));
    if (method === "unlockTestData") {
      await (await market.unlockTestData(id, shardKeys(shards, indices))).wait();
      return;
    }
    const test = [...shards.keys()].filter((i) => !indices.includes(i));
    const { keys, testLeaves } = trainingUnlock(shards, indices, test);
    await (await market.unlockTrainingData(id, keys, testLeaves)).wait();
  }

  async function post(datasetRoot: string, specCid: string, workload: Publication["workload"]): Promise<bigint> {
    const publisher = accounts.publisher.connect(provider);
    const reward = ONE;
    const bond = (reward * (await c.market.params()).publisherBondBps) / 10_000n;
    const request = { token: ZERO, reward, datasetRoot, specCid, shardCount: 10, testShards: 3, accuracyThreshold: THRESHOLD, maxSubmissions: 8, trainWindow: 600, ...workload };
    await (await c.market.connect(publisher).postTask(request, { value: reward + bond })).wait();
    const id = await c.market.taskCount();
    await (await c.market.connect(publisher).startNext()).wait();
    // the seed (and so the split) is known once the randomness source answers, drawDelay blocks on
    await provider.send("hardhat_mine", [toQuantity(drawDelay + 1n)]);
    return id;
  }

  /** Commits for `miner` and returns its reveal. */
  /** A task whose document is `doc` (bytes on the publisher's node) and fake shards, with one revealed submission, past its reveal deadline. */
  async function revealedOnDocument(doc: string): Promise<bigint> {
    const junkCid = (await publisherNode.add(new TextEncoder().encode(doc))).toString();
    const shards: ShardSecret[] = Array.from({ length: 10 }, (_, i) => ({ cid: `bafkreifakeshard${i}`, key: keccak256(randomBytes(32)) }));
    const id = await post(buildDatasetCommitment(shards).root, junkCid, pub.workload);
    const t = await c.market.getTask(id);
    const split = splitShards(t.seed, 10, 3);
    await unlock("unlockTrainingData", id, shards, split.train);
    const reveal = await commit(honest, id, keccak256(randomBytes(32)), keccak256(randomBytes(32)));
    await passTime(provider, (await c.market.getTask(id)).commitDeadline);
    await unlock("unlockTestData", id, shards, split.test);
    await reveal("bafkreirevealedbutneverchecked");
    await passTime(provider, (await c.market.getTask(id)).revealDeadline);
    return id;
  }

  async function commit(miner: Wallet, id: bigint, modelHash: string, checkpointRoot: string): Promise<(cid: string) => Promise<void>> {
    const signer = miner.connect(provider);
    const salt = hexlify(randomBytes(32));
    const commitment = modelCommitment({ market: await c.market.getAddress(), chainId: 31337n, taskId: id, miner: miner.address, modelHash, checkpointRoot, salt });
    await (await c.market.connect(signer).commitModel(id, commitment, { value: (await c.market.getTask(id)).minerBond })).wait();
    return async (cid) => void (await (await c.market.connect(signer).revealModel(id, cid, modelHash, checkpointRoot, salt)).wait());
  }

  /**
   * An honest training run whose watermark reads back. Some (seed, miner) keys do not embed all 8
   * Iris watermark bits (measured: ~1 run in 4 with the preset; reported to the ML core), which
   * the verifier rightly scores 0; the test wants an honest model, so it takes the first of a few
   * miners whose run carries its watermark.
   */
  async function honestRun(id: bigint, seed: string, data: Dataset): Promise<{ miner: Wallet; sub: Awaited<ReturnType<typeof uploadSubmission>> }> {
    const spec = presets.irisMlp;
    const kernel = weightLayout(spec).find((w) => w.trainable && w.name.endsWith(".kernel"))!.name;
    for (const miner of HONEST_CANDIDATES) {
      const run = await train(spec, { seed, miner: miner.address, data, hyper: { epochs: 15 } });
      run.model.dispose();
      const k = run.weights.get(kernel)!;
      if (!extractWatermark(watermarkKey(seed, miner.address, spec.watermark.bits, k.shape), k.data, k.shape).detected) continue;
      return { miner, sub: await uploadSubmission(minerNode, spec, run, { taskId: id, seed, miner: miner.address }) };
    }
    throw new Error(`no candidate miner embedded its watermark under seed ${seed}`);
  }

  async function stepUntil<T>(verifier: Verifier, what: string, done: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 10; i++) {
      await verifier.step();
      // a block per step, as a live chain makes them: a requested draw waits for a later block's hash
      await provider.send("evm_mine", []);
      const value = await done();
      if (value !== undefined) return value;
    }
    const problems = (lastLogs?.lines() ?? []).filter((l) => Number(l.level) >= 40).map((l) => JSON.stringify(l));
    throw new Error(`verifier never got to ${what}; its warnings: ${problems.slice(-5).join("\n")}`);
  }

  it("stakes when not bonded, draws the committee as keeper, scores an honest model > 0 and a copy, a missing CID, a malformed CID and an oversized artifact 0, and stores scores and salt before committing", async () => {
    const { rt, verifier, logs } = await openVerifier();
    expect(await verifier.ensureStake(ONE)).to.equal(ONE);
    expect(await verifier.ensureStake(ONE)).to.equal(ONE); // bonded: no second deposit
    expect((await c.registry.getValidator(accounts.verifier.address)).stake).to.equal(ONE);

    pub = await preparePublication({ spec: presets.irisMlp, dataset: loadIris(), shardCount: 10, testShards: 3, store: publisherNode, providers: publisherNode.addresses() });
    taskId = await post(pub.datasetRoot, pub.specCid, pub.workload);
    const started = await c.market.getTask(taskId);
    const split = splitShards(started.seed, 10, 3);
    await unlock("unlockTrainingData", taskId, pub.shards, split.train);

    // The honest miner trains on the decrypted training shards and uploads its submission.
    const doc = await fetchTaskDocument(minerNode, pub.specCid, { timeoutMs: 10_000 });
    const trainKeys = split.train.map((i) => ({ index: i, key: pub.shards[i]!.key }));
    const data = await fetchShards(minerNode, doc, split.train, trainKeys, { timeoutMs: 10_000 });
    const { miner, sub } = await honestRun(taskId, started.seed, data);
    honest = miner;
    const big = randomBytes(256 * 1024);
    const bigCid = (await minerNode.add(big)).toString();
    const nobodyHas = CID.create(1, raw.code, await sha256.digest(randomBytes(32))).toString();
    const junkRoot = keccak256(randomBytes(32));

    const reveals = [
      await commit(honest, taskId, sub.modelHash, sub.checkpointRoot),
      await commit(accounts.copier, taskId, sub.modelHash, sub.checkpointRoot), // copies the honest artifact
      await commit(missingCid, taskId, keccak256(randomBytes(32)), junkRoot),
      await commit(accounts.badCid, taskId, keccak256(randomBytes(32)), junkRoot),
      await commit(accounts.oversized, taskId, keccak256(big), junkRoot),
    ];
    await verifier.step();
    expect(rt.store.getSalt(taskId, "scores:0")).to.equal(undefined); // nothing to attest yet
    // Meanwhile, in the background, every ciphertext comes to the verifier's node.
    for (let i = 0; i < 100 && !logs.lines().some((l) => l.what === "prefetch"); i++) await new Promise((r) => setTimeout(r, 100));
    for (const shard of pub.shards) expect(await verifierNode.has(shard.cid), shard.cid).to.equal(true);

    await passTime(provider, (await c.market.getTask(taskId)).commitDeadline);
    await unlock("unlockTestData", taskId, pub.shards, split.test);
    const cids = [sub.modelCid, sub.modelCid, nobodyHas, "not-a-cid", bigCid];
    for (const [i, reveal] of reveals.entries()) await reveal(cids[i]!);
    await passTime(provider, (await c.market.getTask(taskId)).revealDeadline);

    const stored = await stepUntil(verifier, "its commitment", async () => rt.store.getSalt(taskId, "scores:0"));
    const seated = await c.settlement.queryFilter(c.settlement.filters.CommitteeSeated(taskId));
    expect(seated).to.have.length(1);
    expect([...seated[0]!.args.members].sort()).to.deep.equal([accounts.verifier.address, accounts.scripted.address].sort());
    expect(seated[0]!.transactionHash).to.be.oneOf(await sentBy(accounts.verifier.address)); // it drew as keeper

    const verdicts = stored.data.verdicts as Verdict[];
    const scores = stored.data.scores as number[];
    expect(scores).to.have.length(5);
    expect(scores[0], JSON.stringify(verdicts[0])).to.be.greaterThan(Number(THRESHOLD));
    expect(verdicts[0]!.reason).to.equal(undefined);
    expect(scores.slice(1)).to.deep.equal([0, 0, 0, 0]);
    expect(verdicts[1]!.reason).to.be.oneOf(["miner", "init", "watermark"]);
    expect(verdicts.slice(2).map((v) => [v.reason, v.detail?.split(":")[0]])).to.deep.equal([
      ["fetch", "UNAVAILABLE"],
      ["fetch", "CID_INVALID"],
      ["fetch", "TOO_LARGE"],
    ]);
    // Committed with exactly the stored scores and salt; the contract's own view agrees with ours.
    const onChain = await c.settlement.scoresCommitment(taskId, 0n, accounts.verifier.address, scores, stored.salt);
    expect(stored.commitment).to.equal(onChain);
    expect(scoresCommitment({ settlement: await c.settlement.getAddress(), chainId: 31337n, taskId, round: 0n, validator: accounts.verifier.address, scores, salt: stored.salt })).to.equal(onChain);
    const committed = await c.settlement.queryFilter(c.settlement.filters.ScoresCommitted(taskId, 0n, accounts.verifier.address));
    expect(committed).to.have.length(1);
    const savedFirst = logs.lines().findIndex((l) => typeof l.msg === "string" && l.msg.includes("submission 4 scores"));
    const sentCommit = logs.lines().findIndex((l) => l.tx === `commitScores task ${taskId} round 0` && l.msg === "transaction sent");
    expect(savedFirst).to.be.greaterThan(-1);
    expect(sentCommit).to.be.greaterThan(savedFirst);
    expect((await c.settlement.getRound(taskId, 0n)).reveals).to.equal(0n); // the other member has not committed: reveals not open
    expect(scorerCalls).to.equal(1);
    rt.close();
  });

  it("restarted between commit and reveal, reveals the stored scores with the stored salt, without scoring again", async () => {
    const stored = (await openVerifier(join(dir, "peek"))).rt; // another state file: no salt there
    expect(stored.store.getSalt(taskId, "scores:0")).to.equal(undefined);
    stored.close();

    // The other member (scripted here) commits, which opens the reveals.
    const first = await openVerifier();
    const mine = first.rt.store.getSalt(taskId, "scores:0")!;
    const scores = mine.data.scores as number[];
    const otherSalt = hexlify(randomBytes(32));
    const scripted = accounts.scripted.connect(provider);
    await (await c.settlement.connect(scripted).commitScores(taskId, await c.settlement.scoresCommitment(taskId, 0n, scripted.address, scores, otherSalt))).wait();

    const callsBefore = scorerCalls;
    await stepUntil(first.verifier, "its reveal", async () => ((await c.settlement.scoresOf(taskId, 0n, accounts.verifier.address)).length > 0 ? true : undefined));
    expect((await c.settlement.scoresOf(taskId, 0n, accounts.verifier.address)).map(Number)).to.deep.equal(scores);
    expect(scorerCalls).to.equal(callsBefore);
    await (await c.settlement.connect(scripted).revealScores(taskId, scores, otherSalt)).wait();
  });

  it("finalizes as keeper once every member revealed: the honest miner wins, the copier loses its bond, and the verifier withdraws its fee", async () => {
    const { verifier } = await openVerifier();
    const task = await c.market.getTask(taskId);
    const balanceBefore = await provider.getBalance(accounts.verifier.address);
    const ended = await stepUntil(verifier, "the end of the task", async () => (verifier.endedTasks().includes(taskId) ? true : undefined));
    expect(ended).to.equal(true);
    expect((await c.market.getTask(taskId)).phase).to.equal(6n); // Settled

    const [block] = await c.market.queryFilter(c.market.filters.LearningBlock(undefined, taskId));
    expect(block!.args.winner).to.equal(honest.address);
    const [finalized] = await c.settlement.queryFilter(c.settlement.filters.TaskFinalized(taskId));
    // submissions with median 0 (the copy, the missing and malformed CIDs, the oversized artifact) forfeit
    // their bonds, in equal parts to the two agreeing members, never to the winner (issue 9 finding 7)
    const forfeited = BigInt(finalized!.args.medians.filter((m) => m === 0n).length);
    expect(forfeited).to.equal(4n);
    const fee = (task.reward * 500n) / 10_000n; // validatorShareBps of the reward, shared by the two agreeing members
    const share = fee / 2n + (forfeited * task.minerBond) / 2n;
    // the verifier claimed only its own posted payout; the others' wait for a claim (anyone may send it)
    expect(await c.market.creditOf(honest.address, ZERO)).to.equal(0n);
    await claimAllPosted({ market: c.market.connect(accounts.scripted.connect(provider)) });
    expect(await c.market.creditOf(honest.address, ZERO)).to.equal(task.minerBond + task.reward - fee);
    expect(await c.market.creditOf(accounts.copier.address, ZERO)).to.equal(0n);
    const [withdrawn] = await c.market.queryFilter(c.market.filters.Withdrawn(accounts.verifier.address));
    // the first agreeing member (committee order) takes the rounding dust of the forfeits (none here: 4 bonds / 2)
    expect(withdrawn!.args.amount + (await c.market.creditOf(accounts.scripted.address, ZERO))).to.equal(2n * share);
    expect(withdrawn!.args.amount).to.equal(share);
    expect(await c.market.creditOf(accounts.verifier.address, ZERO)).to.equal(0n);
    expect(await provider.getBalance(accounts.verifier.address)).to.be.greaterThan(balanceBefore); // the fee outweighs the gas
    expect(await c.registry.wasSlashed(taskId, accounts.verifier.address)).to.equal(false);
  });


  it("calls timeoutTestKeys only once it is due, when the publisher never unlocks the test keys, leaving it to the designated keeper during the grace", async () => {
    const { rt, verifier } = await openVerifier();
    const shards: ShardSecret[] = Array.from({ length: 10 }, (_, i) => ({ cid: `bafkreifakeshard${i}`, key: keccak256(randomBytes(32)) }));
    const id = await post(buildDatasetCommitment(shards).root, pub.specCid, pub.workload);
    const t = await c.market.getTask(id);
    await unlock("unlockTrainingData", id, shards, splitShards(t.seed, 10, 3).train);
    // Committed; no reveal is possible without the test keys (issue 9 finding 6).
    await commit(honest, id, keccak256(randomBytes(32)), keccak256(randomBytes(32)));
    const committing = await c.market.getTask(id);
    await passTime(provider, committing.commitDeadline);

    const nonce = await provider.getTransactionCount(accounts.verifier.address);
    await verifier.step(); // inside the test-key window: not due
    expect(await provider.getTransactionCount(accounts.verifier.address)).to.equal(nonce);
    const opensAfter = committing.testKeyDeadline > committing.revealDeadline ? committing.testKeyDeadline : committing.revealDeadline;
    await passTime(provider, opensAfter - 2n);
    await verifier.step();
    expect(await provider.getTransactionCount(accounts.verifier.address)).to.equal(nonce);

    await passTime(provider, opensAfter);
    // Due now, but task 2's designated keeper is the other validator (registered first): a patient
    // keeper leaves it the call; an impatient one (grace 0) sends it.
    const validators = await c.registry.validators();
    expect(validators[Number(id % BigInt(validators.length))]).to.equal(accounts.scripted.address);
    const patient = await openVerifier(join(dir, "patient-keeper"), 60_000);
    await patient.verifier.step();
    expect(await provider.getTransactionCount(accounts.verifier.address)).to.equal(nonce);
    patient.rt.close();
    await stepUntil(verifier, "the default", async () => (verifier.endedTasks().includes(id) ? true : undefined));
    const [defaulted] = await c.market.queryFilter(c.market.filters.TaskDefaulted(id));
    expect(defaulted!.args.caller).to.equal(accounts.verifier.address);
    expect(rt.store.getTask(id)?.data.ended).to.equal("defaulted");
  });

  it("scores every submission 0 (reason task) when the publisher's task document is invalid, and still attests and settles", async () => {
    const { rt, verifier } = await openVerifier();
    const id = await revealedOnDocument('{"format":"podl-task/1","spec":{"layers":"lstm"}}');

    const stored = await stepUntil(verifier, "its commitment", async () => rt.store.getSalt(id, "scores:0"));
    expect(stored.data.scores).to.deep.equal([0]);
    expect((stored.data.verdicts as Verdict[])[0]).to.include({ scoreBps: 0, reason: "task" });
    expect((stored.data.verdicts as Verdict[])[0]!.detail).to.match(/^DOCUMENT_INVALID: /);

    const scripted = accounts.scripted.connect(provider);
    const otherSalt = hexlify(randomBytes(32));
    await (await c.settlement.connect(scripted).commitScores(id, await c.settlement.scoresCommitment(id, 0n, scripted.address, [0], otherSalt))).wait();
    await stepUntil(verifier, "its reveal", async () => ((await c.settlement.scoresOf(id, 0n, accounts.verifier.address)).length > 0 ? true : undefined));
    await (await c.settlement.connect(scripted).revealScores(id, [0], otherSalt)).wait();
    await stepUntil(verifier, "the end of the task", async () => (verifier.endedTasks().includes(id) ? true : undefined));
    const [settled] = await c.market.queryFilter(c.market.filters.TaskSettled(id));
    expect(settled!.args.outcome).to.equal(1n); // NoValidSubmission
  });

  it("stakes in an ERC20 registry: approves the registry, then stakes the token amount", async () => {
    const owner = accounts.owner.connect(provider);
    const token = await deployToken(provider, accounts.owner);
    const erc20 = new Contract(await token.getAddress(), ["function mint(address to, uint256 amount)", "function balanceOf(address) view returns (uint256)"], owner);
    const randomness = await new ContractFactory((await artifacts.readArtifact("BlockhashRandomness")).abi, (await artifacts.readArtifact("BlockhashRandomness")).bytecode, owner).deploy(2n);
    await randomness.waitForDeployment();
    const registry = await new ContractFactory((await artifacts.readArtifact("ValidatorRegistry")).abi, (await artifacts.readArtifact("ValidatorRegistry")).bytecode, owner).deploy(
      owner.address,
      await token.getAddress(),
      await randomness.getAddress(),
      { minStake: ONE, unbondingPeriod: 3600n, warmupBlocks: 1n, maxValidators: 64n },
    );
    await registry.waitForDeployment();
    const staker = account(13);
    await (await erc20.getFunction("mint")(staker.address, 5n * ONE)).wait();
    const env = { PODL_RPC_URL: chain.url, PODL_DATA_DIR: join(dir, "erc20-staker"), PODL_RPC_BACKOFF_MS: "5", PODL_PRIVATE_KEY: staker.privateKey };
    const rt = await openRuntime({ agent: "verifier", config: loadConfig(verifierConfigSchema, { env }), env, log: captureLogger("verifier").log });
    runtimes.push(rt);
    const scorer: Scorer = async () => [];
    const verifier = new Verifier(rt, { market: await c.market.getAddress(), settlement: await c.settlement.getAddress(), registry: await registry.getAddress(), startBlock: c.block, scorer, keeper: false, keeperGraceMs: 0 });
    expect(await verifier.ensureStake(2n * ONE)).to.equal(2n * ONE);
    expect(await erc20.getFunction("balanceOf")(staker.address)).to.equal(3n * ONE);
    expect(await erc20.getFunction("balanceOf")(await registry.getAddress())).to.equal(2n * ONE);
  });

  it("podl verifier: refuses to run unbonded without --stake; with --exit-when-idle or --max-tasks it catches up on the ended tasks and exits 0", async () => {
    const out: string[] = [];
    const io = (key: string, dataDir: string) => ({
      out: (l: string) => void out.push(l),
      err: (l: string) => void out.push(l),
      env: { PODL_RPC_URL: chain.url, PODL_DATA_DIR: dataDir, PODL_POLL_INTERVAL_MS: "50", PODL_PRIVATE_KEY: key, PODL_LOG_LEVEL: "silent" },
    });
    const flags = ["--market", await c.market.getAddress(), "--start-block", String(c.block), "--backend", "cpu"];
    const unbonded = account(8);
    expect(await main(["verifier", ...flags, "--exit-when-idle"], io(unbonded.privateKey, join(dir, "cli-unbonded")))).to.equal(1);
    expect(out.join("\n")).to.match(new RegExp(`${unbonded.address} is not bonded .*pass --stake <amount> \\[CONFIG_INVALID\\]`));
    expect((await c.registry.getValidator(unbonded.address)).stake).to.equal(0n);

    out.length = 0;
    expect(await main(["verifier", ...flags, "--exit-when-idle"], io(accounts.verifier.privateKey, join(dir, "cli-fresh")))).to.equal(0);
    expect(out).to.include(`task ${taskId} ended; credits withdrawn`);
    expect(out.at(-1)).to.equal("no queued or running task left and 3 task(s) ended; exiting");

    out.length = 0;
    expect(await main(["verifier", ...flags, "--max-tasks", "1"], io(accounts.verifier.privateKey, join(dir, "cli-max")))).to.equal(0);
    expect(out.at(-1)).to.match(/^followed 3 task\(s\) to their end \(--max-tasks 1\); exiting$/);
  });

  /** Posts and starts a task, unlocks its training keys and trains an honest model on them (not committed). */
  async function trainedTask() {
    const id = await post(pub.datasetRoot, pub.specCid, pub.workload);
    const t = await c.market.getTask(id);
    const split = splitShards(t.seed, 10, 3);
    await unlock("unlockTrainingData", id, pub.shards, split.train);
    const doc = await fetchTaskDocument(minerNode, pub.specCid, { timeoutMs: 10_000 });
    const data = await fetchShards(minerNode, doc, split.train, split.train.map((i) => ({ index: i, key: pub.shards[i]!.key })), { timeoutMs: 10_000 });
    return { id, split, ...(await honestRun(id, t.seed, data)) };
  }

  /** Starts `podl verifier` processes on `dataDir` (a real agent process, as an operator runs it). */
  async function podlVerifier(dataDir: string) {
    const args = ["--import", "tsx", PODL, "verifier", "--market", await c.market.getAddress(), "--start-block", String(c.block), "--backend", "cpu",
      "--ipfs-peers", minerNode.addresses()[0]!, "--keeper-grace-ms", "0", "--exit-when-idle"];
    const env = { ...process.env, PODL_RPC_URL: chain.url, PODL_DATA_DIR: dataDir, PODL_POLL_INTERVAL_MS: "100", PODL_PRIVATE_KEY: accounts.verifier.privateKey };
    let output = "";
    const start = () => {
      const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
      children.push(child);
      child.stdout!.on("data", (b: Buffer) => (output += b.toString()));
      child.stderr!.on("data", (b: Buffer) => (output += b.toString()));
      return { child, exited: new Promise<[number | null, string | null]>((resolve) => child.once("exit", (code, signal) => resolve([code, signal]))) };
    };
    const waitFor = async (what: string, child: ChildProcess, done: () => Promise<boolean>) => {
      const deadline = Date.now() + 60_000;
      let polls = 0;
      while (!(await done())) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`podl verifier never got to ${what}:\n${output.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 100));
        // a block a second, as a live chain makes them: a requested draw waits for a later block's hash
        if (++polls % 10 === 0) await provider.send("evm_mine", []);
      }
    };
    return { start, waitFor, output: () => output };
  }

  it("SIGKILLed between commit and reveal, a restarted `podl verifier` reveals with its stored salt, finalizes, withdraws and exits when idle", async () => {
    const { id, split, miner, sub } = await trainedTask();
    const reveal = await commit(miner, id, sub.modelHash, sub.checkpointRoot);
    await passTime(provider, (await c.market.getTask(id)).commitDeadline);
    await unlock("unlockTestData", id, pub.shards, split.test);
    await reveal(sub.modelCid);
    await passTime(provider, (await c.market.getTask(id)).revealDeadline);

    const dataDir = join(dir, "killed");
    const { start, waitFor, output } = await podlVerifier(dataDir);
    const committed = async () => (await c.settlement.queryFilter(c.settlement.filters.ScoresCommitted(id, 0n, accounts.verifier.address))).length > 0;

    const first = start();
    await waitFor("its commitment", first.child, committed);
    first.child.kill("SIGKILL");
    expect((await first.exited)[1]).to.equal("SIGKILL");
    const state = StateStore.open(join(dataDir, "verifier.sqlite"));
    const stored = state.getSalt(id, "scores:0");
    state.close();
    const scores = stored!.data.scores as number[];
    expect(scores).to.have.length(1);
    expect(scores[0], JSON.stringify(stored!.data.verdicts)).to.be.greaterThan(Number(THRESHOLD));
    expect(await c.settlement.scoresOf(id, 0n, accounts.verifier.address)).to.deep.equal([]);

    // The other member commits (reveals open), the verifier comes back and reveals what it stored.
    const scripted = accounts.scripted.connect(provider);
    const otherSalt = hexlify(randomBytes(32));
    await (await c.settlement.connect(scripted).commitScores(id, await c.settlement.scoresCommitment(id, 0n, scripted.address, scores, otherSalt))).wait();
    const second = start();
    await waitFor("its reveal", second.child, async () => (await c.settlement.scoresOf(id, 0n, accounts.verifier.address)).length > 0);
    expect((await c.settlement.scoresOf(id, 0n, accounts.verifier.address)).map(Number)).to.deep.equal(scores);
    await (await c.settlement.connect(scripted).revealScores(id, scores, otherSalt)).wait();
    expect(await second.exited, output().slice(-4000)).to.deep.equal([0, null]);
    expect((await c.market.getTask(id)).phase).to.equal(6n); // finalized by the restarted verifier as keeper
    expect(await c.market.creditOf(accounts.verifier.address, ZERO)).to.equal(0n); // and its fee withdrawn
    expect(output()).to.contain(`task ${id} ended; credits withdrawn`);
  });

  it("a `podl verifier` process scores an artifact whose batch size is nested 10,000 levels deep 0 (reason artifact), still scores the honest submission revealed after it, attests in time and carries on to settlement", async () => {
    const { id, split, miner, sub } = await trainedTask();
    // The attacker's artifact: the honest one with its batch size an array nested 10,000 levels deep (20 KB more).
    const { header, data: section } = openContainer(sub.bytes);
    header.__metadata__!.hyper = `{"batchSize":${nested(DEEP)},"epochs":15,"learningRate":0.01}`;
    const deep = sealContainer(JSON.stringify(header), section);
    const deepCid = (await minerNode.add(deep)).toString();
    const reveals = [await commit(CRASHER, id, keccak256(deep), sub.checkpointRoot), await commit(miner, id, sub.modelHash, sub.checkpointRoot)];
    await passTime(provider, (await c.market.getTask(id)).commitDeadline);
    await unlock("unlockTestData", id, pub.shards, split.test);
    await reveals[0]!(deepCid);
    await reveals[1]!(sub.modelCid);
    await passTime(provider, (await c.market.getTask(id)).revealDeadline);

    const dataDir = join(dir, "hostile");
    const { start, waitFor, output } = await podlVerifier(dataDir);
    const run = start();
    const committed = async () => (await c.settlement.queryFilter(c.settlement.filters.ScoresCommitted(id, 0n, accounts.verifier.address))).length > 0;
    await waitFor("its commitment", run.child, committed);
    // In time: the commitment is on chain before the round's commit deadline.
    const [commitment] = await c.settlement.queryFilter(c.settlement.filters.ScoresCommitted(id, 0n, accounts.verifier.address));
    expect(BigInt((await commitment!.getBlock()).timestamp)).to.be.lessThan((await c.settlement.getRound(id, 0n)).commitDeadline);
    const state = StateStore.open(join(dataDir, "verifier.sqlite"));
    const stored = state.getSalt(id, "scores:0")!;
    state.close();
    const verdicts = stored.data.verdicts as Verdict[];
    const scores = stored.data.scores as number[];
    expect(scores[0]).to.equal(0);
    expect(verdicts[0]!.reason).to.equal("artifact");
    expect(verdicts[0]!.detail).to.match(/^ARTIFACT_INVALID: .*hyper\.batchSize an array of 1 is not a positive integer/);
    expect(scores[1], JSON.stringify(verdicts[1])).to.be.greaterThan(Number(THRESHOLD));
    expect(output()).to.contain("submission 0 scores 0 bps (artifact)");

    // And it keeps running: reveals once the other member committed, finalizes as keeper, exits 0 when idle.
    const scripted = accounts.scripted.connect(provider);
    const otherSalt = hexlify(randomBytes(32));
    await (await c.settlement.connect(scripted).commitScores(id, await c.settlement.scoresCommitment(id, 0n, scripted.address, scores, otherSalt))).wait();
    await waitFor("its reveal", run.child, async () => (await c.settlement.scoresOf(id, 0n, accounts.verifier.address)).length > 0);
    expect((await c.settlement.scoresOf(id, 0n, accounts.verifier.address)).map(Number)).to.deep.equal(scores);
    await (await c.settlement.connect(scripted).revealScores(id, scores, otherSalt)).wait();
    expect(await run.exited, output().slice(-4000)).to.deep.equal([0, null]);
    const [settled] = await c.market.queryFilter(c.market.filters.TaskSettled(id));
    expect(settled!.args.outcome).to.equal(0n); // Validated: the honest miner won
  });

  it("after a missed quorum (the other member silent) it finalizes each round as keeper and withdraws its share of the slashed stake from the registry", async () => {
    const { rt, verifier } = await openVerifier();
    const id = await revealedOnDocument("not a task document");

    await stepUntil(verifier, "its commitment", async () => rt.store.getSalt(id, "scores:0"));
    const round0 = await c.settlement.getRound(id, 0n);
    // The other member never commits: 1 of 2 commitments misses the quorum, so the round's reveals never open
    // (issue 9 finding 8) and it fails at its commit deadline; only the member who did not commit is slashed.
    await passTime(provider, round0.commitDeadline);
    await stepUntil(verifier, "the missed quorum", async () => ((await c.settlement.queryFilter(c.settlement.filters.QuorumMissed(id))).length > 0 ? true : undefined));
    expect(await c.settlement.scoresOf(id, 0n, accounts.verifier.address)).to.deep.equal([]);
    expect(await c.registry.wasSlashed(id, accounts.verifier.address)).to.equal(false);
    const [slashed] = await c.registry.queryFilter(c.registry.filters.Slashed(id, accounts.scripted.address));
    expect([...slashed!.args.recipients]).to.deep.equal([accounts.verifier.address]);

    // Round 1 cannot be drawn (the silent member fell below the minimum stake): it expires, and finalize settles unvalidated.
    const round1 = await c.settlement.getRound(id, 1n);
    await passTime(provider, round1.expiresAt);
    await stepUntil(verifier, "the end of the task", async () => (verifier.endedTasks().includes(id) ? true : undefined));
    expect(rt.store.getTask(id)?.data.ended).to.equal("unvalidated");
    const [paid] = await c.registry.queryFilter(c.registry.filters.CreditWithdrawn(accounts.verifier.address));
    expect(paid!.args.amount).to.equal(slashed!.args.amount);
    expect(await c.registry.creditOf(accounts.verifier.address)).to.equal(0n);
  });

  it("as keeper, stores a started task's seed (fixSeed) once its randomness is ready, and not before", async () => {
    const { verifier } = await openVerifier();
    // The missed-quorum test above leaves one bonded validator; a task starts with two.
    const extra = Wallet.createRandom().connect(provider);
    await (await accounts.owner.connect(provider).sendTransaction({ to: extra.address, value: 2n * ONE })).wait();
    await (await c.registry.connect(extra).stake(ONE, { value: ONE })).wait();
    const shards: ShardSecret[] = Array.from({ length: 10 }, (_, i) => ({ cid: `bafkreiseedshard${i}`, key: keccak256(randomBytes(32)) }));
    const publisher = accounts.publisher.connect(provider);
    const bond = (ONE * (await c.market.params()).publisherBondBps) / 10_000n;
    const request = { token: ZERO, reward: ONE, datasetRoot: buildDatasetCommitment(shards).root, specCid: pub.specCid, shardCount: 10, testShards: 3, accuracyThreshold: THRESHOLD, maxSubmissions: 8, trainWindow: 600, ...pub.workload };
    await (await c.market.connect(publisher).postTask(request, { value: ONE + bond })).wait();
    const id = await c.market.taskCount();
    await (await c.market.connect(publisher).startNext()).wait();
    await verifier.step(); // the randomness is pending: fixSeed would revert, nothing is sent
    expect(await c.market.queryFilter(c.market.filters.TaskSeeded(id))).to.have.length(0);
    await provider.send("hardhat_mine", [toQuantity(drawDelay + 1n)]);
    const seed = (await c.market.getTask(id)).seed;
    expect(seed).to.not.equal(ZeroHash);
    await verifier.step();
    const [seeded] = await c.market.queryFilter(c.market.filters.TaskSeeded(id));
    expect(seeded!.args.seed).to.equal(seed);
    expect((await seeded!.getTransaction()).from).to.equal(accounts.verifier.address);
  });


  /** Hashes of the transactions `from` sent, from its journal-independent chain history. */
  async function sentBy(from: string): Promise<string[]> {
    const hashes: string[] = [];
    const head = await provider.getBlockNumber();
    for (let b = c.block; b <= head; b++) {
      const block = await provider.getBlock(b, true);
      for (const tx of block?.prefetchedTransactions ?? []) if (tx.from === from) hashes.push(tx.hash);
    }
    return hashes;
  }
});
