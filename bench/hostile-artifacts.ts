// Time and memory a validator spends refusing each hostile submission of the corpus
// (test/agents/ml/helpers/hostile.ts), plus the large cases of issue 16 that are too heavy for `npm test`:
// a million empty tensor entries, a 200 MB file, 10^5 and 10^6 claimed checkpoints. Each case runs
// in its own process (tsx, --expose-gc) on the CPU backend: train the honest Iris run, build the
// case, collect garbage, then time verifySubmission and read the peak RSS before and after it.
// Checks every case against BOUNDS and exits 1 if one is over. Writes bench/results/hostile.json and
// hostile.md. Usage: npm run bench:hostile
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { promisify } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { encodeArtifact, modelHash } from "../agents/ml/artifact.js";
import { verifySubmission } from "../agents/ml/verify.js";
import type { VerifyInput } from "../agents/ml/verify.js";
import { artifactOf } from "../agents/ml/train.js";
import { HOSTILE_CASES, TASK_ID, honestInput, openContainer, sealContainer } from "../test/agents/ml/helpers/hostile.js";
import type { Run } from "../test/agents/ml/helpers/hostile.js";
import { IRIS_SPEC, MINER, SEED, irisRun } from "../test/agents/ml/helpers/iris-run.js";

/** What refusing one hostile submission may cost at most (issue 16 measured 7 s, 60 s and 1 GB before the fix). */
const BOUNDS = { ms: 2_000, peakRiseMb: 256 };

type Case = { name: string; reason: string; make: (run: Run) => VerifyInput };

/** Too heavy for a test: the sizes issue 16 reported. */
const LARGE: Case[] = [
  {
    name: "a million empty tensor entries (60 MB header)",
    reason: "artifact",
    make: (run) => {
      const honest = honestInput(run);
      const { header, data } = openContainer(honest.artifact);
      const end = data.length;
      const entries: string[] = [];
      for (let k = 0; k < 1_000_000; k++) entries.push(`"z${k}":{"dtype":"F32","shape":[0],"data_offsets":[${end},${end}]}`);
      const bytes = sealContainer(JSON.stringify(header).replace(/}$/, `,${entries.join(",")}}`), data);
      return { ...honest, artifact: bytes, expectedModelHash: modelHash(bytes) };
    },
  },
  {
    name: "a 200 MB file with the honest hash on chain",
    reason: "artifact",
    make: (run) => {
      const honest = honestInput(run);
      const big = new Uint8Array(200 << 20);
      big.set(honest.artifact);
      return { ...honest, artifact: big };
    },
  },
  ...[100_000, 1_000_000].map((count) => ({
    name: `${count.toLocaleString("en")} claimed checkpoints`,
    reason: count > 100_000 ? "checkpoints" : "hyper",
    make: (run: Run): VerifyInput => {
      const hash = run.manifest.entries[0]!.weightsHash;
      const entries = Array.from({ length: count }, (_, i) => ({ i, step: i * IRIS_SPEC.checkpointEvery, weightsHash: hash }));
      const manifest = { ...run.manifest, entries, root: `0x${"ab".repeat(32)}` };
      const artifact = encodeArtifact(artifactOf(IRIS_SPEC, { ...run, manifest }, { taskId: TASK_ID, seed: SEED, miner: MINER }));
      return honestInput(run, { manifest, artifact, expectedModelHash: modelHash(artifact) });
    },
  })),
];

const CASES: Case[] = [...HOSTILE_CASES, ...LARGE];

type Measured = { name: string; expected: string; reason: string | undefined; detail: string; ms: number; peakRssMb: number; peakRiseMb: number };

const mb = (kb: number) => Math.round(kb / 102.4) / 10;

/** One case, in this process: the child's side. */
async function child(index: number): Promise<Measured> {
  await tf.setBackend("cpu");
  const run = await irisRun();
  const c = CASES[index]!;
  const input = c.make(run);
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.resourceUsage().maxRSS;
  const started = performance.now();
  const r = await verifySubmission(input);
  const ms = performance.now() - started;
  const after = process.resourceUsage().maxRSS;
  return { name: c.name, expected: c.reason, reason: r.reason, detail: r.reason === undefined ? `scored ${r.scoreBps}` : r.detail.slice(0, 160), ms: Math.round(ms * 10) / 10, peakRssMb: mb(after), peakRiseMb: mb(after - before) };
}

async function main(): Promise<void> {
  const load = { start: loadavg().map((l) => Math.round(l * 100) / 100) };
  const run = promisify(execFile);
  const rows: Measured[] = [];
  for (let i = 0; i < CASES.length; i++) {
    const { stdout } = await run(process.execPath, ["--expose-gc", "--import", "tsx", "bench/hostile-artifacts.ts", "--case", String(i)], { maxBuffer: 1 << 20 });
    const row = JSON.parse(stdout.trim().split("\n").at(-1)!) as Measured;
    rows.push(row);
    process.stdout.write(`${row.name}: ${row.reason} in ${row.ms} ms, peak RSS ${row.peakRssMb} MB (+${row.peakRiseMb})\n`);
  }
  const over = rows.filter((r) => r.reason !== r.expected || r.ms > BOUNDS.ms || r.peakRiseMb > BOUNDS.peakRiseMb);
  const results = {
    bench: "hostile-artifacts",
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version, loadAverage: { ...load, end: loadavg().map((l) => Math.round(l * 100) / 100) } },
    bounds: BOUNDS,
    max: { ms: Math.max(...rows.map((r) => r.ms)), peakRssMb: Math.max(...rows.map((r) => r.peakRssMb)), peakRiseMb: Math.max(...rows.map((r) => r.peakRiseMb)) },
    within: over.length === 0,
    cases: rows,
  };
  await writeFile("bench/results/hostile.json", `${JSON.stringify(results, null, 2)}\n`);
  await writeFile("bench/results/hostile.md", markdown(results));
  if (over.length > 0) {
    process.stderr.write(`over the bounds or with another reason: ${over.map((r) => r.name).join("; ")}\n`);
    process.exitCode = 1;
  }
}

function markdown(r: { date: string; machine: { cpus: number; cpu: string; node: string; loadAverage: { start: number[]; end: number[] } }; bounds: typeof BOUNDS; max: { ms: number; peakRssMb: number; peakRiseMb: number }; within: boolean; cases: Measured[] }): string {
  const lines = [
    "# Hostile artifacts: what refusing each one costs a validator",
    "",
    `${r.date}, ${r.machine.cpus} × ${r.machine.cpu}, Node ${r.machine.node}, load average (1/5/15 min) ${r.machine.loadAverage.start.join(" / ")} at the start, ${r.machine.loadAverage.end.join(" / ")} at the end. CPU backend.`,
    "",
    "Each case in its own process: train the honest Iris run, build the case, collect garbage, then time `verifySubmission`. " +
      "*Peak RSS* is the process's (training and building the case included); *rise* is how far verification pushed that peak up (0: it stayed below what training and building had used).",
    "",
    `Bounds: ${r.bounds.ms} ms and a rise of ${r.bounds.peakRiseMb} MB per case: ${r.within ? "every case within them" : "**some case over them**"}. Largest: ${r.max.ms} ms, peak RSS ${r.max.peakRssMb} MB, rise ${r.max.peakRiseMb} MB.`,
    "",
    "| case | reason (expected) | ms | peak RSS MB | rise MB |",
    "|---|---|---:|---:|---:|",
    ...r.cases.map((c) => `| ${c.name} | ${c.reason ?? "none"}${c.reason === c.expected ? "" : ` (**${c.expected}**)`} | ${c.ms} | ${c.peakRssMb} | ${c.peakRiseMb} |`),
    "",
  ];
  return lines.join("\n");
}

if (process.argv[2] === "--case") process.stdout.write(`${JSON.stringify(await child(Number(process.argv[3])))}\n`);
else await main();
