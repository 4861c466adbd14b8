// npm run bench:torch: the PyTorch engine against TensorFlow.js in the same run (issue 14).
//  - Training throughput, samples per CPU second of the second epoch (the first warms up), one
//    thread each: the MNIST MLP and CNN presets on the torch engine (CPU here, CUDA where present)
//    and on tfjs (wasm, and cpu for the MLP). CPU time because the two cores here are shared.
//  - Replay tolerance per engine pair, as bench:ml calibrates it: a run trained by one engine,
//    every segment replayed by the other, the largest honest normalised distance; against the
//    smallest forged one (the end checkpoint perturbed by 1 %, training stopped short of the
//    segment's end, or the batches of another miner's order), forged with the training engine and
//    replayed by the verifying engine.
// Writes the `torch` key of bench/results/ml.json (the other keys are bench:ml's, kept) and
// bench/results/torch.md.
import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { selectBackend } from "../agents/ml/backend.js";
import type { BackendName } from "../agents/ml/backend.js";
import type { Checkpoint } from "../agents/ml/checkpoints.js";
import { loadMnist } from "../agents/ml/datasets/index.js";
import type { Dataset } from "../agents/ml/datasets/index.js";
import { checkTorch, replayTorch, trainTorch } from "../agents/ml/engines/torch.js";
import type { NamedTensors } from "../agents/ml/init.js";
import { DEFAULT_TOLERANCE, normalisedDistance, replaySegmentStates } from "../agents/ml/replay.js";
import type { Replayer } from "../agents/ml/replay.js";
import { KeccakStream } from "../agents/ml/seeds.js";
import { presets } from "../agents/ml/spec.js";
import type { TaskSpec } from "../agents/ml/spec.js";
import { train } from "../agents/ml/train.js";
import type { Hyper } from "../agents/ml/train.js";

const SEED = `0x${"5e".repeat(32)}`;
const MINER = "0x1111111111111111111111111111111111111111";
const FORGER = "0x9999999999999999999999999999999999999999";
const MLP_N = Number(process.env.BENCH_TORCH_MLP ?? 2048);
const CNN_N = Number(process.env.BENCH_TORCH_CNN ?? 512);
const CAL_N = Number(process.env.BENCH_TORCH_CAL ?? 2000);
const CAL_EPOCHS = 3;
const CAL_EVERY = 10;
const log = (m: string) => process.stderr.write(`bench:torch ${m}\n`);
const round = (v: number, d = 1) => Number(v.toFixed(d));
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Samples per CPU second over the second of two epochs. */
async function tfjsThroughput(spec: TaskSpec, data: Dataset, backend: BackendName): Promise<number | string> {
  try {
    await selectBackend({ force: backend, spec });
    const marks: number[] = [];
    const run = await train(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: 2 }, onProgress: (e) => void (e.type === "epoch" && marks.push(cpuMs())) });
    run.model.dispose();
    return round(data.n / ((marks[1]! - marks[0]!) / 1000));
  } catch (e) {
    return `failed: ${(e as Error).message.slice(0, 200)}`;
  }
}

async function torchThroughput(spec: TaskSpec, data: Dataset): Promise<number> {
  const marks: number[] = [];
  await trainTorch(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: 2 }, onProgress: (e) => void (e.type === "epoch" && marks.push(e.cpuMs)) });
  return round(data.n / ((marks[1]! - marks[0]!) / 1000));
}

function perturb(w: NamedTensors, relative: number, stream: KeccakStream): NamedTensors {
  return new Map([...w].map(([n, t]) => [n, { shape: t.shape, data: t.data.map((v) => v * (1 + relative * (2 * stream.nextUnit() - 1))) }]));
}

const tfjsReplay: Replayer = (spec, opts, segs) => replaySegmentStates(spec, opts, segs);
const torchReplay: Replayer = (spec, opts, segs) => replayTorch(spec, opts, segs);

/** Honest and forged distances for checkpoints trained by `trainer`, replayed by `verifier`. */
async function calibrate(spec: TaskSpec, data: Dataset, cps: Checkpoint[], hyper: Hyper, trainer: Replayer, verifier: Replayer) {
  const opts = { seed: SEED, miner: MINER, data, hyper };
  const segs = cps.slice(0, -1).map((from, i) => ({ from, toStep: cps[i + 1]!.step }));
  const replayed = await verifier(spec, opts, segs);
  const honest = replayed.map((r, i) => normalisedDistance(r.weights, cps[i + 1]!.weights, cps[i]!.weights));
  const stream = new KeccakStream(`0x${"77".repeat(32)}`);
  const perturbed = replayed.map((r, i) => normalisedDistance(r.weights, perturb(cps[i + 1]!.weights, 0.01, stream), cps[i]!.weights));
  const short = await trainer(spec, opts, segs.map((s) => ({ from: s.from, toStep: s.toStep - 1 - stream.nextBelow(Math.floor((s.toStep - s.from.step) / 2)) })));
  const skipped = replayed.map((r, i) => normalisedDistance(r.weights, short[i]!.weights, cps[i]!.weights));
  const other = await trainer(spec, { ...opts, miner: FORGER }, segs);
  const otherBatches = replayed.map((r, i) => normalisedDistance(r.weights, other[i]!.weights, cps[i]!.weights));
  const forged = [...perturbed, ...skipped, ...otherBatches];
  return {
    segments: honest.length,
    honestMaxDistance: Math.max(...honest),
    forgedMinDistance: Math.min(...forged),
    forgedMinDistanceByKind: { perturbed: Math.min(...perturbed), skipped: Math.min(...skipped), otherBatches: Math.min(...otherBatches) },
    honestAccepted: honest.filter((d) => d <= DEFAULT_TOLERANCE).length,
    forgedRejected: forged.filter((d) => d > DEFAULT_TOLERANCE).length,
    forgedTrials: forged.length,
  };
}

async function main(): Promise<void> {
  const loadStart = round(loadavg()[0]!, 2);
  const found = await checkTorch();
  if (!found.ok) throw new Error(found.reason);
  const { check, python } = found.choice;
  log(`torch ${check.torch} on ${check.device} via ${python}`);

  const mlpData = loadMnist({ train: MLP_N, test: 10 }).train;
  const cnnData = loadMnist({ train: CNN_N, test: 10, image: true }).train;
  const throughput = {
    torch: { mlp: await torchThroughput(presets.mnistMlp, mlpData), cnn: await torchThroughput(presets.mnistCnn, cnnData) },
    tfjsWasm: { mlp: await tfjsThroughput(presets.mnistMlp, mlpData, "wasm"), cnn: await tfjsThroughput(presets.mnistCnn, cnnData, "wasm") },
    tfjsCpu: { mlp: await tfjsThroughput(presets.mnistMlp, mlpData, "cpu") },
  };
  log(`throughput ${JSON.stringify(throughput)}`);

  // Calibration: the MNIST MLP preset on CAL_N images, checkpoints every CAL_EVERY steps.
  const spec: TaskSpec = { ...presets.mnistMlp, checkpointEvery: CAL_EVERY };
  const data = loadMnist({ train: CAL_N, test: 10 }).train;
  const torchRun = await trainTorch(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: CAL_EPOCHS } });
  const calibration: Record<string, unknown> = {};
  calibration["torch-cpu→torch-cpu"] = await calibrate(spec, data, torchRun.checkpoints, torchRun.hyper, torchReplay, torchReplay);
  for (const backend of ["wasm", "cpu"] as const) {
    await selectBackend({ force: backend, spec });
    calibration[`torch-cpu→tfjs-${backend}`] = await calibrate(spec, data, torchRun.checkpoints, torchRun.hyper, torchReplay, tfjsReplay);
    const tfRun = await train(spec, { seed: SEED, miner: MINER, data, hyper: { epochs: CAL_EPOCHS } });
    tfRun.model.dispose();
    calibration[`tfjs-${backend}→torch-cpu`] = await calibrate(spec, data, tfRun.checkpoints, tfRun.hyper, tfjsReplay, torchReplay);
    log(`calibrated ${backend}`);
  }
  const pairs = Object.values(calibration) as { honestMaxDistance: number; forgedMinDistance: number }[];
  const honestMax = Math.max(...pairs.map((p) => p.honestMaxDistance));
  const forgedMin = Math.min(...pairs.map((p) => p.forgedMinDistance));

  const row = {
    device: check.device,
    gpu: check.gpu,
    torch: check.torch,
    python,
    threads: check.threads,
    deterministic: check.deterministic,
    throughputSamplesPerCpuSecond: throughput,
    throughputSetup: `second of two epochs, one thread, batch = the preset's; MLP presets.mnistMlp on ${MLP_N} images, CNN presets.mnistCnn on ${CNN_N}`,
    calibration,
    calibrationSetup: `presets.mnistMlp, checkpointEvery ${CAL_EVERY}, ${CAL_N} images, ${CAL_EPOCHS} epochs, every segment; forged: end perturbed 1 %, stopped short, another miner's batches`,
    honestMaxDistance: honestMax,
    forgedMinDistance: forgedMin,
    toleranceChosen: DEFAULT_TOLERANCE,
    toleranceNote: `the tfjs default holds for every pair: honest ≤ ${honestMax.toExponential(2)}, forged ≥ ${forgedMin.toExponential(2)}`,
    cuda: "not measured: no GPU was lent to this session",
    loadAverage: { start: loadStart, end: round(loadavg()[0]!, 2) },
  };
  const path = "bench/results/ml.json";
  const results = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  results.torch = row;
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile("bench/results/torch.md", markdown(row));
  log("done");
}

function markdown(r: Record<string, unknown> & { calibration: Record<string, unknown>; throughputSamplesPerCpuSecond: Record<string, Record<string, unknown>> }): string {
  const t = r.throughputSamplesPerCpuSecond;
  return `# bench:torch results

Produced by \`npm run bench:torch\` (bench/torch.ts); the same figures are the \`torch\` key of ml.json.
PyTorch ${String(r.torch)} on ${String(r.gpu ?? r.device)} (${String(r.python)}), ${String(r.threads)} thread(s); load average ${JSON.stringify(r.loadAverage)}. CUDA: ${String(r.cuda)}.

## Training throughput (samples per CPU second; ${String(r.throughputSetup)})

| engine | MNIST MLP | MNIST CNN |
| --- | --- | --- |
${Object.entries(t).map(([k, v]) => `| ${k} | ${String(v.mlp)} | ${String(v.cnn ?? "not measured")} |`).join("\n")}

## Replay across engines (${String(r.calibrationSetup)})

| trained → replayed | segments | honest max | forged min | perturbed | skipped | other batches |
| --- | --- | --- | --- | --- | --- | --- |
${Object.entries(r.calibration)
  .map(([k, v]) => {
    const c = v as { segments: number; honestMaxDistance: number; forgedMinDistance: number; forgedMinDistanceByKind: Record<string, number> };
    const e = (x: number) => x.toExponential(2);
    return `| ${k} | ${c.segments} | ${e(c.honestMaxDistance)} | ${e(c.forgedMinDistance)} | ${e(c.forgedMinDistanceByKind.perturbed!)} | ${e(c.forgedMinDistanceByKind.skipped!)} | ${e(c.forgedMinDistanceByKind.otherBatches!)} |`;
  })
  .join("\n")}

Tolerance chosen: ${String(r.toleranceChosen)} (${String(r.toleranceNote)}).
`;
}

await main();
