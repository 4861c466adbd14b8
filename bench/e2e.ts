/**
 * End-to-end bench (`npm run bench:e2e`): one full demo run (local node, publisher, three miners,
 * four validators as processes) on a representative MNIST task (8,000 bundled images, a spec that
 * allows enough epochs for minutes of training) and the small Iris task, and where the time goes,
 * from the agents' own timing log lines (SEAM-agents.md "Timings"): per task the seconds in each
 * market phase, per agent the seconds in fetch / probe / decrypt / train / hash / upload /
 * transactions / verify, the miners' non-training overhead as a fraction of their training time
 * (whole task, and after the key unlock), and a verifier's cost per submission as a fraction of that
 * submission's training time (its own work, and with its network fetches), and each agent's peak
 * resident memory (VmHWM of its processes, sampled from /proc every second: bench/rss.ts).
 * Writes bench/results/e2e.json and bench/results/e2e.md.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { presets } from "../agents/ml/spec.js";
import { runDemo, type DemoTask, type TaskSummary } from "../devnet/run.js";
import type { LogLine } from "../devnet/supervisor.js";
import { RssTracker } from "./rss.js";

const { values } = parseArgs({
  options: { "mnist-examples": { type: "string" }, "mnist-train-window": { type: "string" }, "mnist-epochs": { type: "string" }, keep: { type: "boolean" } },
});
const MNIST_EXAMPLES = Number(values["mnist-examples"] ?? 8_000);
const MNIST_TRAIN_WINDOW = Number(values["mnist-train-window"] ?? 300);
const MNIST_EPOCHS = Number(values["mnist-epochs"] ?? 200);
const TARGETS = { minerOverheadFraction: 0.05, verifierCostFraction: 0.1 };

// The mnistMlp preset caps training at 20 epochs (~25 s here), so fixed per-task costs (probe,
// hash, upload, transactions, a two-segment replay) would dominate. A miner meeting a real MNIST task
// trains for minutes: the bench posts the same model with a higher epoch cap and a longer window;
// the miner plans its epochs from its probe and the time left (SEAM-agents.md), so the window, not
// the cap, bounds the training.
const MNIST_SPEC = { ...presets.mnistMlp, name: "mnist-mlp-long", epochs: { max: MNIST_EPOCHS } };

/** One timed piece of work an agent logged. */
interface Timing {
  agent: string;
  taskId: string;
  phase: string;
  seconds: number;
  submission?: number;
  miner?: string;
  tx?: string;
  epochs?: number;
  steps?: number;
}

const timings: Timing[] = [];
/** TxSender's "transaction sent"/"transaction mined" pairs, for agents that do not time their transactions. */
const sent = new Map<string, { agent: string; label: string; at: number }>();

function collect(agent: string, line: LogLine): void {
  if (line.msg === "timing" && typeof line.phase === "string" && typeof line.seconds === "number") {
    timings.push({
      agent,
      taskId: String(line.taskId ?? ""),
      phase: line.phase,
      seconds: line.seconds,
      ...(typeof line.submission === "number" ? { submission: line.submission } : {}),
      ...(typeof line.miner === "string" ? { miner: line.miner } : {}),
      ...(typeof line.tx === "string" ? { tx: line.tx } : {}),
      ...(typeof line.epochs === "number" ? { epochs: line.epochs } : {}),
      ...(typeof line.steps === "number" ? { steps: line.steps } : {}),
    });
  } else if (line.msg === "transaction sent" && typeof line.txHash === "string") {
    sent.set(line.txHash, { agent, label: String(line.tx ?? ""), at: Date.parse(String(line.time)) });
  } else if (line.msg === "transaction mined" && typeof line.txHash === "string") {
    const s = sent.get(line.txHash);
    const taskId = /task (\d+)/.exec(String(line.tx ?? s?.label ?? ""))?.[1];
    if (s !== undefined && taskId !== undefined) {
      timings.push({ agent, taskId, phase: "tx-sender", seconds: (Date.parse(String(line.time)) - s.at) / 1000, tx: s.label });
    }
  }
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** Seconds per phase for one agent and task; transactions from its own "tx" lines, else TxSender's pairs. */
function phasesOf(agent: string, taskId: string): Record<string, number> {
  const mine = timings.filter((t) => t.agent === agent && t.taskId === taskId);
  const out: Record<string, number> = {};
  const ownTx = mine.some((t) => t.phase === "tx");
  for (const t of mine) {
    if (t.phase === "tx-sender" && ownTx) continue;
    const phase = t.phase === "tx-sender" ? "tx" : t.phase;
    out[phase] = (out[phase] ?? 0) + t.seconds;
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, round(v)]));
}

/** Durations between the phases the demo saw, in order. */
function phaseDurations(phaseTimes: Record<string, number>): Record<string, number> {
  const entries = Object.entries(phaseTimes).sort(([, a], [, b]) => a - b);
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < entries.length; i++) out[entries[i]![0]] = round(entries[i + 1]![1] - entries[i]![1], 1);
  return out;
}

function analyse(task: TaskSummary, names: Map<string, string>) {
  const agents = [...new Set(timings.filter((t) => t.taskId === task.taskId).map((t) => t.agent))].sort();
  const perAgent = Object.fromEntries(agents.map((a) => [a, phasesOf(a, task.taskId)]));
  const miners = agents.filter((a) => a.startsWith("miner-") && (perAgent[a]!.train ?? 0) > 0);
  const trainByMiner = Object.fromEntries(miners.map((m) => [m, perAgent[m]!.train!]));
  const trained = (m: string, key: "epochs" | "steps") =>
    timings.find((t) => t.agent === m && t.taskId === task.taskId && t.phase === "train" && t[key] !== undefined)?.[key] ?? null;
  const epochsByMiner = Object.fromEntries(miners.map((m) => [m, trained(m, "epochs")]));
  const stepsByMiner = Object.fromEntries(miners.map((m) => [m, trained(m, "steps")]));
  const overheadOf = (counts: (phase: string) => boolean) =>
    Object.fromEntries(
      miners.map((m) => {
        const p = perAgent[m]!;
        return [m, round(sum(Object.entries(p).filter(([k]) => k !== "train" && counts(k)).map(([, v]) => v)) / p.train!, 4)];
      }),
    );
  // Whole task: everything the miner does for it but train, the prefetch and probe while the task
  // is queued included. After the keys: the critical path from the key unlock to the reveal.
  const overheadByMiner = overheadOf(() => true);
  const afterKeysByMiner = overheadOf((phase) => phase !== "fetch" && phase !== "probe");
  // Per verifier and submission, split in two: its own work (verify of that submission incl. replay,
  // plus an equal share of the task's decrypt and of every transaction it sent for the task) and
  // its network time (fetch of that submission's artifact and checkpoints, plus an equal share of the
  // task document and shards incl. their prefetch).
  const n = task.submissions.length;
  const ownByVerifier: Record<string, number> = {};
  const withFetchByVerifier: Record<string, number> = {};
  const verifyOnlyByVerifier: Record<string, number> = {};
  const verifySeconds: Record<string, number> = {};
  const verifyPerSubmission: number[] = [];
  for (const v of agents.filter((a) => a.startsWith("validator-"))) {
    const lines = timings.filter((t) => t.agent === v && t.taskId === task.taskId);
    if (!lines.some((t) => t.phase === "verify") || n === 0) continue;
    const ownTx = lines.some((t) => t.phase === "tx");
    const txs = sum(lines.filter((t) => t.phase === (ownTx ? "tx" : "tx-sender")).map((t) => t.seconds));
    const decrypt = sum(lines.filter((t) => t.phase === "decrypt").map((t) => t.seconds));
    const commonFetch = sum(lines.filter((t) => t.phase === "fetch" && t.submission === undefined).map((t) => t.seconds));
    let worstOwn = 0;
    let worstWithFetch = 0;
    let worstVerify = 0;
    for (const [i, sub] of task.submissions.entries()) {
      const train = trainByMiner[names.get(sub.miner) ?? ""];
      if (train === undefined) continue;
      const verify = sum(lines.filter((t) => t.submission === i && t.phase === "verify").map((t) => t.seconds));
      const fetch = sum(lines.filter((t) => t.submission === i && t.phase === "fetch").map((t) => t.seconds));
      const own = verify + (decrypt + txs) / n;
      worstOwn = Math.max(worstOwn, own / train);
      worstWithFetch = Math.max(worstWithFetch, (own + fetch + commonFetch / n) / train);
      worstVerify = Math.max(worstVerify, verify / train);
    }
    verifyPerSubmission.push(...lines.filter((t) => t.phase === "verify").map((t) => t.seconds));
    ownByVerifier[v] = round(worstOwn, 4);
    withFetchByVerifier[v] = round(worstWithFetch, 4);
    verifyOnlyByVerifier[v] = round(worstVerify, 4);
    verifySeconds[v] = round(sum(lines.filter((t) => t.phase === "verify").map((t) => t.seconds)));
  }
  const worstOf = (o: Record<string, number>) => (Object.keys(o).length === 0 ? null : Math.max(...Object.values(o)));
  const trains = Object.values(trainByMiner);
  return {
    taskId: task.taskId,
    dataset: task.dataset,
    phase: task.phase,
    winner: task.winnerName ?? null,
    scoreBps: task.scoreBps ?? null,
    phasesSeconds: phaseDurations(task.phaseTimes),
    trainSeconds: trains.length === 0 ? null : round(sum(trains) / trains.length),
    trainSecondsByMiner: trainByMiner,
    epochsByMiner,
    stepsByMiner,
    agents: perAgent,
    minerOverheadFraction: worstOf(overheadByMiner),
    minerOverheadFractionByMiner: overheadByMiner,
    minerOverheadAfterKeysFraction: worstOf(afterKeysByMiner),
    minerOverheadAfterKeysFractionByMiner: afterKeysByMiner,
    verifierCostFraction: worstOf(ownByVerifier),
    verifierCostFractionByVerifier: ownByVerifier,
    verifierCostWithFetchFraction: worstOf(withFetchByVerifier),
    verifierCostWithFetchFractionByVerifier: withFetchByVerifier,
    verifierVerifyOnlyFraction: worstOf(verifyOnlyByVerifier),
    verifySecondsByVerifier: verifySeconds,
    verifySecondsPerSubmission: verifyPerSubmission.length === 0 ? null : round(sum(verifyPerSubmission) / verifyPerSubmission.length),
  };
}

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const folder = await mkdtemp(join(tmpdir(), "podl-bench-e2e-"));
const specFile = join(folder, "mnist-mlp-long.json");
await writeFile(specFile, `${JSON.stringify(MNIST_SPEC, null, 2)}\n`);
// A miner trains one task at a time and does nothing else meanwhile, and which of the two it takes
// first depends on its strategy's ranking: Iris's window outlasts MNIST's by a minute, so Iris fits
// either before or after the MNIST training, and every reveal window opens after (or within a minute
// of) the last training.
const IRIS_TRAIN_WINDOW = MNIST_TRAIN_WINDOW + 60;
const REVEAL_WINDOW = 120;
const TASKS: DemoTask[] = [
  { label: "iris", dataset: "iris", spec: "irisMlp", reward: "1", threshold: 7000, trainWindow: IRIS_TRAIN_WINDOW },
  { label: "mnist", dataset: "mnist", spec: specFile, reward: "2", threshold: 6000, trainWindow: MNIST_TRAIN_WINDOW },
];
const started = new Date();
// Ctrl-C or a timeout's SIGTERM ends the run through runDemo, which stops every child it started.
const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
process.once("SIGTERM", () => controller.abort());
const memory = new RssTracker(folder);
memory.start(1000);
const summary = await runDemo({
  signal: controller.signal,
  repoRoot,
  folder,
  mnistExamples: MNIST_EXAMPLES,
  timeoutMs: 1_200_000,
  verbose: false,
  print: (line) => process.stderr.write(`${line}\n`),
  onLog: collect,
  tasks: TASKS,
  params: { market: { revealWindow: REVEAL_WINDOW } },
});
memory.stop();
if (values.keep === true) process.stderr.write(`run folder kept: ${folder}\n`);
else await rm(folder, { recursive: true, force: true });
if (summary.demo !== "ok") {
  process.stderr.write(`bench:e2e: the run failed: ${summary.error}\n`);
  process.exit(1);
}

const names = new Map<string, string>();
for (const t of summary.tasks) for (const s of t.submissions) names.set(s.miner, s.name);
const tasks = summary.tasks.map((t) => analyse(t, names));
type Fraction = "minerOverheadFraction" | "minerOverheadAfterKeysFraction" | "verifierCostFraction" | "verifierCostWithFetchFraction" | "verifierVerifyOnlyFraction";
const worst = (key: Fraction) => {
  const xs = tasks.map((t) => t[key]).filter((x): x is number => x !== null);
  return xs.length === 0 ? null : Math.max(...xs);
};
const mnist = tasks.find((t) => t.dataset === "mnist");
const met = (x: number | null | undefined, target: number) => (x === null || x === undefined ? null : x <= target);
const result = {
  measuredAt: started.toISOString(),
  command: "npm run bench:e2e",
  machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version },
  setup: {
    agents: "1 publisher, 3 miners, 4 validators, each a podl process with its own state and embedded IPFS node; hardhat node child, a block per second; all on this machine",
    backend: "wasm",
    mnistExamples: MNIST_EXAMPLES,
    mnistSpec: { name: MNIST_SPEC.name, basedOn: "mnistMlp", epochsMax: MNIST_EPOCHS, batchSize: MNIST_SPEC.batchSize, checkpointEvery: MNIST_SPEC.checkpointEvery },
    revealWindow: REVEAL_WINDOW,
    tasks: TASKS.map((t) => ({ dataset: t.dataset, spec: t.dataset === "mnist" ? MNIST_SPEC.name : t.spec, trainWindow: t.trainWindow, threshold: t.threshold })),
    overheadDefinition:
      "miner, whole task: (every timed phase but train: fetch incl. the prefetch while queued, probe, decrypt, hash, upload, every tx incl. withdraw) / train; compared with the target",
    overheadAfterKeysDefinition: "miner, critical path after the key unlock: (decrypt + hash + upload + tx) / train",
    verifierCostDefinition:
      "per verifier and submission, its own work: (verify of the submission incl. replay + (decrypt + every tx it sent for the task) / submissions) / that miner's train seconds; worst; compared with the target",
    verifierCostWithFetchDefinition:
      "the same plus its network time: + fetch of the submission (artifact, manifest, replayed checkpoints) + (task document + shards incl. their prefetch) / submissions",
    verifierVerifyOnlyDefinition: "per verifier and submission: verify (checks, evaluation, replay) / that miner's train seconds; worst",
  },
  demoSeconds: summary.seconds,
  peakRssMbByAgent: Object.fromEntries([...memory.memory].sort(([a], [b]) => a.localeCompare(b)).map(([agent, m]) => [agent, Math.round(m.peakKb / 1024)])),
  tasks,
  minerOverheadFraction: worst("minerOverheadFraction"),
  minerOverheadAfterKeysFraction: worst("minerOverheadAfterKeysFraction"),
  verifierCostFraction: worst("verifierCostFraction"),
  verifierCostWithFetchFraction: worst("verifierCostWithFetchFraction"),
  verifierVerifyOnlyFraction: worst("verifierVerifyOnlyFraction"),
  targets: {
    ...TARGETS,
    task: "mnist",
    mnistMinerOverheadMet: met(mnist?.minerOverheadFraction, TARGETS.minerOverheadFraction),
    mnistMinerOverheadAfterKeysMet: met(mnist?.minerOverheadAfterKeysFraction, TARGETS.minerOverheadFraction),
    mnistVerifierCostMet: met(mnist?.verifierCostFraction, TARGETS.verifierCostFraction),
    mnistVerifierCostWithFetchMet: met(mnist?.verifierCostWithFetchFraction, TARGETS.verifierCostFraction),
  },
};

const outDir = fileURLToPath(new URL("results/", import.meta.url));
await writeFile(join(outDir, "e2e.json"), `${JSON.stringify(result, null, 2)}\n`);
await writeFile(join(outDir, "e2e.md"), markdown(result));
process.stdout.write(
  `${JSON.stringify({ mnist: mnist === undefined ? null : { trainSeconds: mnist.trainSeconds, minerOverheadFraction: mnist.minerOverheadFraction, minerOverheadAfterKeysFraction: mnist.minerOverheadAfterKeysFraction, verifierCostFraction: mnist.verifierCostFraction, verifierCostWithFetchFraction: mnist.verifierCostWithFetchFraction }, demoSeconds: result.demoSeconds })}\n`,
);

function markdown(r: typeof result): string {
  const verdict = (x: boolean | null) => (x === null ? "not measured" : x ? "met" : "missed");
  const m = r.tasks.find((t) => t.dataset === "mnist");
  const lines = [
    "# bench:e2e results",
    "",
    `Measured ${r.measuredAt} with \`${r.command}\` on ${r.machine.cores} × ${r.machine.cpu}, Node ${r.machine.node}. ${r.setup.agents}; backend ${r.setup.backend}. MNIST: ${r.setup.mnistExamples} images, spec ${r.setup.mnistSpec.name} (mnistMlp with epochs.max ${r.setup.mnistSpec.epochsMax}, batch ${r.setup.mnistSpec.batchSize}, a checkpoint every ${r.setup.mnistSpec.checkpointEvery} steps), ${r.setup.tasks.find((t) => t.dataset === "mnist")?.trainWindow} s to train, reveal window ${r.setup.revealWindow} s. Whole run ${r.demoSeconds} s.`,
    "",
    "## Targets (MNIST task)",
    "",
    "| figure | MNIST | target | verdict |",
    "| --- | ---: | ---: | --- |",
    `| miner overhead, whole task (compared with the target) | ${m?.minerOverheadFraction ?? "-"} | ≤ ${r.targets.minerOverheadFraction} | ${verdict(r.targets.mnistMinerOverheadMet)} |`,
    `| miner overhead, after the key unlock | ${m?.minerOverheadAfterKeysFraction ?? "-"} | ≤ ${r.targets.minerOverheadFraction} | ${verdict(r.targets.mnistMinerOverheadAfterKeysMet)} |`,
    `| verifier cost, its own work (compared with the target) | ${m?.verifierCostFraction ?? "-"} | ≤ ${r.targets.verifierCostFraction} | ${verdict(r.targets.mnistVerifierCostMet)} |`,
    `| verifier cost, with its network fetches | ${m?.verifierCostWithFetchFraction ?? "-"} | ≤ ${r.targets.verifierCostFraction} | ${verdict(r.targets.mnistVerifierCostWithFetchMet)} |`,
    `| verification alone (checks, evaluation, replay) | ${m?.verifierVerifyOnlyFraction ?? "-"} | | |`,
    "",
    `Worst over both tasks (Iris included): miner overhead ${r.minerOverheadFraction} (after the keys ${r.minerOverheadAfterKeysFraction}); verifier cost ${r.verifierCostFraction} (with fetches ${r.verifierCostWithFetchFraction}, verification alone ${r.verifierVerifyOnlyFraction}).`,
    "",
    `Peak resident memory per agent (MB; VmHWM summed over its processes, sampled every second): ${Object.entries(r.peakRssMbByAgent).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    "",
    `Definitions: ${r.setup.overheadDefinition}. ${r.setup.overheadAfterKeysDefinition}. ${r.setup.verifierCostDefinition}. ${r.setup.verifierCostWithFetchDefinition}. ${r.setup.verifierVerifyOnlyDefinition}.`,
  ];
  for (const t of r.tasks) {
    lines.push("", `## Task ${t.taskId} (${t.dataset}): ${t.phase}, winner ${t.winner ?? "-"} at ${t.scoreBps === null ? "-" : `${t.scoreBps / 100} %`}`, "");
    lines.push(
      `Phases (s): ${Object.entries(t.phasesSeconds).map(([k, v]) => `${k} ${v}`).join(", ")}. Mean training ${t.trainSeconds} s (epochs ${Object.entries(t.epochsByMiner).map(([k, v]) => `${k} ${v ?? "-"}`).join(", ")}).`,
    );
    lines.push(`Miner overhead, whole task: ${t.minerOverheadFraction} (${Object.entries(t.minerOverheadFractionByMiner).map(([k, v]) => `${k} ${v}`).join(", ")}); after the keys: ${t.minerOverheadAfterKeysFraction} (${Object.entries(t.minerOverheadAfterKeysFractionByMiner).map(([k, v]) => `${k} ${v}`).join(", ")}).`);
    lines.push(`Verifier cost, own work: ${t.verifierCostFraction}; with fetches: ${t.verifierCostWithFetchFraction}; verification alone: ${t.verifierVerifyOnlyFraction}; verify (with replay) ${t.verifySecondsPerSubmission} s per submission on average.`, "");
    const phases = [...new Set(Object.values(t.agents).flatMap((p) => Object.keys(p)))].sort();
    lines.push(`| agent | ${phases.join(" | ")} |`, `| --- | ${phases.map(() => "---:").join(" | ")} |`);
    for (const [agent, p] of Object.entries(t.agents)) lines.push(`| ${agent} | ${phases.map((k) => (p[k] === undefined ? "" : p[k]!.toFixed(3))).join(" | ")} |`);
  }
  return `${lines.join("\n")}\n`;
}
