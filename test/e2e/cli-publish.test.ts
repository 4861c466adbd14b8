import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { Wallet, type Result } from "ethers";
import { podl } from "../agents/helpers/podl-io.js";
import { tabularCsv } from "../agents/helpers/tabular.js";
import { nameBootstrapPeers } from "../../devnet/bootstrap.js";
import { ROLES, minerArgs, postArgs, serveArgs, verifierArgs, type AgentSetup } from "../../devnet/network.js";
import { waitForPort } from "../../devnet/node.js";
import { TERMINAL_PHASES, phaseOf } from "../../devnet/report.js";
import type { AgentProcess } from "../../devnet/supervisor.js";
import { splitShards } from "../../agents/protocol/split.js";
import { EmbeddedStore } from "../../agents/storage/index.js";
import { fetchShards, fetchTaskDocument } from "../../agents/protocol/submission.js";
import { TimeKeeper, startWorld, type World } from "./helpers/world.js";

/**
 * A newcomer's path through the command line, with a CSV of their own: `podl spec init`, publish,
 * two miners and three validators as `podl` processes, settlement, then `podl model get` from the
 * publisher's node alone (the miners are gone: the publisher pinned the model) and `podl predict`.
 * Bad inputs first: each a clear error, nothing uploaded, nothing sent.
 */
// About three minutes (a node, five agent processes, a settled task): run by `npm run test:e2e:cli`
// (PODL_E2E_CLI=1), not by `npm test`.
const maybe = process.env.PODL_E2E_CLI === "1" ? describe : describe.skip;

maybe("end to end through the CLI: a publisher's own CSV to a model in its hands", function () {
  this.timeout(420_000);
  let w: World;
  let keeper: TimeKeeper;
  let publisher: AgentSetup;
  let miners: AgentSetup[];
  let validators: AgentSetup[];
  let dir: string;
  let csv: { train: string; holdout: string; classes: string[]; header: string[] };
  const LABEL = "biome";
  const taskId = 1n;

  /** `podl` in this process with the agents' environment (what a user's shell would hold). */
  const cli = (args: string[], who: AgentSetup | Wallet, dataDir: string) =>
    podl(args, { PODL_RPC_URL: w.node.url, PODL_CHAIN_ID: "31337", PODL_PRIVATE_KEY: ("wallet" in who ? who.wallet : who).privateKey, PODL_DATA_DIR: dataDir, PODL_LOG_LEVEL: "warn" });

  before(async function () {
    w = await startWorld({ seed: 0x11, verbose: process.env.PODL_E2E_VERBOSE === "1" });
    dir = join(w.folder, "newcomer");
    await mkdir(dir, { recursive: true });
    // 4 classes named by text, the label in the middle, two noise columns; 60 rows held back.
    const data = tabularCsv(700, { label: LABEL });
    const lines = data.text.trim().split("\n");
    csv = { train: join(dir, "biomes.csv"), holdout: join(dir, "holdout.csv"), classes: data.classes, header: data.header };
    await writeFile(csv.train, `${lines.slice(0, 641).join("\n")}\n`);
    await writeFile(csv.holdout, `${[lines[0], ...lines.slice(641)].join("\n")}\n`);
    keeper = new TimeKeeper(w);
    publisher = await w.agent("publisher", "publisher", ROLES.publisher);
    // No --ipfs-peers anywhere: the address book names the publisher's node as the bootstrap.
    await nameBootstrapPeers(w.deploymentFile, [publisher.ipfsAddress]);
    miners = [await w.agent("miner-1", "miner", ROLES.miners[0]), await w.agent("miner-2", "miner", ROLES.miners[1])];
    validators = [];
    for (const [i, index] of ROLES.validators.slice(0, 3).entries()) validators.push(await w.agent(`validator-${i + 1}`, "verifier", index));
  });

  after(async function () {
    if (this.currentTest?.state === "failed") process.stdout.write(`${w?.output.slice(-60).join("\n")}\n`);
    await keeper?.stop();
    await w?.close();
  });

  it("refuses bad inputs with a clear error each, uploading and sending nothing", async () => {
    const spec = join(dir, "good-spec.json");
    expect((await podl(["spec", "init", "--dataset", csv.train, "--label-column", LABEL, "--out", spec])).code).to.equal(0);
    const unknownLayer = join(dir, "unknown-layer.json");
    const parsed = JSON.parse(await readFile(spec, "utf8"));
    await writeFile(unknownLayer, JSON.stringify({ ...parsed, layers: [{ type: "lstm", units: 8 }, ...parsed.layers] }));
    const unfunded = new Wallet(Wallet.createRandom().privateKey);
    const base = (s = spec) => ["publish", "--deployment", w.deploymentFile, "--dataset", csv.train, "--label-column", LABEL, "--spec", s, "--reward", "1", "--train-window", "30"];
    const cases: { args: string[]; who: AgentSetup | Wallet; error: string | RegExp }[] = [
      { args: [...base(), "--label-column", "species"], who: publisher, error: `label column: no column named "species" (the columns: ${csv.header.join(", ")})` },
      { args: base(unknownLayer), who: publisher, error: 'spec.layers.0.type: unknown type "lstm" (expected dense, conv2d, maxPooling2d, flatten, dropout, batchNormalization)' },
      { args: [...base(), "--reward", "0"], who: publisher, error: /reward 0\.0 ETH is below the market's minimum of \d+\.\d+ ETH \[CONFIG_INVALID\]/ },
      { args: [...base(), "--deployment", join(dir, "deployments", "localhost.json")], who: publisher, error: `cannot read deployment ${join(dir, "deployments", "localhost.json")}` },
      { args: base(), who: unfunded, error: `posting a task with reward 1.0 ETH needs 1.05 ETH (reward + publisher bond); ${unfunded.address} holds 0.0 ETH` },
    ];
    const nonce = await w.provider.getTransactionCount(publisher.wallet.address);
    for (const c of cases) {
      const dataDir = join(dir, "bad-state");
      const r = await cli(c.args, c.who, dataDir);
      expect(r.code, r.err).to.be.oneOf([1, 2]);
      if (typeof c.error === "string") expect(r.err).to.contain(c.error);
      else expect(r.err).to.match(c.error);
    }
    expect(await w.c.market.taskCount()).to.equal(0n);
    expect(await w.provider.getTransactionCount(publisher.wallet.address)).to.equal(nonce);
    expect(await w.provider.getTransactionCount(unfunded.address)).to.equal(0);
  });

  it("publishes from `podl spec init`, settles with two miners and three validators, and hands the publisher a model that predicts as the chain measured", async () => {
    const spec = join(dir, "spec.json");
    const init = await podl(["spec", "init", "--dataset", csv.train, "--label-column", LABEL, "--out", spec, "--json"]);
    expect(init.code, init.err).to.equal(0);
    expect(JSON.parse(init.out).classNames).to.deep.equal(csv.classes);

    const threshold = 7000;
    const extra = ["--label-column", LABEL, "--feature-scaling", "standard"];
    const posted = w.spawn(publisher, postArgs(publisher, w.deploymentFile, { dataset: csv.train, spec, reward: "1", threshold, trainWindow: 30 }, extra));
    expect((await posted.exited).code, posted.tail.join("\n")).to.equal(0);
    w.spawn(publisher, serveArgs(publisher, w.deploymentFile));
    await waitForPort(Number(publisher.ipfsListen.split("/").at(-1)), 60_000);
    const minerProcesses = miners.map((m) => w.spawn(m, minerArgs(m, w.deploymentFile, [])));
    for (const m of miners) await waitForPort(Number(m.ipfsListen.split("/").at(-1)), 90_000);
    for (const v of validators) w.spawn(v, verifierArgs(v, w.deploymentFile, []));
    keeper.watch({ taskId, committers: 2, revealers: 2, actingMembers: 3 });
    keeper.start();
    await w.until("waiting for the task to end", async () => TERMINAL_PHASES.has(await phaseOf(w.c, taskId)), 300_000);
    expect(await phaseOf(w.c, taskId)).to.equal("settled");
    const [block] = await w.c.market.queryFilter(w.c.market.filters.LearningBlock(undefined, taskId));
    const median = Number(block!.args.score);

    // The publisher pins the winner's (and ommers') models and withdraws its bond once the task ends.
    await w.until("waiting for the publisher to withdraw and pin", () => w.output.some((l) => /publisher.*task 1: pinned \d model\(s\) on this node/.test(l)), 60_000);
    expect(w.output.some((l) => /publisher.*withdrew .* ETH of market credit/.test(l)), "publisher withdrew").to.equal(true);
    expect(await w.c.market.creditOf(publisher.wallet.address, "0x0000000000000000000000000000000000000000")).to.equal(0n);

    // The miners go away; the model comes from the publisher's node alone.
    for (const p of minerProcesses) p.kill("SIGTERM");
    await Promise.all(minerProcesses.map((p) => p.exited));
    const modelDir = join(dir, "model");
    const got = await cli(["model", "get", "1", "--deployment", w.deploymentFile, "--out", modelDir, "--fetch-timeout-ms", "20000"], publisher, join(dir, "getter"));
    expect(got.code, got.err).to.equal(0);
    expect(JSON.parse(await readFile(join(modelDir, "labels.json"), "utf8"))).to.deep.equal(csv.classes);

    // The test shards (keys public on chain) as raw CSV rows: predict must score what the validators scored.
    const testRows = await testShardRows(publisher, taskId);
    await writeFile(join(dir, "test-rows.csv"), testRows.csv);
    const onTest = await cli(["predict", "--model", modelDir, "--input", join(dir, "test-rows.csv"), "--json"], publisher, join(dir, "getter"));
    expect(onTest.code, onTest.err).to.equal(0);
    const testLabels = onTest.out.split("\n").map((l) => JSON.parse(l).label as string);
    const correct = testLabels.filter((label, i) => label === testRows.labels[i]).length;
    expect(Math.abs(correct - (median * testRows.labels.length) / 10_000), `${correct} of ${testRows.labels.length} vs median ${median} bps`).to.be.at.most(1);

    // And on the 60 rows nobody saw.
    const held = await cli(["predict", "--model", modelDir, "--input", csv.holdout, "--json"], publisher, join(dir, "getter"));
    expect(held.code, held.err).to.equal(0);
    const truth = (await readFile(csv.holdout, "utf8")).trim().split("\n").slice(1).map((l) => l.split(",")[2]);
    const heldLabels = held.out.split("\n").map((l) => JSON.parse(l).label as string);
    expect(heldLabels).to.have.length(60);
    expect(heldLabels.filter((l, i) => l === truth[i]).length / 60).to.be.at.least(threshold / 10_000);
  });

  /** Decrypts the task's test shards from the publisher's node with the keys it unlocked, back to raw CSV rows. */
  async function testShardRows(from: AgentSetup, id: bigint): Promise<{ csv: string; labels: string[] }> {
    const store = await EmbeddedStore.open({ dataDir: join(dir, "ipfs-test-rows") });
    try {
      await store.dial(from.ipfsAddress);
      const [posted] = await w.c.market.queryFilter(w.c.market.filters.TaskPosted(id));
      const doc = await fetchTaskDocument(store, posted!.args.specCid, { timeoutMs: 20_000 });
      const [unlocked] = await w.c.market.queryFilter(w.c.market.filters.TestDataUnlocked(id));
      const keys = ((unlocked!.args as unknown as Result).getValue("keys") as { index: bigint; cidHash: string; key: string }[]).map((k) => ({ index: k.index, cidHash: k.cidHash, key: k.key }));
      const t = await w.c.market.getTask(id);
      const { test } = splitShards(t.seed, Number(t.shardCount), Number(t.testShards));
      const ds = await fetchShards(store, doc, test, keys, { timeoutMs: 20_000 });
      const p = doc.dataset!.preprocessing;
      if (p.kind !== "table" || p.transform === undefined) throw new Error("expected standardised table preprocessing in the task document");
      const k = p.features.length;
      const names = doc.dataset!.classNames;
      const rows = Array.from({ length: ds.n }, (_, i) => p.features.map((_, j) => ds.x[i * k + j]! * p.transform!.divide[j]! + p.transform!.subtract[j]!).join(","));
      return { csv: `${[p.features.map((f) => f.name).join(","), ...rows].join("\n")}\n`, labels: Array.from(ds.y, (y) => names[y]!) };
    } finally {
      await store.close();
    }
  }
});
