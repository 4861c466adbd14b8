import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseEther, type JsonRpcProvider, type Wallet } from "ethers";
import { TEST_KILL_ENV } from "../../agents/chain/test-hook.js";
import { openRuntime, type AgentRuntime } from "../../agents/core/runtime.js";
import { loadConfig } from "../../agents/config/load.js";
import { selectBackend } from "../../agents/ml/backend.js";
import { loadIris } from "../../agents/ml/datasets/bundled.js";
import { presets } from "../../agents/ml/spec.js";
import { MODEL_SALT, Miner } from "../../agents/miner/agent.js";
import { minerConfigSchema } from "../../agents/cli/commands/miner.js";
import { Publisher, type PublishTerms } from "../../agents/publisher/agent.js";
import { publisherConfigSchema } from "../../agents/cli/commands/publish.js";
import { preparePublication } from "../../agents/publisher/prepare.js";
import { EmbeddedStore } from "../../agents/storage/index.js";
import type { TaskMarket } from "../../types/index.js";
import { account, startChain } from "../agents/helpers/chain.js";
import { captureLogger } from "../agents/helpers/log.js";
import { accounts, deployMarket, mineToSeed, passTime } from "../agents/publisher/helpers/market.js";

const TERMS: PublishTerms = { reward: parseEther("1"), accuracyThreshold: 5000, maxSubmissions: 4, trainWindow: 120 };
const PODL = join(import.meta.dirname, "..", "..", "agents", "cli", "podl.ts");

/**
 * The steps of the miner's commit path a `podl miner` process is SIGKILLed at (test hook
 * PODL_TEST_KILL_AT): the opening stored, the commitment signed and journalled but not broadcast,
 * broadcast but not seen mined, mined but not recorded. After each, a restarted miner on the same
 * data folder gets the one commitment on chain and reveals it in time.
 */
const KILL_POINTS = ["after-salt:model", "after-sign:commitModel", "after-broadcast:commitModel", "after-mined:commitModel"];

describe("faults: a miner SIGKILLed at each step of its commit path", function () {
  this.timeout(240_000);
  let chain: Awaited<ReturnType<typeof startChain>>;
  let provider: JsonRpcProvider;
  let dir: string;
  let publisherIpfs: EmbeddedStore;
  const runtimes: AgentRuntime[] = [];
  const stores: EmbeddedStore[] = [];

  before(async () => {
    chain = await startChain();
    provider = chain.provider;
    dir = mkdtempSync(join(tmpdir(), "podl-kill-"));
    publisherIpfs = await EmbeddedStore.open({ dataDir: join(dir, "ipfs-publisher") });
    await selectBackend({ force: "cpu" });
  });
  after(async () => {
    for (const rt of runtimes) rt.close();
    await Promise.all([publisherIpfs?.close(), ...stores.map((s) => s.close())]);
    await chain?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const env = (wallet: Wallet, dataDir: string) => ({ PODL_RPC_URL: chain.url, PODL_DATA_DIR: dataDir, PODL_POLL_INTERVAL_MS: "50", PODL_PRIVATE_KEY: wallet.privateKey, PODL_RPC_BACKOFF_MS: "5" });

  async function runtime(wallet: Wallet, dataDir: string, agent: "publisher" | "miner"): Promise<AgentRuntime> {
    const e = env(wallet, dataDir);
    const config = loadConfig(agent === "publisher" ? publisherConfigSchema : minerConfigSchema, { env: e });
    const rt = await openRuntime({ agent, config, env: e, log: captureLogger(agent).log });
    runtimes.push(rt);
    return rt;
  }

  /** commitModel transactions `from` sent that reached the chain (mined, whatever their status). */
  async function commitsOnChain(market: TaskMarket, from: string): Promise<number> {
    const selector = market.interface.getFunction("commitModel")!.selector;
    let n = 0;
    for (let b = 0; b <= (await provider.getBlockNumber()); b++) {
      const block = await provider.getBlock(b, true);
      n += block!.prefetchedTransactions.filter((tx) => tx.from === from && tx.data.startsWith(selector)).length;
    }
    return n;
  }

  for (const [i, point] of KILL_POINTS.entries()) {
    it(`${point}: the restarted miner has exactly one commitment on chain and reveals it before the reveal deadline`, async () => {
      // A market of its own, so that this miner follows this task only.
      const { market, block: startBlock } = await deployMarket(provider);
      const publisher = new Publisher(await runtime(accounts.publisher, join(dir, `publisher-${i}`), "publisher"), { market: await market.getAddress(), startBlock });
      const pub = await preparePublication({ spec: presets.irisMlp, dataset: loadIris(), shardCount: 10, testShards: 3, store: publisherIpfs, providers: publisherIpfs.addresses() });
      const taskId = await publisher.publish(pub, TERMS);
      const wallet = account(14 + i); // funded by Hardhat (accounts 0-19), used by no other role here
      const dataDir = join(dir, `miner-${i}`);

      const child = spawn(
        process.execPath,
        ["--import", "tsx", PODL, "miner", "--market", await market.getAddress(), "--start-block", String(startBlock), "--backend", "cpu",
          "--ipfs-peers", publisherIpfs.addresses().join(","), "--max-epochs", "3", "--commit-margin", "5", "--fetch-timeout-ms", "5000"],
        { env: { ...process.env, ...env(wallet, dataDir), [TEST_KILL_ENV]: point }, stdio: ["ignore", "pipe", "pipe"] },
      );
      let output = "";
      child.stdout!.on("data", (b: Buffer) => (output += b.toString()));
      child.stderr!.on("data", (b: Buffer) => (output += b.toString()));
      const exited = new Promise<string | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
      try {
        // The child starts the task itself; the publisher unlocks the keys; the hook kills the child.
        const deadline = Date.now() + 150_000;
        while (child.exitCode === null && child.signalCode === null) {
          if (Date.now() > deadline) throw new Error(`the miner never reached ${point}:\n${output}`);
          if ((await market.getTask(taskId)).phase === 2n) await mineToSeed(provider); // started: the seed's randomness
          await publisher.step();
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      expect(await exited, output).to.equal("SIGKILL");
      expect(output).to.include(`${TEST_KILL_ENV}=${point}: killing this process`);

      const store = await EmbeddedStore.open({ dataDir: join(dataDir, "ipfs-miner"), peers: publisherIpfs.addresses() });
      stores.push(store);
      const rt = await runtime(wallet, dataDir, "miner");
      const miner = new Miner(rt, { market: await market.getAddress(), startBlock, store, backend: "cpu", strategy: "dlbc", maxEpochs: 3, commitMarginSeconds: 5, fetchTimeoutMs: 5_000, startTasks: true });
      const opening = rt.store.getSalt(taskId, MODEL_SALT)!;
      expect(opening, "the opening was stored before the kill").to.not.equal(undefined);
      await miner.step(); // settles the journal's transaction or sends the commitment again
      expect(await market.isMiner(taskId, wallet.address)).to.equal(true);

      await passTime(provider, (await market.getTask(taskId)).commitDeadline);
      await publisher.step(); // test keys
      await miner.step(); // reveals
      const [revealed] = (await market.getRevealed(taskId)).filter((s) => s.miner === wallet.address);
      expect(revealed, output).to.not.equal(undefined);
      expect(revealed!.modelHash).to.equal(opening.data.modelHash);
      expect(Number((await provider.getBlock("latest"))!.timestamp)).to.be.at.most(Number((await market.getTask(taskId)).revealDeadline));
      // One commitment, no second send; the journal holds nothing unsettled and the nonces are contiguous.
      expect(await commitsOnChain(market, wallet.address)).to.equal(1);
      expect(rt.store.unsettledTxs(wallet.address)).to.deep.equal([]);
      expect(await provider.getTransactionCount(wallet.address, "pending")).to.equal(await provider.getTransactionCount(wallet.address, "latest"));
    });
  }
});
