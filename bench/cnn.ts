/**
 * bench:cnn — training throughput of the small CNN (issue 13: conv 8×3×3, pool, dense), the MNIST
 * MLP preset's shape and the MNIST CNN preset's shape on TensorFlow.js wasm and cpu, and on
 * PyTorch CPU (bench/cnn_torch.py, Debian's python3-torch under /usr/bin/python3) side by side
 * in one run, all on one thread: batch 64, Adam 1e-3, sparse cross-entropy, one fixed random
 * batch, the loss read back after every batch (as the training loop does).
 *
 * The cores are shared, so the rounds interleave the three engines and each figure is the median
 * of its rounds; CPU time per sample (process.cpuUsage here, time.process_time in Python) is
 * reported beside wall time, being the steadier of the two. Writes bench/results/cnn.json and
 * cnn.md. Without PyTorch it says so and reports the TensorFlow.js figures alone.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { promisify } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { selectBackend } from "../agents/ml/backend.js";

type Layer =
  | { type: "conv2d"; filters: number; kernelSize: number; padding?: "same" | "valid"; activation?: "relu"; useBias?: boolean; trainable?: boolean }
  | { type: "maxPooling2d"; poolSize: number }
  | { type: "flatten" }
  | { type: "dense"; units: number; activation?: "relu" | "softmax"; useBias?: boolean; trainable?: boolean };
type Model = { name: string; about: string; input: number[]; classes: number; layers: Layer[] };
type Round = { samples: number; wallSeconds: number; cpuSeconds: number };
type Engine = "tfjs-wasm" | "tfjs-cpu" | "pytorch-cpu";

const PYTHON = "/usr/bin/python3";
const BATCH = 64;
const LEARNING_RATE = 1e-3;
const ROUNDS = Number(process.env.BENCH_CNN_ROUNDS ?? 3);
const MIN_SECONDS = Number(process.env.BENCH_CNN_SECONDS ?? 3);
const run = promisify(execFile);
const log = (m: string) => process.stderr.write(`bench:cnn ${m}\n`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// The SML of the presets is a frozen, bias-free layer: `trainable: false, useBias: false`.
const MODELS: Model[] = [
  {
    name: "smallCnn",
    about: "28×28×1 → conv 8×3×3 relu → max-pool 2 → dense 10 softmax (issue 13's small CNN)",
    input: [28, 28, 1],
    classes: 10,
    layers: [
      { type: "conv2d", filters: 8, kernelSize: 3, activation: "relu" },
      { type: "maxPooling2d", poolSize: 2 },
      { type: "flatten" },
      { type: "dense", units: 10, activation: "softmax" },
    ],
  },
  {
    name: "mnistMlp",
    about: "presets.mnistMlp's shape: 784 → frozen SML dense 256 → dense 64 relu → dense 10 softmax",
    input: [784],
    classes: 10,
    layers: [
      { type: "dense", units: 256, useBias: false, trainable: false },
      { type: "dense", units: 64, activation: "relu" },
      { type: "dense", units: 10, activation: "softmax" },
    ],
  },
  {
    name: "mnistCnn",
    about: "presets.mnistCnn's shape: frozen SML conv 4×3×3 same → conv 8×3×3 → pool 2 → conv 16×3×3 → pool 2 → dense 32 → dense 10",
    input: [28, 28, 1],
    classes: 10,
    layers: [
      { type: "conv2d", filters: 4, kernelSize: 3, padding: "same", useBias: false, trainable: false },
      { type: "conv2d", filters: 8, kernelSize: 3, activation: "relu" },
      { type: "maxPooling2d", poolSize: 2 },
      { type: "conv2d", filters: 16, kernelSize: 3, activation: "relu" },
      { type: "maxPooling2d", poolSize: 2 },
      { type: "flatten" },
      { type: "dense", units: 32, activation: "relu" },
      { type: "dense", units: 10, activation: "softmax" },
    ],
  },
];

function tfjsModel(m: Model): tf.Sequential {
  const model = tf.sequential();
  m.layers.forEach((l, i) => {
    const first = i === 0 ? { inputShape: m.input } : {};
    if (l.type === "conv2d") model.add(tf.layers.conv2d({ ...first, filters: l.filters, kernelSize: l.kernelSize, padding: l.padding ?? "valid", activation: l.activation, useBias: l.useBias, trainable: l.trainable }));
    else if (l.type === "maxPooling2d") model.add(tf.layers.maxPooling2d({ ...first, poolSize: l.poolSize }));
    else if (l.type === "flatten") model.add(tf.layers.flatten(first));
    else model.add(tf.layers.dense({ ...first, units: l.units, activation: l.activation, useBias: l.useBias, trainable: l.trainable }));
  });
  return model;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** One round on the active TensorFlow.js backend: two untimed batches, then at least MIN_SECONDS and three batches. */
async function tfjsRound(m: Model): Promise<Round> {
  const model = tfjsModel(m);
  const optimizer = tf.train.adam(LEARNING_RATE);
  model.compile({ optimizer, loss: "sparseCategoricalCrossentropy" });
  const x = tf.randomUniform([BATCH, ...m.input], 0, 1, "float32", 1);
  const y = tf.tidy(() => tf.randomUniform([BATCH], 0, m.classes, "float32", 2).floor());
  try {
    for (let i = 0; i < 2; i++) await model.trainOnBatch(x, y);
    let n = 0;
    const w0 = performance.now();
    const c0 = cpuSeconds();
    while (n < 3 || performance.now() - w0 < MIN_SECONDS * 1000) {
      await model.trainOnBatch(x, y);
      n++;
    }
    return { samples: n * BATCH, wallSeconds: (performance.now() - w0) / 1000, cpuSeconds: cpuSeconds() - c0 };
  } finally {
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  }
}

/** One round of every model on PyTorch, or why PyTorch is not there. */
async function torchRound(): Promise<{ version: string; threads: number; models: Record<string, Round[]> } | { absent: string }> {
  if (!existsSync(PYTHON)) return { absent: `${PYTHON} not found` };
  const job = JSON.stringify({ models: MODELS, batch: BATCH, learningRate: LEARNING_RATE, minSeconds: MIN_SECONDS, rounds: 1 });
  try {
    const child = run(PYTHON, [new URL("./cnn_torch.py", import.meta.url).pathname], { maxBuffer: 1 << 20 });
    child.child.stdin!.end(job);
    const { stdout } = await child;
    const out = JSON.parse(stdout.trim().split("\n").pop()!) as { torch: string; threads: number; models: Record<string, Round[]> };
    return { version: out.torch, threads: out.threads, models: out.models };
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? "";
    if (stderr.includes("No module named 'torch'")) return { absent: `PyTorch is not installed for ${PYTHON} (apt-get install python3-torch)` };
    throw cause;
  }
}

function summary(rounds: Round[]) {
  const perSecond = rounds.map((r) => r.samples / r.wallSeconds);
  const cpuPerSample = rounds.map((r) => r.cpuSeconds / r.samples);
  return {
    samplesPerSecond: round(median(perSecond)),
    cpuMicrosecondsPerSample: round(median(cpuPerSample) * 1e6),
    samplesPerCpuSecond: round(1 / median(cpuPerSample)),
    rounds: rounds.map((r) => ({ samples: r.samples, wallSeconds: round(r.wallSeconds, 3), cpuSeconds: round(r.cpuSeconds, 3) })),
  };
}

async function uptime(): Promise<string> {
  try {
    return (await run("uptime")).stdout.trim();
  } catch {
    return `loadavg ${loadavg().map((l) => l.toFixed(2)).join(" ")}`;
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const uptimeStart = await uptime();
  log(uptimeStart);
  const raw: Record<Engine, Record<string, Round[]>> = { "tfjs-wasm": {}, "tfjs-cpu": {}, "pytorch-cpu": {} };
  let torch: { version: string; threads: number } | { absent: string } | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    for (const backend of ["wasm", "cpu"] as const) {
      await selectBackend({ force: backend });
      for (const m of MODELS) {
        const got = await tfjsRound(m);
        (raw[`tfjs-${backend}`][m.name] ??= []).push(got);
        log(`round ${r + 1} tfjs-${backend} ${m.name}: ${round(got.samples / got.wallSeconds)} samples/s, ${round((got.cpuSeconds / got.samples) * 1e6)} µs CPU/sample`);
      }
    }
    const t = await torchRound();
    if ("absent" in t) {
      torch = t;
      log(`PyTorch absent: ${t.absent}`);
    } else {
      torch = { version: t.version, threads: t.threads };
      for (const [name, rounds] of Object.entries(t.models)) {
        (raw["pytorch-cpu"][name] ??= []).push(...rounds);
        log(`round ${r + 1} pytorch-cpu ${name}: ${round(rounds[0]!.samples / rounds[0]!.wallSeconds)} samples/s, ${round((rounds[0]!.cpuSeconds / rounds[0]!.samples) * 1e6)} µs CPU/sample`);
      }
    }
  }
  const engines = (Object.keys(raw) as Engine[]).filter((e) => Object.keys(raw[e]).length > 0);
  const results = Object.fromEntries(MODELS.map((m) => [m.name, Object.fromEntries(engines.map((e) => [e, summary(raw[e][m.name]!)]))]));
  const ratios =
    torch !== undefined && !("absent" in torch)
      ? Object.fromEntries(
          MODELS.map((m) => {
            const t = results[m.name]!["pytorch-cpu"]!;
            const of = (e: Engine) => ({
              wall: round(results[m.name]![e]!.samplesPerSecond / t.samplesPerSecond, 3),
              cpu: round(results[m.name]![e]!.samplesPerCpuSecond / t.samplesPerCpuSecond, 3),
            });
            return [m.name, { "tfjs-wasm": of("tfjs-wasm"), "tfjs-cpu": of("tfjs-cpu") }];
          }),
        )
      : null;
  const out = {
    date: started.toISOString(),
    command: "npm run bench:cnn",
    setup: {
      batch: BATCH,
      optimizer: `adam ${LEARNING_RATE}`,
      loss: "sparse categorical cross-entropy (PyTorch: CrossEntropyLoss on logits, softmax folded in)",
      rounds: ROUNDS,
      minSecondsPerRound: MIN_SECONDS,
      threads: { "tfjs-wasm": getThreadsCount(), "tfjs-cpu": 1, pytorch: torch !== undefined && !("absent" in torch) ? torch.threads : null },
      pytorch: torch === undefined ? null : "absent" in torch ? `absent: ${torch.absent}` : torch.version,
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version },
      uptime: { start: uptimeStart, end: await uptime() },
      benchSeconds: round((Date.now() - started.getTime()) / 1000),
    },
    models: Object.fromEntries(MODELS.map((m) => [m.name, m.about])),
    results,
    ratioToPytorch: ratios,
    target: ratios === null ? null : { figure: "smallCnn tfjs-wasm ≥ 0.25 × PyTorch CPU", wall: ratios.smallCnn!["tfjs-wasm"].wall, cpu: ratios.smallCnn!["tfjs-wasm"].cpu },
  };
  await writeFile("bench/results/cnn.json", `${JSON.stringify(out, null, 2)}\n`);
  await writeFile("bench/results/cnn.md", markdown(out));
  log("wrote bench/results/cnn.json and cnn.md");
}

function markdown(r: {
  date: string;
  setup: { rounds: number; minSecondsPerRound: number; threads: object; pytorch: string | null; machine: { cpus: number; cpu: string; node: string }; uptime: { start: string; end: string } };
  models: Record<string, string>;
  results: Record<string, Record<string, { samplesPerSecond: number; cpuMicrosecondsPerSample: number; samplesPerCpuSecond: number }>>;
  ratioToPytorch: Record<string, Record<string, { wall: number; cpu: number }>> | null;
}): string {
  const rows = Object.entries(r.results).flatMap(([model, engines]) =>
    Object.entries(engines).map(([engine, s]) => {
      const ratio = r.ratioToPytorch?.[model]?.[engine];
      return `| ${model} | ${engine} | ${s.samplesPerSecond} | ${s.cpuMicrosecondsPerSample} | ${s.samplesPerCpuSecond} | ${ratio === undefined ? "" : `${ratio.wall} / ${ratio.cpu}`} |`;
    }),
  );
  return `# bench:cnn results

Produced by \`npm run bench:cnn\` (bench/cnn.ts, bench/cnn_torch.py) on ${r.date}: training throughput, batch 64,
Adam 1e-3, one thread per engine (${JSON.stringify(r.setup.threads)}), PyTorch ${r.setup.pytorch ?? "not run"}.
Medians of ${r.setup.rounds} interleaved rounds of at least ${r.setup.minSecondsPerRound} s each.
Machine: ${r.setup.machine.cpus} × ${r.setup.machine.cpu}, Node ${r.setup.machine.node}, shared with other jobs:
\`${r.setup.uptime.start}\` at the start, \`${r.setup.uptime.end}\` at the end. CPU time per sample is the steadier figure.

${Object.entries(r.models)
  .map(([k, v]) => `- **${k}**: ${v}`)
  .join("\n")}

| model | engine | samples/s (wall) | CPU µs / sample | samples / CPU s | × PyTorch (wall / CPU) |
| --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

Target (issue 13): smallCnn on tfjs-wasm ≥ 0.25 × PyTorch CPU: ${
    r.ratioToPytorch === null ? "PyTorch absent, not measured" : `${r.ratioToPytorch.smallCnn!["tfjs-wasm"]!.wall} (wall), ${r.ratioToPytorch.smallCnn!["tfjs-wasm"]!.cpu} (CPU time)`
  }.
`;
}

await main();
