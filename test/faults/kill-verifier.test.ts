import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { hexlify, keccak256, parseEther, randomBytes, toQuantity, type JsonRpcProvider } from "ethers";
import { TEST_KILL_ENV } from "../../agents/chain/test-hook.js";
import { openRuntime, type AgentRuntime } from "../../agents/core/runtime.js";
import { loadConfig } from "../../agents/config/load.js";
import { loadIris } from "../../agents/ml/datasets/bundled.js";
import { presets } from "../../agents/ml/spec.js";
import { modelCommitment } from "../../agents/protocol/commitments.js";
import { shardKeys, trainingUnlock } from "../../agents/protocol/dataset-tree.js";
import { splitShards } from "../../agents/protocol/split.js";
import { preparePublication, type Publication } from "../../agents/publisher/prepare.js";
import { EmbeddedStore } from "../../agents/storage/index.js";
import { Verifier } from "../../agents/verifier/agent.js";
import { verifierConfigSchema } from "../../agents/cli/commands/verifier.js";
import { account, startChain } from "../agents/helpers/chain.js";
import { captureLogger } from "../agents/helpers/log.js";
import { accounts, deployContracts, passTime, type Contracts } from "../agents/verifier/helpers/world.js";
import { drawDelay } from "../validators/helpers/world.js";

const ONE = parseEther("1");
const ZERO = "0x0000000000000000000000000000000000000000";
const PODL = join(import.meta.dirname, "..", "..", "agents", "cli", "podl.ts");
/** The one miner of every task here: it reveals a malformed CID, which every validator scores 0 at once. */
const MINER = account(13);
const SCORES = [0];

/**
 * The steps of a validator's score commit/reveal path a `podl verifier` process is SIGKILLed at
 * (test hook PODL_TEST_KILL_AT): scores and salt stored; each transaction signed and journalled
 * but not broadcast, broadcast but not seen mined, mined but not recorded. After each, the
 * restarted verifier on the same data folder gets exactly one commitment and one reveal on chain,
 * in their windows, is not slashed, and the task finalizes.
 */
const KILL_POINTS = [
  "after-salt:scores",
  "after-sign:commitScores",
  "after-broadcast:commitScores",
  "after-mined:commitScores",
  "after-sign:revealScores",
  "after-broadcast:revealScores",
  "after-mined:revealScores",
];

describe("faults: a validator SIGKILLed at each step of its score commit/reveal path", function () {
  this.timeout(120_000);
  let chain: Awaited<ReturnType<typeof startChain>>;
  let provider: JsonRpcProvider;
  let c: Contracts;
  let dir: string;
  let publisherNode: EmbeddedStore;
  let pub: Publication;
  const runtimes: AgentRuntime[] = [];

  before(async () => {
    chain = await startChain();
    provider = chain.provider;
    c = await deployContracts(provider); // a committee of two out of exactly two bonded validators
    dir = mkdtempSync(join(tmpdir(), "podl-kill-verifier-"));
    publisherNode = await EmbeddedStore.open({ dataDir: join(dir, "ipfs-publisher") });
    pub = await preparePublication({ spec: presets.irisMlp, dataset: loadIris(), shardCount: 10, testShards: 3, store: publisherNode, providers: publisherNode.addresses() });
    for (const v of [accounts.verifier, accounts.scripted]) await (await c.registry.connect(v.connect(provider)).stake(ONE, { value: ONE })).wait();
  });
  after(async () => {
    for (const rt of runtimes) rt.close();
    await publisherNode?.close();
    await chain?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** A started task with one revealed submission (a malformed CID), past its reveal deadline. */
  async function revealedTask(): Promise<bigint> {
    const publisher = c.market.connect(accounts.publisher.connect(provider));
    const reward = ONE;
    const bond = (reward * (await c.market.params()).publisherBondBps) / 10_000n;
    const request = { token: ZERO, reward, datasetRoot: pub.datasetRoot, specCid: pub.specCid, shardCount: 10, testShards: 3, accuracyThreshold: 5_000n, maxSubmissions: 4, trainWindow: 600, ...pub.workload };
    await (await publisher.postTask(request, { value: reward + bond })).wait();
    const id = await c.market.taskCount();
    await (await publisher.startNext()).wait();
    await provider.send("hardhat_mine", [toQuantity(drawDelay + 1n)]); // the seed's randomness
    const split = splitShards((await c.market.getTask(id)).seed, 10, 3);
    const { keys, testLeaves } = trainingUnlock(pub.shards, split.train, split.test);
    await (await publisher.unlockTrainingData(id, keys, testLeaves)).wait();

    const miner = c.market.connect(MINER.connect(provider));
    const [modelHash, checkpointRoot, salt] = [keccak256(randomBytes(32)), keccak256(randomBytes(32)), hexlify(randomBytes(32))];
    const commitment = modelCommitment({ market: await c.market.getAddress(), chainId: 31337n, taskId: id, miner: MINER.address, modelHash, checkpointRoot, salt });
    await (await miner.commitModel(id, commitment, { value: (await c.market.getTask(id)).minerBond })).wait();
    await passTime(provider, (await c.market.getTask(id)).commitDeadline);
    await (await publisher.unlockTestData(id, shardKeys(pub.shards, split.test))).wait();
    await (await miner.revealModel(id, "not-a-cid", modelHash, checkpointRoot, salt)).wait();
    await passTime(provider, (await c.market.getTask(id)).revealDeadline);
    return id;
  }

  /** The other member of the committee, scripted: commits once drawn, reveals once the reveals open. */
  function scriptedMember(id: bigint): () => Promise<void> {
    const salt = hexlify(randomBytes(32));
    const scripted = c.settlement.connect(accounts.scripted.connect(provider));
    let committed = false;
    let revealed = false;
    return async () => {
      const r = await c.settlement.getRound(id, 0n);
      if (r.size === 0n) return;
      if (!committed) {
        await (await scripted.commitScores(id, await c.settlement.scoresCommitment(id, 0n, accounts.scripted.address, SCORES, salt))).wait();
        committed = true;
      } else if (!revealed && r.commits === r.size) {
        await (await scripted.revealScores(id, SCORES, salt)).wait();
        revealed = true;
      }
    };
  }

  /** `method` transactions the verifier sent that reached the chain from `fromBlock` on (mined, whatever their status). */
  async function sentOnChain(method: "commitScores" | "revealScores", fromBlock: number): Promise<number> {
    const selector = c.settlement.interface.getFunction(method)!.selector;
    let n = 0;
    for (let b = fromBlock; b <= (await provider.getBlockNumber()); b++) {
      const block = await provider.getBlock(b, true);
      n += block!.prefetchedTransactions.filter((tx) => tx.from === accounts.verifier.address && tx.data.startsWith(selector)).length;
    }
    return n;
  }

  for (const [i, point] of KILL_POINTS.entries()) {
    it(`${point}: the restarted verifier commits and reveals exactly once, in time, is not slashed, and the task finalizes`, async () => {
      const id = await revealedTask();
      const fromBlock = await provider.getBlockNumber();
      const dataDir = join(dir, `verifier-${i}`);
      const env = { PODL_RPC_URL: chain.url, PODL_DATA_DIR: dataDir, PODL_POLL_INTERVAL_MS: "50", PODL_PRIVATE_KEY: accounts.verifier.privateKey, PODL_RPC_BACKOFF_MS: "5" };
      const other = scriptedMember(id);
      const label = point.startsWith("after-salt") ? `${point} task ${id}` : `${point} task ${id} round 0`;

      const child = spawn(
        process.execPath,
        ["--import", "tsx", PODL, "verifier", "--market", await c.market.getAddress(), "--start-block", String(c.block), "--backend", "cpu",
          "--ipfs-peers", publisherNode.addresses().join(","), "--keeper-grace-ms", "0", "--exit-when-idle"],
        { env: { ...process.env, ...env, [TEST_KILL_ENV]: label }, stdio: ["ignore", "pipe", "pipe"] },
      );
      let output = "";
      child.stdout!.on("data", (b: Buffer) => (output += b.toString()));
      child.stderr!.on("data", (b: Buffer) => (output += b.toString()));
      const exited = new Promise<string | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
      try {
        const deadline = Date.now() + 60_000;
        while (child.exitCode === null && child.signalCode === null) {
          if (Date.now() > deadline) throw new Error(`the verifier never reached ${label}:\n${output.slice(-4000)}`);
          await other();
          await provider.send("evm_mine", []); // a block now and then, as a live chain makes them: the draw waits for one
          await new Promise((r) => setTimeout(r, 300));
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      expect(await exited, output.slice(-4000)).to.equal("SIGKILL");
      expect(output).to.include(`${TEST_KILL_ENV}=${label}: killing this process`);

      // The restart: the same key and data folder, in this process. Its scores are stored, so it must never score again.
      const config = loadConfig(verifierConfigSchema, { env });
      const logs = captureLogger("verifier");
      const rt = await openRuntime({ agent: "verifier", config, env, log: logs.log });
      runtimes.push(rt);
      const stored = rt.store.getSalt(id, "scores:0");
      expect(stored, "the scores were stored before the kill").to.not.equal(undefined);
      const verifier = new Verifier(rt, {
        market: await c.market.getAddress(),
        settlement: await c.settlement.getAddress(),
        registry: await c.registry.getAddress(),
        startBlock: c.block,
        scorer: async () => {
          throw new Error("the restarted verifier scored again");
        },
        keeper: true,
        keeperGraceMs: 0,
      });
      for (let step = 0; step < 20 && (await c.market.getTask(id)).phase !== 6n; step++) {
        await verifier.step();
        await other();
        await provider.send("evm_mine", []);
      }
      const problems = logs.lines().filter((l) => Number(l.level) >= 50).map((l) => JSON.stringify(l));
      expect((await c.market.getTask(id)).phase, problems.join("\n")).to.equal(6n); // Settled
      expect(problems).to.deep.equal([]);

      // Exactly one commitment and one reveal, each in its window, opening the stored scores.
      const round = await c.settlement.getRound(id, 0n);
      const [committed, ...moreCommits] = await c.settlement.queryFilter(c.settlement.filters.ScoresCommitted(id, 0n, accounts.verifier.address));
      const [revealed, ...moreReveals] = await c.settlement.queryFilter(c.settlement.filters.ScoresRevealed(id, 0n, accounts.verifier.address));
      expect([moreCommits, moreReveals]).to.deep.equal([[], []]);
      expect((await committed!.getBlock()).timestamp).to.be.below(Number(round.commitDeadline));
      expect((await revealed!.getBlock()).timestamp).to.be.below(Number(round.revealDeadline));
      expect(revealed!.args.scores.map(Number)).to.deep.equal(stored!.data.scores);
      expect([await sentOnChain("commitScores", fromBlock), await sentOnChain("revealScores", fromBlock)]).to.deep.equal([1, 1]);
      // Not slashed: no Slashed event for it, its stake whole.
      expect(await c.registry.queryFilter(c.registry.filters.Slashed(id, accounts.verifier.address))).to.deep.equal([]);
      expect((await c.registry.getValidator(accounts.verifier.address)).stake).to.equal(ONE);
      // The journal holds nothing unsettled and the nonces are contiguous (nothing pending behind a gap).
      expect(rt.store.unsettledTxs(accounts.verifier.address)).to.deep.equal([]);
      expect(await provider.getTransactionCount(accounts.verifier.address, "pending")).to.equal(await provider.getTransactionCount(accounts.verifier.address, "latest"));
      rt.close();
    });
  }
});
