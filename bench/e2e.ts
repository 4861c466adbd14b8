/**
 * End-to-end bench (`npm run bench:e2e`): one full demo run (local node, publisher, three miners,
 * four validators as processes; Iris MLP and MNIST MLP at full bench size) and where the time goes,
 * from the agents' own timing log lines (SEAM-agents.md "Timings"): per task the seconds in each
 * market phase, per agent the seconds in fetch / decrypt / train / hash / upload / transactions /
 * verify, the miners' non-training overhead as a fraction of their training time, and a verifier's
 * work per submission as a fraction of that submission's training time.
 * Writes bench/results/e2e.json and bench/results/e2e.md.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runDemo, type DemoTask, type TaskSummary } from "../scripts/demo/run.js";
import type { LogLine } from "../scripts/demo/supervisor.js";

const { values } = parseArgs({ options: { "mnist-examples": { type: "string" }, "mnist-train-window": { type: "string" }, keep: { type: "boolean" } } });
const MNIST_EXAMPLES = Number(values["mnist-examples"] ?? 8_000);
const MNIST_TRAIN_WINDOW = Number(values["mnist-train-window"] ?? 120);
const TARGETS = { minerOverheadFraction: 0.05, verifierCostFraction: 0.1 };

const TASKS: DemoTask[] = [
  { label: "iris", dataset: "iris", spec: "irisMlp", reward: "1", threshold: 7000, trainWindow: 30 },
  { label: "mnist", dataset: "mnist", spec: "mnistMlp", reward: "2", threshold: 6000, trainWindow: MNIST_TRAIN_WINDOW },
];

/** One timed piece of work an agent logged. */
interface Timing {
  agent: string;
  taskId: string;
  phase: string;
  seconds: number;
  submission?: number;
  miner?: string;
  tx?: string;
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
  const overheadOf = (counts: (phase: string) => boolean) =>
    Object.fromEntries(
      miners.map((m) => {
        const p = perAgent[m]!;
        return [m, round(sum(Object.entries(p).filter(([k]) => k !== "train" && counts(k)).map(([, v]) => v)) / p.train!, 4)];
      }),
    );
  const overheadByMiner = overheadOf(() => true);
  // What the miner spends on the task between the key unlock and its reveal, other than training:
  // the prefetch and the probe happen while the task is still queued.
  const afterKeysByMiner = overheadOf((phase) => phase !== "fetch" && phase !== "probe");
  // A verifier's work per submission: its own fetch and verify of that submission, plus an equal
  // share of the task's common work (task document, shards, the commit and reveal of its scores).
  const n = task.submissions.length;
  const costByVerifier: Record<string, number> = {};
  const verifySeconds: Record<string, number> = {};
  const verifyPerSubmission: number[] = [];
  const verifyOnlyByVerifier: Record<string, number> = {};
  for (const v of agents.filter((a) => a.startsWith("validator-"))) {
    const lines = timings.filter((t) => t.agent === v && t.taskId === task.taskId);
    const common = sum(lines.filter((t) => (t.phase === "fetch" || t.phase === "decrypt") && t.submission === undefined).map((t) => t.seconds));
    const attest = sum(lines.filter((t) => (t.phase === "tx" || t.phase === "tx-sender") && /commitScores|revealScores/.test(t.tx ?? "")).map((t) => t.seconds));
    let worst = 0;
    let worstVerify = 0;
    for (const sub of task.submissions.map((s, i) => ({ ...s, i }))) {
      const own = sum(lines.filter((t) => t.submission === sub.i).map((t) => t.seconds));
      const verify = sum(lines.filter((t) => t.submission === sub.i && t.phase === "verify").map((t) => t.seconds));
      const trained = trainByMiner[names.get(sub.miner) ?? ""];
      if (trained === undefined || n === 0) continue;
      worst = Math.max(worst, (own + (common + attest) / n) / trained);
      worstVerify = Math.max(worstVerify, verify / trained);
    }
    verifyPerSubmission.push(...lines.filter((t) => t.phase === "verify").map((t) => t.seconds));
    if (lines.some((t) => t.phase === "verify")) {
      costByVerifier[v] = round(worst, 4);
      verifyOnlyByVerifier[v] = round(worstVerify, 4);
      verifySeconds[v] = round(sum(lines.filter((t) => t.phase === "verify").map((t) => t.seconds)));
    }
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
    agents: perAgent,
    minerOverheadFraction: worstOf(overheadByMiner),
    minerOverheadFractionByMiner: overheadByMiner,
    minerOverheadAfterKeysFraction: worstOf(afterKeysByMiner),
    minerOverheadAfterKeysFractionByMiner: afterKeysByMiner,
    verifierCostFraction: worstOf(costByVerifier),
    verifierCostFractionByVerifier: costByVerifier,
    verifierVerifyOnlyFraction: worstOf(verifyOnlyByVerifier),
    verifySecondsByVerifier: verifySeconds,
    verifySecondsPerSubmission: verifyPerSubmission.length === 0 ? null : round(sum(verifyPerSubmission) / verifyPerSubmission.length),
  };
}

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const folder = await mkdtemp(join(tmpdir(), "podl-bench-e2e-"));
const started = new Date();
// Ctrl-C or a timeout's SIGTERM ends the run through runDemo, which stops every child it started.
const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
process.once("SIGTERM", () => controller.abort());
const summary = await runDemo({
  signal: controller.signal,
  repoRoot,
  folder,
  mnistExamples: MNIST_EXAMPLES,
  timeoutMs: 900_000,
  verbose: false,
  print: (line) => process.stderr.write(`${line}\n`),
  onLog: collect,
  tasks: TASKS,
  // A miner trains one task at a time and does nothing else meanwhile: Iris's reveal window must
  // outlast the MNIST training that follows Iris's commit.
  params: { market: { revealWindow: MNIST_TRAIN_WINDOW + 30 } },
});
if (values.keep === true) process.stderr.write(`run folder kept: ${folder}\n`);
else await rm(folder, { recursive: true, force: true });
if (summary.demo !== "ok") {
  process.stderr.write(`bench:e2e: the run failed: ${summary.error}\n`);
  process.exit(1);
}

const names = new Map<string, string>();
for (const t of summary.tasks) for (const s of t.submissions) names.set(s.miner, s.name);
const tasks = summary.tasks.map((t) => analyse(t, names));
const worst = (key: "minerOverheadFraction" | "minerOverheadAfterKeysFraction" | "verifierCostFraction" | "verifierVerifyOnlyFraction") => {
  const xs = tasks.map((t) => t[key]).filter((x): x is number => x !== null);
  return xs.length === 0 ? null : Math.max(...xs);
};
const mnist = tasks.find((t) => t.dataset === "mnist");
const result = {
  measuredAt: started.toISOString(),
  command: "npm run bench:e2e",
  machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version },
  setup: {
    agents: "1 publisher, 3 miners, 4 validators, each a podl process with its own state and embedded IPFS node; hardhat node child, a block per second",
    backend: "wasm",
    mnistExamples: MNIST_EXAMPLES,
    tasks: TASKS.map((t) => ({ dataset: t.dataset, spec: t.spec, trainWindow: t.trainWindow, threshold: t.threshold })),
    overheadDefinition: "miner: (every timed phase but train: fetch incl. prefetch, probe, decrypt, hash, upload, tx) / train",
    overheadAfterKeysDefinition: "miner: (decrypt + hash + upload + tx) / train, the work after the keys unlock; fetch and probe happen while the task is queued",
    verifierCostDefinition:
      "per verifier and submission: (fetch + verify of the submission + (task document, shards incl. their prefetch, commit/reveal tx) / submissions) / that miner's train seconds; worst",
    verifierVerifyOnlyDefinition: "per verifier and submission: verify (checks, evaluation, replay) / that miner's train seconds; worst",
  },
  demoSeconds: summary.seconds,
  tasks,
  minerOverheadFraction: worst("minerOverheadFraction"),
  minerOverheadAfterKeysFraction: worst("minerOverheadAfterKeysFraction"),
  verifierCostFraction: worst("verifierCostFraction"),
  verifierVerifyOnlyFraction: worst("verifierVerifyOnlyFraction"),
  targets: {
    ...TARGETS,
    mnistMinerOverheadMet: mnist?.minerOverheadFraction === null || mnist === undefined ? null : mnist.minerOverheadFraction <= TARGETS.minerOverheadFraction,
    mnistVerifierCostMet: mnist?.verifierCostFraction === null || mnist === undefined ? null : mnist.verifierCostFraction <= TARGETS.verifierCostFraction,
  },
};

const outDir = fileURLToPath(new URL("results/", import.meta.url));
await writeFile(join(outDir, "e2e.json"), `${JSON.stringify(result, null, 2)}\n`);
await writeFile(join(outDir, "e2e.md"), markdown(result));
process.stdout.write(
  `${JSON.stringify({ minerOverheadFraction: result.minerOverheadFraction, minerOverheadAfterKeysFraction: result.minerOverheadAfterKeysFraction, verifierCostFraction: result.verifierCostFraction, verifierVerifyOnlyFraction: result.verifierVerifyOnlyFraction, demoSeconds: result.demoSeconds })}\n`,
);

function markdown(r: typeof result): string {
  const lines = [
    "# bench:e2e results",
    "",
    `Measured ${r.measuredAt} with \`${r.command}\` on ${r.machine.cores} × ${r.machine.cpu}, Node ${r.machine.node}. ${r.setup.agents}; backend ${r.setup.backend}; MNIST ${r.setup.mnistExamples} images. Whole run ${r.demoSeconds} s.`,
    "",
    `Worst miner overhead fraction: **${r.minerOverheadFraction}** (target ≤ ${r.targets.minerOverheadFraction} on MNIST: ${r.targets.mnistMinerOverheadMet ? "met" : "missed"}). Worst verifier cost fraction: **${r.verifierCostFraction}** (target ≤ ${r.targets.verifierCostFraction}: ${r.targets.mnistVerifierCostMet ? "met" : "missed"}).`,
    "",
    `Worst miner overhead after the key unlock: **${r.minerOverheadAfterKeysFraction}**. Worst verifier cost counting verification alone: **${r.verifierVerifyOnlyFraction}**.`,
    "",
    `Definitions: ${r.setup.overheadDefinition}; ${r.setup.overheadAfterKeysDefinition}; ${r.setup.verifierCostDefinition}; ${r.setup.verifierVerifyOnlyDefinition}.`,
  ];
  for (const t of r.tasks) {
    lines.push("", `## Task ${t.taskId} (${t.dataset}): ${t.phase}, winner ${t.winner ?? "-"} at ${t.scoreBps === null ? "-" : `${t.scoreBps / 100} %`}`, "");
    lines.push(`Phases (s): ${Object.entries(t.phasesSeconds).map(([k, v]) => `${k} ${v}`).join(", ")}. Mean training ${t.trainSeconds} s.`);
    lines.push(`Miner overhead fraction: ${t.minerOverheadFraction} (${Object.entries(t.minerOverheadFractionByMiner).map(([k, v]) => `${k} ${v}`).join(", ")}); after the keys: ${t.minerOverheadAfterKeysFraction} (${Object.entries(t.minerOverheadAfterKeysFractionByMiner).map(([k, v]) => `${k} ${v}`).join(", ")}).`);
    lines.push(`Verifier cost fraction: ${t.verifierCostFraction}; verification alone: ${t.verifierVerifyOnlyFraction}; verify (with replay) ${t.verifySecondsPerSubmission} s per submission on average.`, "");
    const phases = [...new Set(Object.values(t.agents).flatMap((p) => Object.keys(p)))].sort();
    lines.push(`| agent | ${phases.join(" | ")} |`, `| --- | ${phases.map(() => "---:").join(" | ")} |`);
    for (const [agent, p] of Object.entries(t.agents)) lines.push(`| ${agent} | ${phases.map((k) => (p[k] === undefined ? "" : p[k]!.toFixed(3))).join(" | ")} |`);
  }
  return `${lines.join("\n")}\n`;
}
