import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { PNG } from "pngjs";
import { Wallet, ZeroHash, getBytes, keccak256, parseEther, toUtf8Bytes, type JsonRpcProvider, type Result } from "ethers";
import { openRuntime, type AgentRuntime } from "../../../agents/core/runtime.js";
import { main } from "../../../agents/cli/podl.js";
import { isAgentError } from "../../../agents/config/errors.js";
import { loadConfig } from "../../../agents/config/load.js";
import { decrypt } from "../../../agents/ml/crypto.js";
import { loadIris } from "../../../agents/ml/datasets/bundled.js";
import { isMlError } from "../../../agents/ml/errors.js";
import { decodeShard } from "../../../agents/ml/shard.js";
import { presets } from "../../../agents/ml/spec.js";
import { modelCommitment } from "../../../agents/protocol/commitments.js";
import { splitShards } from "../../../agents/protocol/split.js";
import { Publisher, type PublishTerms } from "../../../agents/publisher/agent.js";
import { publisherConfigSchema } from "../../../agents/cli/commands/publish.js";
import { parseTaskDocument } from "../../../agents/protocol/task-document.js";
import { draftOf, loadDataset, parseDatasetSource, preparePublication, resolveSpec } from "../../../agents/publisher/prepare.js";
import { EmbeddedStore } from "../../../agents/storage/index.js";
import { PlainTokenDouble__factory, type TaskMarket } from "../../../types/index.js";
import { deployToken, startChain } from "../helpers/chain.js";
import { captureLogger } from "../helpers/log.js";
import { accounts, deployMarket, mineToSeed, passTime } from "./helpers/market.js";

const TERMS: PublishTerms = { reward: parseEther("1"), accuracyThreshold: 8000, maxSubmissions: 4, trainWindow: 120 };

function filesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
}

const run = promisify(execFile);

type ShardKey = { index: bigint; cidHash: string; key: string };
/** An unlock event's keys (`args.keys` is Array.prototype.keys on an ethers Result). */
const keysOf = (args: object): ShardKey[] => (args as Result).getValue("keys") as ShardKey[];
const indices = (keys: readonly ShardKey[]) => keys.map((k) => Number(k.index)).sort((a, b) => a - b);

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("publisher agent", function () {
  this.timeout(120_000);
  let chain: Awaited<ReturnType<typeof startChain>>;
  let provider: JsonRpcProvider;
  let market: TaskMarket;
  let startBlock: number;
  let dir: string;
  let ipfs: EmbeddedStore;
  let fetcher: EmbeddedStore;
  const runtimes: AgentRuntime[] = [];

  before(async () => {
    chain = await startChain();
    provider = chain.provider;
    ({ market, block: startBlock } = await deployMarket(provider));
    dir = mkdtempSync(join(tmpdir(), "podl-publisher-"));
    ipfs = await EmbeddedStore.open({ dataDir: join(dir, "ipfs-publisher") });
    fetcher = await EmbeddedStore.open({ dataDir: join(dir, "ipfs-miner") });
  });
  after(async () => {
    for (const rt of runtimes) rt.close();
    await Promise.all([ipfs?.close(), fetcher?.close()]);
    await chain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function env(wallet: Wallet, dataDir = join(dir, "state")): Record<string, string> {
    return { PODL_RPC_URL: chain.url, PODL_DATA_DIR: dataDir, PODL_POLL_INTERVAL_MS: "50", PODL_PRIVATE_KEY: wallet.privateKey, PODL_RPC_BACKOFF_MS: "5", PODL_LOG_LEVEL: "warn" };
  }

  async function agent(wallet = accounts.publisher, dataDir?: string): Promise<{ rt: AgentRuntime; publisher: Publisher }> {
    const e = env(wallet, dataDir);
    const config = loadConfig(publisherConfigSchema, { env: e });
    const rt = await openRuntime({ agent: "publisher", config, env: e, log: captureLogger("publisher").log });
    runtimes.push(rt);
    return { rt, publisher: new Publisher(rt, { market: await market.getAddress(), startBlock }) };
  }

  async function prepareIris() {
    return await preparePublication({ spec: presets.irisMlp, dataset: loadIris(), shardCount: 10, testShards: 3, store: ipfs, providers: ipfs.addresses() });
  }

  /** What a miner does with unlocked keys: fetch each ciphertext by bitswap, decrypt it, check it against the spec. */
  async function openShards(keys: readonly ShardKey[], cids: string[]): Promise<number> {
    let examples = 0;
    for (const k of keys) {
      const cid = cids[Number(k.index)]!;
      expect(keccak256(toUtf8Bytes(cid))).to.equal(k.cidHash);
      const sealed = await fetcher.get(cid, { timeoutMs: 10_000 });
      examples += decodeShard(decrypt(getBytes(k.key), sealed), presets.irisMlp).n;
    }
    return examples;
  }

  /** What the settlement module does once the reveal window is over (an outside account here). */
  async function settleFor(taskId: bigint, winner: string, score: number): Promise<void> {
    await passTime(provider, (await market.getTask(taskId)).revealDeadline);
    const pool = await market.taskPool(taskId);
    const settlement = { outcome: 0, payouts: [{ account: winner, amount: pool }], winner: 0n, winnerScore: score, ommersHash: `0x${"00".repeat(32)}` };
    await (await market.connect(accounts.settlement.connect(provider)).settle(taskId, settlement)).wait();
  }

  /** A miner's commit and, after the commit deadline, its reveal (the model itself does not matter to the publisher). */
  async function commitAs(miner: Wallet, taskId: bigint) {
    const opening = { modelHash: keccak256(toUtf8Bytes(`model ${taskId}`)), checkpointRoot: keccak256(toUtf8Bytes("ckpt")), salt: keccak256(toUtf8Bytes("salt")) };
    const commitment = modelCommitment({ market: await market.getAddress(), chainId: 31337n, taskId, miner: miner.address, ...opening });
    await (await market.connect(miner).commitModel(taskId, commitment, { value: (await market.getTask(taskId)).minerBond })).wait();
    return {
      opening,
      reveal: async (modelCid: string) => void (await (await market.connect(miner).revealModel(taskId, modelCid, opening.modelHash, opening.checkpointRoot, opening.salt)).wait()),
    };
  }

  it("publishes Iris end to end: starts it, unlocks the training keys, the test keys after the commit deadline, reports the outcome", async () => {
    const { publisher } = await agent();
    const pub = await prepareIris();
    // What the pre-upload checks declared is what is posted (the ciphertext size aside).
    const draft = draftOf(presets.irisMlp, loadIris(), 10, 3);
    expect([draft.workload.modelBytes, draft.workload.flops]).to.deep.equal([pub.workload.modelBytes, pub.workload.flops]);
    const taskId = await publisher.publish(pub, TERMS);

    // What a miner sees: the task document behind specCid, fetched from the publisher's node it names.
    const posted = await market.getTask(taskId);
    expect(posted.phase).to.equal(1n); // queued
    expect(posted.datasetRoot).to.equal(pub.datasetRoot);
    await fetcher.dial(pub.document.providers[0]!);
    const doc = parseTaskDocument(await fetcher.get(pub.specCid, { timeoutMs: 10_000 }));
    expect(doc.spec).to.deep.equal(presets.irisMlp);
    expect(doc.shards.map((s) => s.cid)).to.deep.equal(pub.shards.map((s) => s.cid));
    expect(doc.shards.reduce((n, s) => n + s.examples, 0)).to.equal(150);

    // One round: the market has room and validators, so the publisher starts its task. Its seed (and so the
    // split) comes from randomness requested at the start: the publisher waits for it.
    expect(await publisher.step()).to.deep.equal([]);
    expect((await market.getTask(taskId)).phase).to.equal(2n); // Started
    expect(await market.queryFilter(market.filters.TrainingDataUnlocked(taskId))).to.have.length(0);
    // Once the randomness is ready, the next round unlocks the training keys.
    await mineToSeed(provider);
    expect(await publisher.step()).to.deep.equal([]);
    const [startEvent] = await market.queryFilter(market.filters.TaskStarted(taskId));
    expect((await startEvent!.getTransaction()).from).to.equal(accounts.publisher.address);
    const started = await market.getTask(taskId);
    expect(started.phase).to.equal(3n); // Committing
    const split = splitShards(started.seed, 10, 3);
    const [trainEvent] = await market.queryFilter(market.filters.TrainingDataUnlocked(taskId));
    const trainKeys = keysOf(trainEvent!.args);
    expect(indices(trainKeys)).to.deep.equal(split.train);
    expect(await openShards(trainKeys, doc.shards.map((s) => s.cid))).to.equal(doc.shards.filter((_, i) => split.train.includes(i)).reduce((n, s) => n + s.examples, 0));

    // A miner commits before the deadline; the publisher waits for the deadline before the test keys.
    const miner = accounts.miner.connect(provider);
    const { opening, reveal } = await commitAs(miner, taskId);
    await publisher.step();
    expect((await market.getTask(taskId)).testUnlockedAt).to.equal(0n);

    await passTime(provider, (await market.getTask(taskId)).commitDeadline);
    await publisher.step();
    const [testEvent] = await market.queryFilter(market.filters.TestDataUnlocked(taskId));
    expect(indices(keysOf(testEvent!.args))).to.deep.equal(split.test);
    expect(await openShards(keysOf(testEvent!.args), doc.shards.map((s) => s.cid))).to.be.greaterThan(0);

    const modelCid = "bafkreimodelcidofthewinningminer";
    await reveal(modelCid);
    await settleFor(taskId, miner.address, 9300);
    const [report] = await publisher.step();
    expect(report).to.deep.equal({ taskId, phase: "settled", outcome: "validated", winner: miner.address, modelHash: opening.modelHash, score: 9300, modelCid });
    expect(publisher.report(taskId)).to.deep.equal(report);
    expect(await publisher.step()).to.deep.equal([]); // reported once
    expect(publisher.unfinished()).to.deep.equal([]);
  });

  it("podl publish --post-only, then a restarted podl publish --exit-when-done resumes from its state, serves the shards and exits with the outcome", async () => {
    const dataDir = join(dir, "cli-flow");
    const out: string[] = [];
    const io = { out: (l: string) => void out.push(l), err: (l: string) => void out.push(l), env: env(accounts.publisher, dataDir) };
    const flags = ["--market", await market.getAddress(), "--start-block", String(startBlock)];
    const before = await market.taskCount();
    const posted = await main(["publish", ...flags, "--dataset", "iris", "--spec", "irisMlp", "--reward", "0.5", "--threshold", "9000", "--train-window", "60", "--post-only"], io);
    expect(posted, out.join("\n")).to.equal(0);
    const taskId = before + 1n;
    expect(out.join("\n")).to.match(new RegExp(`posted task ${taskId}: reward 0.5 ETH`));
    const task = await market.getTask(taskId);
    expect([task.phase, task.reward, task.accuracyThreshold, task.trainWindow]).to.deep.equal([1n, parseEther("0.5"), 9000n, 60n]);

    // The restarted publisher (no --dataset) picks the task up from its state; the test plays miner and settlement meanwhile.
    let running = true;
    const run = main(["publish", ...flags, "--exit-when-done"], io).finally(() => (running = false));
    try {
      const unlocked = await until("the training keys", async () => {
        // Blocks come only with transactions here: once started, mine until the seed's randomness is ready.
        const t = await market.getTask(taskId);
        if (t.phase === 2n && t.seed === ZeroHash) await mineToSeed(provider);
        return (await market.queryFilter(market.filters.TrainingDataUnlocked(taskId)))[0];
      });
      const [postedEvent] = await market.queryFilter(market.filters.TaskPosted(taskId));
      const [first, served] = out.filter((l) => l.startsWith("IPFS node: ")).map((l) => l.slice("IPFS node: ".length).split(" "));
      expect(served).to.deep.equal(first); // without --ipfs-listen it listens again where the posted document says
      await fetcher.dial(served![0]!);
      const doc = parseTaskDocument(await fetcher.get(postedEvent!.args.specCid, { timeoutMs: 10_000 }));
      expect(doc.providers).to.deep.equal(served);
      const key = keysOf(unlocked!.args)[0]!;
      const shard = decodeShard(decrypt(getBytes(key.key), await fetcher.get(doc.shards[Number(key.index)]!.cid, { timeoutMs: 10_000 })), presets.irisMlp);
      expect(shard.n).to.equal(doc.shards[Number(key.index)]!.examples);

      const miner = accounts.miner.connect(provider);
      const { reveal } = await commitAs(miner, taskId);
      await passTime(provider, (await market.getTask(taskId)).commitDeadline);
      await until("the test keys", async () => ((await market.getTask(taskId)).testUnlockedAt > 0n ? true : undefined));
      await reveal("bafkreiclimodel");
      await settleFor(taskId, miner.address, 9450);
      expect(await run, out.join("\n")).to.equal(0);
      expect(out.join("\n")).to.contain(`resuming task(s) ${taskId}`);
      expect(out.at(-1)).to.equal(`task ${taskId} settled: winner ${miner.address}, model bafkreiclimodel, accuracy 94.50 %`);
    } finally {
      // A failed assertion must not leave the publisher polling a closed chain: stop it as a user would.
      if (running) process.emit("SIGTERM");
    }

  });

  it("posts an ERC20-rewarded task: approves the escrow, posts with no ETH, and refuses a balance short of reward + bond", async () => {
    const token = await deployToken(provider, accounts.owner);
    const tokenAddress = await token.getAddress();
    const erc20 = PlainTokenDouble__factory.connect(tokenAddress, accounts.owner.connect(provider));
    await (await erc20.mint(accounts.publisher.address, parseEther("2"))).wait();
    const dataDir = join(dir, "token-state");
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l), env: env(accounts.publisher, dataDir) };
    const base = ["publish", "--market", await market.getAddress(), "--dataset", "iris", "--spec", "irisMlp", "--token", tokenAddress, "--post-only"];

    // Unlisted, the token is refused before anything is sent (issue 9 finding 13).
    expect(await main([...base, "--reward", "1.5"], io)).to.equal(1);
    expect(err.join("\n")).to.contain(`token ${tokenAddress} is not a reward token of the market`);
    // Listed at one whole token minimum: a smaller reward is stated in whole tokens, the unit of --reward.
    await (await market.connect(accounts.owner.connect(provider)).setRewardToken(tokenAddress, parseEther("1"), parseEther("1"))).wait();
    expect(await main([...base, "--reward", "0.5"], io)).to.equal(1);
    expect(err.join("\n")).to.contain(`reward 0.5 tokens of ${tokenAddress} is below the market's minimum of 1.0 tokens of ${tokenAddress}`);

    const short = await main([...base, "--reward", "2"], io);
    expect(short).to.equal(1);
    expect(err.join("\n")).to.contain(`needs 2.1 tokens of ${tokenAddress} (reward + publisher bond); ${accounts.publisher.address} holds 2.0 tokens of ${tokenAddress}`);

    const ethBefore = await provider.getBalance(accounts.publisher.address);
    expect(await main([...base, "--reward", "1.5"], io), err.join("\n")).to.equal(0);
    const taskId = await market.taskCount();
    expect(out.join("\n")).to.contain(`posted task ${taskId}: reward 1.5 of token ${tokenAddress}`);
    const task = await market.getTask(taskId);
    expect([task.token, task.reward, task.publisherBond]).to.deep.equal([tokenAddress, parseEther("1.5"), parseEther("0.075")]);
    expect(await erc20.balanceOf(await market.getAddress())).to.equal(parseEther("1.575"));
    expect(await erc20.balanceOf(accounts.publisher.address)).to.equal(parseEther("0.425"));
    expect(await erc20.allowance(accounts.publisher.address, await market.getAddress())).to.equal(0n);
    expect(ethBefore - (await provider.getBalance(accounts.publisher.address))).to.be.below(parseEther("0.01")); // gas only
    await (await market.connect(accounts.publisher.connect(provider)).cancelQueued(taskId)).wait();
  });

  it("prepares a CSV file and an image folder into encrypted shards that decrypt to the whole dataset, shaped as the spec says", async () => {
    const csv = join(dir, "iris.csv");
    const iris = loadIris();
    const rows = Array.from({ length: iris.n }, (_, i) => [...iris.x.subarray(i * 4, i * 4 + 4), iris.y[i]].join(","));
    writeFileSync(csv, ["sepal_length,sepal_width,petal_length,petal_width,species", ...rows].join("\n"));

    const images = join(dir, "images");
    for (const [c, shade] of [["dark", 30], ["light", 220]] as const) {
      mkdirSync(join(images, c), { recursive: true });
      for (let i = 0; i < 10; i++) {
        const png = new PNG({ width: 16, height: 16 });
        png.data.fill(shade + i);
        writeFileSync(join(images, c, `${i}.png`), PNG.sync.write(png));
      }
    }
    const layers = [...presets.mnistCnn.layers.slice(0, -1), { type: "dense", units: 2, activation: "softmax", useBias: true }];
    const imageSpec = resolveSpec(JSON.stringify({ ...presets.mnistCnn, name: "shades", input: { shape: [16, 16, 1] }, classes: 2, layers }));

    for (const { source, spec, n } of [
      { source: csv, spec: presets.irisMlp, n: 150 },
      { source: images, spec: imageSpec, n: 20 },
    ]) {
      const dataset = await loadDataset(parseDatasetSource(source), spec);
      const progress: number[] = [];
      const pub = await preparePublication({ spec, dataset, shardCount: 10, testShards: 3, store: ipfs, providers: [], onShard: (done) => void progress.push(done) });
      expect(progress).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      let examples = 0;
      const labels = new Set<number>();
      for (const [i, shard] of pub.shards.entries()) {
        const opened = decodeShard(decrypt(getBytes(shard.key), await ipfs.get(shard.cid)), spec);
        expect(opened.n).to.equal(pub.document.shards[i]!.examples);
        opened.y.forEach((y) => labels.add(y));
        examples += opened.n;
      }
      expect(examples, source).to.equal(n);
      expect(labels.size, source).to.equal(spec.classes);
      expect(parseTaskDocument(await ipfs.get(pub.specCid)).spec).to.deep.equal(spec);
    }
  });

  it("scripts/publish-task.ts posts the task `hardhat run` describes in PODL_* variables", async () => {
    const root = join(import.meta.dirname, "..", "..", "..");
    const hardhat = join(root, "node_modules", "hardhat", "dist", "src", "cli.js");
    const before = await market.taskCount();
    const vars = { ...env(accounts.publisher, join(dir, "script-state")), PODL_MARKET: await market.getAddress(), PODL_DATASET: "iris", PODL_SPEC: "irisMlp", PODL_REWARD: "0.25", PODL_POST_ONLY: "1" };
    const { stdout } = await run(process.execPath, [hardhat, "run", "scripts/publish-task.ts"], { cwd: root, env: { ...process.env, ...vars } });
    expect(stdout).to.match(new RegExp(`posted task ${before + 1n}: reward 0.25 ETH`));
    expect((await market.getTask(before + 1n)).reward).to.equal(parseEther("0.25"));
    await (await market.connect(accounts.publisher.connect(provider)).cancelQueued(before + 1n)).wait();
  });

  it("carries on after a restart between post and start: a new agent on the same state unlocks the keys", async () => {
    const dataDir = join(dir, "restart-state");
    const first = await agent(accounts.publisher, dataDir);
    const pub = await prepareIris();
    const taskId = await first.publisher.publish(pub, TERMS);
    first.rt.close();

    await (await market.connect(accounts.keeper.connect(provider)).startNext()).wait();
    await mineToSeed(provider);
    const second = await agent(accounts.publisher, dataDir);
    await second.publisher.step();
    const task = await market.getTask(taskId);
    expect(task.phase).to.equal(3n);
    const [event] = await market.queryFilter(market.filters.TrainingDataUnlocked(taskId));
    expect(keysOf(event!.args).map((k) => k.key)).to.have.members(splitShards(task.seed, 10, 3).train.map((i) => pub.shards[i]!.key));
  });

  it("finds a task posted by a run that died before recording its id (keys filed by dataset root)", async () => {
    const dataDir = join(dir, "lost-id-state");
    const { rt, publisher } = await agent(accounts.publisher, dataDir);
    const pub = await prepareIris();
    const taskId = await publisher.publish(pub, TERMS);
    // Simulate the crash window: the task record is gone, the write-ahead publication record is not.
    rt.store.putTask(taskId, "posted", {});
    expect(publisher.secrets(pub.datasetRoot).map((s) => s.key)).to.deep.equal(pub.shards.map((s) => s.key));
    const fresh = await agent(accounts.publisher, join(dir, "lost-id-state-copy"));
    await fresh.publisher.step();
    expect(fresh.rt.store.getTask(taskId)).to.equal(undefined); // another state file has no keys for it: not ours to act on
    await (await market.connect(accounts.publisher.connect(provider)).cancelQueued(taskId)).wait();
  });

  it("rejects a malformed spec and a dataset that does not match the spec before uploading or posting anything", async () => {
    const blocks = filesUnder(join(dir, "ipfs-publisher"));
    const tasks = await market.taskCount();

    expect(() => resolveSpec('{"version": 1, "name": "x"}')).to.throw().that.satisfies((e: unknown) => isMlError(e, "SPEC_INVALID"));
    expect(() => resolveSpec("irisMlpp")).to.throw(/unknown preset "irisMlpp"/);
    const mismatch = preparePublication({ spec: presets.mnistMlp, dataset: loadIris(), shardCount: 10, testShards: 3, store: ipfs, providers: [] });
    await mismatch.then(
      () => expect.fail("expected DATASET_INVALID"),
      (e: unknown) => expect(isMlError(e, "DATASET_INVALID") && /shape \[4\], the spec's input is \[784\]/.test((e as Error).message)).to.equal(true),
    );

    expect(filesUnder(join(dir, "ipfs-publisher"))).to.equal(blocks);
    expect(await market.taskCount()).to.equal(tasks);
  });

  it("podl publish refuses bad specs, datasets, flags and terms with a clear error, uploading and posting nothing", async () => {
    const dataDir = join(dir, "cli-bad");
    const tasks = await market.taskCount();
    const write = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const malformed = write("malformed-spec.json", JSON.stringify({ ...presets.irisMlp, classes: 1 }));
    const tooBig = write("too-big-spec.json", JSON.stringify({ ...presets.irisMlp, layers: [{ type: "dense", units: 4096, activation: "relu" }, { type: "dense", units: 3, activation: "softmax" }] }));
    const badCsv = write("bad.csv", "a,b,c,d,label\n1,2,3,4,0\n1,2,x,4,1\n");
    const base = ["publish", "--market", await market.getAddress(), "--reward", "1"];
    const cases: { args: string[]; code: number; error: RegExp }[] = [
      { args: ["--dataset", "iris", "--spec", malformed], code: 1, error: /spec\.classes: .* \[SPEC_INVALID\] \[CONFIG_INVALID\]/ },
      { args: ["--dataset", "iris", "--spec", tooBig], code: 1, error: /over the limit of 10000 \[SPEC_LIMIT\] \[CONFIG_INVALID\]/ },
      { args: ["--dataset", "iris", "--spec", join(dir, "missing.json")], code: 1, error: /cannot read spec file .*missing\.json.* \[CONFIG_INVALID\]/ },
      { args: ["--dataset", badCsv, "--spec", "irisMlp"], code: 1, error: /bad\.csv.*line 3.* \[DATASET_INVALID\] \[CONFIG_INVALID\]/ },
      { args: ["--dataset", "mnist", "--spec", "irisMlp", "--mnist-examples", "20"], code: 1, error: /shape \[784\], the spec's input is \[4\] \[DATASET_INVALID\]/ },
      { args: ["--dataset", "iris", "--spec", "irisMlp", "--shard-count", "5"], code: 1, error: /shardCount: Number must be greater than or equal to 10 \(--shard-count\) \[CONFIG_INVALID\]/ },
      { args: ["--dataset", "iris", "--spec", "irisMlp", "--test-shards", "10"], code: 1, error: /--test-shards 10 must be below --shard-count 10 \[CONFIG_INVALID\]/ },
      { args: ["--dataset", "iris", "--spec", "irisMlp", "--reward", "lots"], code: 1, error: /reward: must be a decimal amount \(--reward\)/ },
      { args: ["--dataset", "iris"], code: 1, error: /--spec is required with --dataset/ },
      { args: ["--dataset", "iris", "--spec", "irisMlp", "--train-window", "10"], code: 1, error: /train window 10 s is outside the market's 60\.\.2592000 s \[CONFIG_INVALID\]/ },
      { args: ["--dataset", "iris", "--spec", "irisMlp", "--reward", "0.000000000000000001"], code: 1, error: /reward 0\.000000000000000001 ETH is below the market's minimum of 0\.000000000000001 ETH \[CONFIG_INVALID\]/ },
      { args: ["--post-only"], code: 2, error: /--post-only needs --dataset \(there is nothing to post\) \[USAGE\]/ },
      { args: ["--dataset", "iris", "--windows", "3"], code: 2, error: /Unknown option '--windows'/ },
    ];
    for (const c of cases) {
      const err: string[] = [];
      const io = { out: () => undefined, err: (l: string) => void err.push(l), env: env(accounts.publisher, dataDir) };
      const code = await main([...base, ...c.args], io);
      expect(code, `${c.args.join(" ")}: ${err.join("\n")}`).to.equal(c.code);
      expect(err.join("\n")).to.match(c.error);
    }
    // Nothing was uploaded (no IPFS node was even opened) and nothing posted.
    expect(filesUnder(join(dataDir, "ipfs-publisher"))).to.equal(0);
    expect(await market.taskCount()).to.equal(tasks);
  });

  it("refuses to publish without the funds for reward and bond, with a clear error and nothing posted", async () => {
    const poor = Wallet.createRandom();
    await (await accounts.owner.connect(provider).sendTransaction({ to: poor.address, value: parseEther("0.5") })).wait();
    const { publisher, rt } = await agent(new Wallet(poor.privateKey), join(dir, "poor-state"));
    const tasks = await market.taskCount();
    const error = await publisher.checkTerms(TERMS).then(
      () => expect.fail("expected INSUFFICIENT_FUNDS"),
      (e: unknown) => e,
    );
    expect(isAgentError(error, "INSUFFICIENT_FUNDS")).to.equal(true);
    expect((error as Error).message).to.contain(`posting a task with reward 1.0 ETH needs 1.05 ETH (reward + publisher bond); ${poor.address} holds 0.5 ETH`);
    expect(rt.store.listTasks()).to.deep.equal([]);

    // The command says the same before it prepares or uploads anything.
    const err: string[] = [];
    const dataDir = join(dir, "poor-cli");
    const code = await main(["publish", "--market", await market.getAddress(), "--dataset", "iris", "--spec", "irisMlp", "--reward", "1"], { out: () => undefined, err: (l) => void err.push(l), env: env(new Wallet(poor.privateKey), dataDir) });
    expect(code).to.equal(1);
    expect(err.join("\n")).to.match(/needs 1.05 ETH .* \[INSUFFICIENT_FUNDS\]/);
    expect(filesUnder(join(dataDir, "ipfs-publisher"))).to.equal(0);

    // Enough for reward and bond, not for the gas of postTask: the dry run says so, still before any upload.
    const almost = Wallet.createRandom();
    await (await accounts.owner.connect(provider).sendTransaction({ to: almost.address, value: parseEther("1.05") + 1000n })).wait();
    const gasErr: string[] = [];
    const gasDir = join(dir, "almost-cli");
    const gasCode = await main(["publish", "--market", await market.getAddress(), "--dataset", "iris", "--spec", "irisMlp", "--reward", "1"], { out: () => undefined, err: (l) => void gasErr.push(l), env: env(new Wallet(almost.privateKey), gasDir) });
    expect(gasCode).to.equal(1);
    expect(gasErr.join("\n")).to.match(/needs 1.05 ETH \(reward \+ publisher bond\) and about 0\.\d+ ETH of gas; .* holds 1.050000000000001 ETH \[INSUFFICIENT_FUNDS\]/);
    expect(filesUnder(join(gasDir, "ipfs-publisher"))).to.equal(0);
    expect(await market.taskCount()).to.equal(tasks);
  });
});
