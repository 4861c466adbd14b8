import * as tf from "@tensorflow/tfjs";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { expect } from "chai";
import { MaxUint256, Wallet, ZeroHash, parseEther, toUtf8Bytes, type JsonRpcProvider } from "ethers";
import { openRuntime, type AgentRuntime } from "../../../agents/core/runtime.js";
import { loadConfig } from "../../../agents/config/load.js";
import { selectBackend } from "../../../agents/ml/backend.js";
import { TfjsWorkerEngine } from "../../../agents/ml/engines/tfjs-worker.js";
import { loadIris } from "../../../agents/ml/datasets/bundled.js";
import { canonicalJson, parseSpec, presets } from "../../../agents/ml/spec.js";
import { MODEL_SALT, Miner, type MinerOptions } from "../../../agents/miner/agent.js";
import { minerConfigSchema } from "../../../agents/cli/commands/miner.js";
import { Publisher, type PublishTerms } from "../../../agents/publisher/agent.js";
import { publisherConfigSchema } from "../../../agents/cli/commands/publish.js";
import { preparePublication } from "../../../agents/publisher/prepare.js";
import { EmbeddedStore } from "../../../agents/storage/index.js";
import { fetchSubmission } from "../../../agents/protocol/submission.js";
import type { TaskMarket } from "../../../types/index.js";
import { account, startChain } from "../helpers/chain.js";
import { captureLogger } from "../helpers/log.js";
import { ZERO, makeDataset, taskRequest } from "../../market/helpers/market.js";
import { accounts, deployMarket, mineToSeed, passTime } from "../publisher/helpers/market.js";

const TERMS: PublishTerms = { reward: parseEther("1"), accuracyThreshold: 5000, maxSubmissions: 4, trainWindow: 120 };
const PODL = join(import.meta.dirname, "..", "..", "..", "agents", "cli", "podl.ts");

describe("miner agent", function () {
  this.timeout(120_000);
  let chain: Awaited<ReturnType<typeof startChain>>;
  let provider: JsonRpcProvider;
  let market: TaskMarket;
  let startBlock: number;
  let dir: string;
  let publisherIpfs: EmbeddedStore;
  let publisher: Publisher;
  const runtimes: AgentRuntime[] = [];
  const stores: EmbeddedStore[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    chain = await startChain();
    provider = chain.provider;
    ({ market, block: startBlock } = await deployMarket(provider));
    dir = mkdtempSync(join(tmpdir(), "podl-miner-"));
    publisherIpfs = await EmbeddedStore.open({ dataDir: join(dir, "ipfs-publisher") });
    publisher = new Publisher(await runtime(accounts.publisher, join(dir, "publisher"), "publisher"), { market: await market.getAddress(), startBlock });
    await selectBackend({ force: "cpu" });
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const rt of runtimes) rt.close();
    await Promise.all([publisherIpfs?.close(), ...stores.map((s) => s.close())]);
    await chain?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  function env(wallet: Wallet, dataDir: string): Record<string, string> {
    return { PODL_RPC_URL: chain.url, PODL_DATA_DIR: dataDir, PODL_POLL_INTERVAL_MS: "50", PODL_PRIVATE_KEY: wallet.privateKey, PODL_RPC_BACKOFF_MS: "5" };
  }

  async function runtime(wallet: Wallet, dataDir: string, agent: string, log = captureLogger(agent).log): Promise<AgentRuntime> {
    const e = env(wallet, dataDir);
    const config = loadConfig(agent === "publisher" ? publisherConfigSchema : minerConfigSchema, { env: e });
    const rt = await openRuntime({ agent, config, env: e, log });
    runtimes.push(rt);
    return rt;
  }

  /** A miner agent on `dataDir` (state and IPFS blocks), its node connected to the publisher's. */
  async function miner(wallet: Wallet, dataDir: string, options: Partial<MinerOptions> = {}) {
    const capture = captureLogger("miner");
    const rt = await runtime(wallet, dataDir, "miner", capture.log);
    const store = await EmbeddedStore.open({ dataDir: join(dataDir, "ipfs-miner"), peers: publisherIpfs.addresses() });
    stores.push(store);
    const agent = new Miner(rt, {
      market: await market.getAddress(),
      startBlock,
      store,
      backend: "cpu",
      strategy: "dlbc",
      maxEpochs: 5,
      commitMarginSeconds: 5,
      fetchTimeoutMs: 5_000,
      startTasks: true,
      ...options,
    });
    return { agent, rt, store, capture };
  }

  async function publishIris(): Promise<bigint> {
    const pub = await preparePublication({ spec: presets.irisMlp, dataset: loadIris(), shardCount: 10, testShards: 3, store: publisherIpfs, providers: publisherIpfs.addresses() });
    return await publisher.publish(pub, TERMS);
  }

  /** Posts a task whose document says whatever `doc` says, with a made-up dataset (it is never started). */
  /** Ends a task with no submission (test keys, then a settlement that refunds the publisher), freeing a market slot. */
  async function endWithoutSubmission(taskId: bigint): Promise<void> {
    await passTime(provider, (await market.getTask(taskId)).commitDeadline);
    await publisher.step(); // test keys
    await passTime(provider, (await market.getTask(taskId)).revealDeadline);
    const payouts = [{ account: accounts.publisher.address, amount: await market.taskPool(taskId) }];
    const settlement = { outcome: 1, payouts, winner: MaxUint256, winnerScore: 0, ommersHash: ZeroHash };
    await (await market.connect(accounts.settlement.connect(provider)).settle(taskId, settlement)).wait();
  }

  async function postDocument(doc: unknown): Promise<bigint> {
    const specCid = (await publisherIpfs.add(toUtf8Bytes(canonicalJson(doc)))).toString();
    const request = taskRequest(makeDataset(10, specCid.slice(-8)), { specCid, reward: TERMS.reward, token: ZERO });
    const escrow = await publisher.escrowFor(TERMS.reward);
    const tx = await market.connect(accounts.publisher.connect(provider)).postTask(request, { value: escrow });
    await tx.wait();
    return await market.taskCount();
  }

  it("trains, commits before the deadline, reveals a fetchable artifact and withdraws its reward", async () => {
    const taskId = await publishIris();
    const m = await miner(account(5), join(dir, "honest"));
    await m.agent.step(); // evaluates the task, prefetches the shards, starts it (startNext)
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("eligible");
    expect((await market.getTask(taskId)).phase).to.equal(2n); // Started, by the miner
    await mineToSeed(provider); // the seed's randomness is ready
    await publisher.step(); // training keys
    await m.agent.step(); // trains and commits
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("committed");
    expect(await market.isMiner(taskId, m.agent.address)).to.equal(true);
    // 120 s of window for iris: it trains to its cap of 5 epochs (past it only while the watermark does not read).
    const trained = m.capture.lines().find((l) => l.stopped !== undefined && l.phase === undefined)!;
    expect(trained).to.include({ cap: 5, stopped: "epochs.max" });
    expect(trained.epochs).to.be.at.least(5);
    const opening = m.rt.store.getSalt(taskId, MODEL_SALT)!;
    expect(opening.data.modelCid).to.be.a("string");

    await m.agent.step();
    expect(await market.getRevealed(taskId)).to.have.length(0); // not before the commit deadline
    const t = await market.getTask(taskId);
    await passTime(provider, t.commitDeadline);
    await publisher.step(); // test keys
    await m.agent.step(); // reveals
    const [revealed] = await market.getRevealed(taskId);
    expect(revealed!.miner).to.equal(m.agent.address);
    expect(revealed!.modelHash).to.equal(opening.data.modelHash);
    expect(revealed!.checkpointRoot).to.equal(opening.data.checkpointRoot);
    // A validator's node fetches it from the miner's node: the hash on chain is the artifact's.
    await publisherIpfs.dial(m.store.addresses()[0]!);
    const fetched = await fetchSubmission(publisherIpfs, opening.data.modelCid as string, { spec: presets.irisMlp, expectedModelHash: revealed!.modelHash, timeoutMs: 5_000 });
    expect(fetched.artifact.miner).to.equal(m.agent.address.toLowerCase());
    expect(fetched.artifact.seed).to.equal(t.seed);

    await passTime(provider, (await market.getTask(taskId)).revealDeadline);
    const pool = await market.taskPool(taskId);
    const settlement = { outcome: 0, payouts: [{ account: m.agent.address, amount: pool }], winner: 0n, winnerScore: 9000, ommersHash: `0x${"00".repeat(32)}` };
    await (await market.connect(accounts.settlement.connect(provider)).settle(taskId, settlement)).wait();
    const before = await provider.getBalance(m.agent.address);
    const report = await m.agent.step();
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("done");
    expect(await market.creditOf(m.agent.address, ZERO)).to.equal(0n);
    expect((await provider.getBalance(m.agent.address)) - before).to.be.greaterThan((pool * 99n) / 100n);
    expect(report.events.join("\n")).to.match(new RegExp(`task ${taskId} settled: withdrew ${pool} wei`));
  });

  it("does not commit to a model whose watermark did not embed: skips the task, sends no transaction, says why", async () => {
    // λ = 1e-30 vanishes next to the cross-entropy's gradient in float32 (1e-6 still embedded: Adam rescales
    // a small gradient), so 32 bits stay at chance: past its 5 planned epochs the miner trains on to the spec's 100, then gives up.
    const spec = parseSpec({ ...presets.irisMlp, name: "iris-faint-watermark", watermark: { bits: 32, strength: 1e-30 } });
    const pub = await preparePublication({ spec, dataset: loadIris(), shardCount: 10, testShards: 3, store: publisherIpfs, providers: publisherIpfs.addresses() });
    const taskId = await publisher.publish(pub, TERMS);
    const wallet = Wallet.createRandom();
    await (await accounts.owner.connect(provider).sendTransaction({ to: wallet.address, value: parseEther("10") })).wait();
    const m = await miner(new Wallet(wallet.privateKey), join(dir, "faint"), { startTasks: false });
    for (let i = 0; i < 6 && m.rt.store.getTask(taskId)?.phase !== "skipped"; i++) {
      await m.agent.step();
      await publisher.step(); // starts the task, then (once the seed is known) unlocks the training keys
      if ((await market.getTask(taskId)).phase === 2n) await mineToSeed(provider);
    }
    const record = m.rt.store.getTask(taskId)!;
    expect(record.phase, `market phase ${(await market.getTask(taskId)).phase}`).to.equal("skipped");
    expect(record.data.reason).to.match(/^its model's watermark did not embed: \d+\/32 bits after 100 epoch\(s\) \(p = .*\), and every verifier would score that model 0; not committing to it, no bond posted$/);
    expect(m.capture.lines().map((l) => l.msg)).to.include(`skipped task ${taskId}: ${record.data.reason}`);
    expect(m.rt.store.getSalt(taskId, MODEL_SALT)).to.equal(undefined);
    expect(await market.isMiner(taskId, wallet.address)).to.equal(false);
    expect(await provider.getTransactionCount(wallet.address)).to.equal(0);
    expect(await provider.getBalance(wallet.address)).to.equal(parseEther("10"));

    // End the task (no submission) so that the market's two active slots are free for the next tests.
    await endWithoutSubmission(taskId);
  });

  it("stops training at the commit deadline, far short of its epoch cap, when the window is short", async () => {
    const taskId = await publishIris();
    const wallet = Wallet.createRandom();
    await (await accounts.owner.connect(provider).sendTransaction({ to: wallet.address, value: parseEther("10") })).wait();
    // No --max-epochs: the cap is the spec's epochs.max (100).
    const m = await miner(new Wallet(wallet.privateKey), join(dir, "short"), { maxEpochs: undefined });
    await m.agent.step(); // evaluates, probes, starts the task
    await mineToSeed(provider); // the seed's randomness is ready
    await publisher.step(); // training keys
    // Two seconds before the commit margin: the probe says one epoch fits, nothing is left for a second
    // once the post-training work (hash, upload, commitment) is set aside.
    const margin = 5n;
    await passTime(provider, (await market.getTask(taskId)).commitDeadline - margin - 4n);
    await m.agent.step();
    const trained = m.capture.lines().find((l) => l.stopped !== undefined && l.phase === undefined);
    expect(trained, m.capture.text()).to.not.equal(undefined);
    expect(trained).to.include({ cap: 100, stopped: "deadline" });
    expect(trained!.epochs).to.be.lessThan(100);
    expect(trained!.msg).to.match(new RegExp(`^task ${taskId}: trained ${String(trained!.epochs)} epoch\\(s\\) in [0-9.]+ s; stopped: deadline$`));
    // Whatever it trained, it commits only to a model whose watermark reads.
    const record = m.rt.store.getTask(taskId)!;
    if (record.phase !== "committed") expect(record.data.reason).to.match(/watermark did not embed|after the commit deadline/);

    // End the task so that the market's two active slots are free for the next tests.
    await endWithoutSubmission(taskId);
  });

  it("commits a trained model on the next step when storing it failed once, without training again", async () => {
    const taskId = await publishIris();
    const wallet = Wallet.createRandom();
    await (await accounts.owner.connect(provider).sendTransaction({ to: wallet.address, value: parseEther("10") })).wait();
    const m = await miner(new Wallet(wallet.privateKey), join(dir, "retry-commit"), { startTasks: false });
    await m.agent.step(); // evaluates and prefetches
    await (await market.connect(accounts.keeper.connect(provider)).startNext()).wait();
    await mineToSeed(provider);
    await publisher.step(); // training keys
    // Test double at the IPFS boundary: the node refuses the first write after training (a full disk,
    // a restarting daemon), which the miner treats as a network failure and retries.
    const add = m.store.add.bind(m.store);
    let refusals = 1;
    m.store.add = (async (...args: Parameters<typeof add>) => {
      if (refusals-- > 0) throw new Error("test double: the node refused one write");
      return await add(...args);
    }) as typeof add;
    await m.agent.step(); // trains; storing the model fails
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("eligible");
    expect(m.capture.text()).to.match(/storing the .* failed: test double: the node refused one write; will retry/);
    await m.agent.step(); // commits the model it trained
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("committed");
    expect(await market.isMiner(taskId, m.agent.address)).to.equal(true);
    const trainings = m.capture.lines().filter((l) => l.stopped !== undefined && l.phase === undefined);
    expect(trainings, "trained once").to.have.length(1);
    await endWithoutSubmission(taskId);
  });

  it("trains in a worker: its loop steps and its IPFS node serves while a task trains; close() cancels the training, a restart carries on", async () => {
    const taskId = await publishIris();
    const wallet = Wallet.createRandom();
    await (await accounts.owner.connect(provider).sendTransaction({ to: wallet.address, value: parseEther("10") })).wait();
    const engine = new TfjsWorkerEngine("cpu");
    // 100 epochs of Iris: seconds of training, long enough to watch the loop during it.
    const options: Partial<MinerOptions> = { background: true, engine, maxEpochs: 100 };
    const m = await miner(new Wallet(wallet.privateKey), join(dir, "background"), options);
    await m.agent.step(); // evaluates (the probe runs in the worker), starts the task
    await mineToSeed(provider);
    await publisher.step(); // training keys
    const specCid = m.rt.store.getTask(taskId)!.data.specCid as string;
    const peer = await EmbeddedStore.open({ dataDir: join(dir, "peer-of-background"), peers: m.store.addresses() });
    stores.push(peer);
    const training = () => m.capture.lines().some((l) => String(l.msg).startsWith(`training task ${taskId}`)) && !m.capture.lines().some((l) => l.stopped !== undefined);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const started = performance.now();
    await m.agent.step(); // starts the job (decrypt, then train in the worker) and returns
    for (let i = 0; i < 400 && !training(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(training(), m.capture.text()).to.equal(true);
    // Another node fetches the task document from the miner's node, and the loop steps, while the worker trains.
    const fetched = await peer.get(specCid, { timeoutMs: 10_000 });
    expect(fetched.byteLength).to.be.greaterThan(0);
    expect(training(), "still training after the fetch").to.equal(true);
    let steps = 0;
    for (; steps < 3; steps++) await m.agent.step();
    expect(training(), "still training after three steps").to.equal(true);
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("eligible");
    await m.agent.close(); // cancels the job: its worker ends, the task stays eligible
    const elapsed = performance.now() - started;
    delay.disable();
    expect(engine.workers).to.equal(0);
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("eligible");
    // Structural: the loop never waited for the training thread (its longest stall is a small part of the time trained).
    expect(delay.max / 1e6).to.be.below(elapsed / 4);

    // A restart on the same state trains (5 epochs) and commits, in the foreground this time.
    const restarted = new Miner(m.rt, { market: await market.getAddress(), startBlock, store: m.store, backend: "cpu", strategy: "dlbc", maxEpochs: 5, commitMarginSeconds: 5, fetchTimeoutMs: 5_000, startTasks: false, engine });
    await restarted.step();
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("committed");
    await engine.close();

    // End the task so that the market's two active slots are free for the next tests.
    await endWithoutSubmission(taskId);
  });

  it("reveals in time after being SIGKILLed between commit and reveal", async function () {
    // The child also starts a training worker (2 CPU-s: tsx, TensorFlow.js), 5-10 s at load 30 on two cores.
    this.timeout(240_000);
    const taskId = await publishIris();
    const wallet = account(6);
    const dataDir = join(dir, "killed");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", PODL, "miner", "--market", await market.getAddress(), "--start-block", String(startBlock), "--backend", "cpu",
        "--ipfs-peers", publisherIpfs.addresses().join(","), "--max-epochs", "5", "--commit-margin", "5", "--fetch-timeout-ms", "5000"],
      { env: { ...process.env, ...env(wallet, dataDir) }, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(child);
    let output = "";
    child.stdout!.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (output += b.toString()));
    const exited = new Promise<string | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
    // The child starts the task itself; the publisher unlocks the keys; kill the child once its commitment is on chain.
    const deadline = Date.now() + 150_000;
    while (!(await market.isMiner(taskId, wallet.address))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the miner never committed:\n${output}`);
      if ((await market.getTask(taskId)).phase === 2n) await mineToSeed(provider); // started: the seed's randomness
      await publisher.step();
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill("SIGKILL");
    if (process.env.DEBUG_MINER) console.error(output);
    expect(await exited).to.equal("SIGKILL");
    expect(await market.getRevealed(taskId)).to.have.length(0);

    await passTime(provider, (await market.getTask(taskId)).commitDeadline);
    await publisher.step(); // test keys
    const restarted = await miner(wallet, dataDir);
    const opening = restarted.rt.store.getSalt(taskId, MODEL_SALT)!;
    await restarted.agent.step();
    const [revealed] = (await market.getRevealed(taskId)).filter((s) => s.miner === wallet.address);
    expect(revealed, output).to.not.equal(undefined);
    expect(revealed!.modelHash).to.equal(opening.data.modelHash);
    expect(restarted.rt.store.getTask(taskId)?.phase).to.equal("revealed");
    expect(Number((await provider.getBlock("latest"))!.timestamp)).to.be.at.most(Number((await market.getTask(taskId)).revealDeadline));
    // The artifact survived the kill in the miner's block store and is served from there.
    await publisherIpfs.dial(restarted.store.addresses()[0]!);
    await fetchSubmission(publisherIpfs, opening.data.modelCid as string, { spec: presets.irisMlp, expectedModelHash: revealed!.modelHash, timeoutMs: 5_000 });
  });

  // Demo finding (22:26): a reveal that lost the race against the window's end (WindowClosed) ended the miner with exit 1.
  it("carries on when its reveal reverts with WindowClosed, and records the task as missed", async () => {
    const taskId = await publishIris();
    const wallet = Wallet.createRandom();
    await (await accounts.owner.connect(provider).sendTransaction({ to: wallet.address, value: parseEther("10") })).wait();
    const m = await miner(new Wallet(wallet.privateKey), join(dir, "late"));
    await m.agent.step(); // evaluates and starts the task
    await mineToSeed(provider); // the seed's randomness is ready
    await publisher.step(); // training keys
    await m.agent.step(); // trains and commits
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("committed");
    const t = await market.getTask(taskId);
    await passTime(provider, t.commitDeadline);
    await publisher.step(); // test keys
    // The latest block is still inside the reveal window, but the next one lands after it.
    const { revealDeadline } = await market.getTask(taskId);
    await provider.send("evm_setNextBlockTimestamp", [`0x${(revealDeadline + 1n).toString(16)}`]);
    await m.agent.step();
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("committed");
    const warning = m.capture.lines().find((l) => l.msg === `task ${taskId}: revealModel reverted; will look again`);
    expect(String(warning?.err)).to.contain("WindowClosed");
    expect(await market.getRevealed(taskId)).to.have.length(0);

    await provider.send("evm_mine", []);
    const report = await m.agent.step();
    expect(m.rt.store.getTask(taskId)?.phase).to.equal("missed");
    expect(report.events).to.include(`missed task ${taskId}: the reveal window closed before it revealed; the bond is forfeit`);
  });

  it("skips a task whose spec is malformed, one over --max-params and one its backend cannot train, saying why", async () => {
    const document = (spec: unknown) => ({
      format: "podl-task/1",
      spec,
      shardCount: 10,
      testShards: 3,
      shards: Array.from({ length: 10 }, () => ({ cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", examples: 15, bytes: 400 })),
      providers: [],
    });
    const bad = await postDocument(document({ ...presets.irisMlp, layers: [{ type: "lstm", units: 8 }] }));
    const big = await publishIris();
    const m = await miner(account(7), join(dir, "picky"), { maxParams: 100, startTasks: false });
    await m.agent.step();
    const badRecord = m.rt.store.getTask(bad)!;
    expect(badRecord.phase).to.equal("skipped");
    expect(badRecord.data.reason).to.match(/task document .* is invalid: .*layers\.0/);
    const bigRecord = m.rt.store.getTask(big)!;
    expect(bigRecord.phase).to.equal("skipped");
    expect(bigRecord.data.reason).to.match(/has \d+ parameters, over --max-params 100/);
    const lines = m.capture.lines().filter((l) => typeof l.msg === "string" && (l.msg as string).startsWith("skipped task"));
    expect(lines.map((l) => l.msg)).to.include(`skipped task ${big}: ${bigRecord.data.reason}`);
    expect(await market.isMiner(big, m.agent.address)).to.equal(false);

    // A backend without a kernel the spec needs for training: every real backend now has the convolution
    // gradients (wasm's are registered by agents/ml/wasm-conv-grads.ts), so take away one that nothing
    // re-registers, cpu's Conv2DBackpropFilter, for this check.
    const cnn = await postDocument(document(presets.mnistCnn));
    const kernel = tf.getKernel("Conv2DBackpropFilter", "cpu")!;
    tf.unregisterKernel("Conv2DBackpropFilter", "cpu");
    try {
      const cpu = await miner(account(8), join(dir, "cpu"), { backend: "cpu", startTasks: false });
      await cpu.agent.step();
      expect(cpu.rt.store.getTask(cnn)?.data.reason).to.equal('backend cpu lacks Conv2DBackpropFilter, which "mnist-cnn" needs for training');
    } finally {
      tf.registerKernel(kernel);
    }
  });

  it("skips a task whose bond it cannot afford, with both amounts in the reason", async () => {
    const poor = Wallet.createRandom();
    await (await accounts.owner.connect(provider).sendTransaction({ to: poor.address, value: parseEther("0.001") })).wait();
    const taskId = await publishIris();
    const m = await miner(new Wallet(poor.privateKey), join(dir, "poor"), { startTasks: false });
    await m.agent.step();
    const record = m.rt.store.getTask(taskId)!;
    expect(record.phase).to.equal("skipped");
    const bond = (await market.getTask(taskId)).minerBond;
    expect(record.data.reason).to.include(`cannot afford the miner bond: ${bond} wei`);
    expect(record.data.reason).to.include(`holds ${parseEther("0.001")} wei`);
  });

});
