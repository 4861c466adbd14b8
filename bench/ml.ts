// npm run bench:ml: PoLe's SML figures (Iris and MNIST MLP, secure vs plain, SML replaced),
// the watermark (embedding, cost, detection, false matches, removal by fine-tuning), replay
// (honest and forged segments, tolerance calibration across backends, cost) and verification cost,
// plus training throughput per backend. Writes bench/results/ml.json and bench/results/ml.md.
//
// Sizes: the cores are shared, so MNIST is the `mnist` package's bundled digits (BENCH_ML_TRAIN
// training and BENCH_ML_TEST test images, default 8,000 / 2,000) for BENCH_ML_EPOCHS (default 10)
// epochs, with checkpoints every 25 steps (the preset says 100; see the report for why).
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import * as tf from "@tensorflow/tfjs";
import { AbiCoder, keccak256 } from "ethers";
import { encodeArtifact, modelHash } from "../agents/ml/artifact.js";
import { measureThroughput, selectBackend } from "../agents/ml/backend.js";
import type { BackendName } from "../agents/ml/backend.js";
import type { Checkpoint } from "../agents/ml/checkpoints.js";
import { loadIris, loadMnist } from "../agents/ml/datasets/index.js";
import type { Dataset } from "../agents/ml/datasets/index.js";
import type { NamedTensors } from "../agents/ml/init.js";
import { setNamedWeights } from "../agents/ml/model.js";
import { DEFAULT_TOLERANCE, normalisedDistance, replayCheck, replaySegments } from "../agents/ml/replay.js";
import { KeccakStream } from "../agents/ml/seeds.js";
import { generateSml } from "../agents/ml/sml.js";
import { presets } from "../agents/ml/spec.js";
import type { TaskSpec } from "../agents/ml/spec.js";
import { artifactOf, evaluate, train } from "../agents/ml/train.js";
import type { TrainResult } from "../agents/ml/train.js";
import { verifySubmission } from "../agents/ml/verify.js";
import { extractWatermark, watermarkKey } from "../agents/ml/watermark.js";

const N_TRAIN = Number(process.env.BENCH_ML_TRAIN ?? 8000);
const N_TEST = Number(process.env.BENCH_ML_TEST ?? 2000);
const EPOCHS = Number(process.env.BENCH_ML_EPOCHS ?? 10);
const IRIS_EPOCHS = 60;
const CHECKPOINT_EVERY = 25;
const REMOVAL_CAP = 15;
const OWN_MODELS = 3;
const STRANGERS = 100;
const TRIALS = 100;
const CALIBRATION_SEGMENTS = 4;
const BACKEND: BackendName = (process.env.BENCH_ML_BACKEND as BackendName | undefined) ?? "wasm";

const SEED = `0x${"5e".repeat(32)}`;
const OTHER_SEED = `0x${"a7".repeat(32)}`;
const SEED2 = `0x${"77".repeat(32)}`;
const miner = (k: number) => `0x${keccak256(AbiCoder.defaultAbiCoder().encode(["string", "uint256"], ["bench-miner", k])).slice(26)}`;
const MINERS = [miner(0), miner(1), miner(2)];
const FORGER = miner(999);

const round = (v: number, d = 4) => Number(v.toFixed(d));
const log = (m: string) => process.stderr.write(`bench:ml ${m}\n`);

/**
 * The MNIST MLP preset with checkpoints every 25 steps (so that replaying r = 2 segments is a small
 * share of a run this short) and watermark strength 0.03 (the preset's 0.01 had embedded 28 of 32
 * bits after 3 epochs on 4,000 images; 0.03 embedded all 32 by epoch 2 at 0.1 points).
 */
const WATERMARK_STRENGTH = 0.03;
function mnistSpec(): TaskSpec {
  return {
    ...presets.mnistMlp,
    checkpointEvery: CHECKPOINT_EVERY,
    epochs: { max: Math.max(EPOCHS, presets.mnistMlp.epochs.max) },
    watermark: { bits: presets.mnistMlp.watermark.bits, strength: WATERMARK_STRENGTH },
  };
}

function firstKernel(w: NamedTensors): { shape: number[]; data: Float32Array } {
  return w.get("layers.0.kernel")!;
}

function readWatermark(seed: string, m: string, spec: TaskSpec, w: NamedTensors) {
  const k = firstKernel(w);
  return extractWatermark(watermarkKey(seed, m, spec.watermark.bits, k.shape), k.data, k.shape);
}

function modelKernel(model: tf.LayersModel): NamedTensors {
  const [kernel] = model.getLayer("layers.0").getWeights();
  return new Map([["layers.0.kernel", { shape: kernel!.shape as number[], data: kernel!.dataSync() as Float32Array }]]);
}

function accuracyWithSml(spec: TaskSpec, run: TrainResult, test: Dataset, smlSeed: string): number {
  const sml = generateSml(smlSeed, spec.sml, spec.input.shape);
  setNamedWeights(run.model, new Map([...run.weights, ["sml.kernel", sml]]));
  const acc = evaluate(run.model, test);
  setNamedWeights(run.model, run.weights);
  return acc;
}

function perturb(w: NamedTensors, relative: number, stream: KeccakStream): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, t] of w) {
    out.set(name, { shape: t.shape, data: name === "sml.kernel" ? t.data : t.data.map((v) => v * (1 + relative * (2 * stream.nextUnit() - 1))) });
  }
  return out;
}

async function irisSection() {
  const all = loadIris();
  const cut = 120; // loadIris interleaves the classes, so the first 120 and last 30 are balanced
  const slice = (from: number, to: number): Dataset => ({ ...all, x: all.x.slice(from * 4, to * 4), y: all.y.slice(from, to), n: to - from });
  const trainSet = slice(0, cut);
  const test = slice(cut, all.n);
  const spec = presets.irisMlp;
  const opts = { seed: SEED, miner: MINERS[0]!, data: trainSet, hyper: { epochs: IRIS_EPOCHS }, watermarkStrength: 0 };
  const plain = await train(spec, { ...opts, plain: true });
  const secure = await train(spec, opts);
  const out = {
    plainAccuracy: round(evaluate(plain.model, test)),
    secureAccuracy: round(evaluate(secure.model, test)),
    replacedAccuracy: round(accuracyWithSml(spec, secure, test, OTHER_SEED)),
    trainSamples: trainSet.n,
    testSamples: test.n,
    epochs: IRIS_EPOCHS,
  };
  plain.model.dispose();
  secure.model.dispose();
  return out;
}

async function main(): Promise<void> {
  const started = performance.now();
  const throughput: Record<string, number> = {};
  const throughputNotes: string[] = [];
  // WebGPU is left out here: this machine has no GPU, and Dawn is kept out of long-lived processes
  // (ml-runtime's webgpu test runs it in a child process on lavapipe).
  throughputNotes.push("webgpu: not measured (no GPU on the bench machine)");
  for (const b of ["cpu", "wasm"] as const) {
    try {
      const t = await measureThroughput(presets.mnistMlp, b, 2048);
      throughput[b] = round(t.samplesPerSecond, 1);
      log(`throughput ${b}: ${throughput[b]} samples/s`);
    } catch (e) {
      throughputNotes.push(`${b}: ${(e as Error).message}`);
      log(`throughput ${b}: unavailable (${(e as Error).message})`);
    }
  }
  const choice = await selectBackend({ force: BACKEND });
  log(`training on ${choice.name} (${choice.reason})`);

  const iris = await irisSection();
  log(`iris ${JSON.stringify(iris)}`);

  const { train: trainSet, test } = loadMnist({ train: N_TRAIN, test: N_TEST });
  const spec = mnistSpec();
  const hyper = { epochs: EPOCHS };
  const base = { seed: SEED, data: trainSet, hyper };

  // PoLe Table 2/3: plain vs secure, same init stream, order and optimizer; no watermark.
  const plain = await train(spec, { ...base, miner: MINERS[0]!, plain: true, watermarkStrength: 0 });
  const secure = await train(spec, { ...base, miner: MINERS[0]!, watermarkStrength: 0 });
  const secureUncached = await train(spec, { ...base, miner: MINERS[0]!, watermarkStrength: 0, smlCache: false, hyper: { epochs: 2 } });
  const plainShort = await train(spec, { ...base, miner: MINERS[0]!, plain: true, watermarkStrength: 0, hyper: { epochs: 2 } });
  const sml = {
    plainAccuracy: round(evaluate(plain.model, test)),
    secureAccuracy: round(evaluate(secure.model, test)),
    replacedAccuracy: 0,
    timeOverhead: round(secure.trainMs / plain.trainMs - 1),
    timeOverheadPerBatchMapping: round(secureUncached.trainMs / plainShort.trainMs - 1),
    plainTrainSeconds: round(plain.trainMs / 1000, 2),
    secureTrainSeconds: round(secure.trainMs / 1000, 2),
    iris,
  };
  sml.replacedAccuracy = round(accuracyWithSml(spec, secure, test, OTHER_SEED));
  for (const r of [plain, secureUncached, plainShort]) r.model.dispose();
  log(`sml ${JSON.stringify(sml)}`);

  // Watermark: the own models of three miners, each read at every epoch end.
  const own: TrainResult[] = [];
  const embedEpochs: (number | null)[] = [];
  for (const m of MINERS.slice(0, OWN_MODELS)) {
    let firstDetected: number | null = null;
    const run = await train(spec, {
      ...base,
      miner: m,
      onProgress: (e) => {
        if (e.type === "epoch" && firstDetected === null && readWatermark(SEED, m, spec, modelKernel(e.model)).detected) firstDetected = e.epoch + 1;
      },
    });
    own.push(run);
    embedEpochs.push(firstDetected);
    log(`watermarked run for ${m}: ${round(run.trainMs / 1000, 1)} s, detected from epoch ${firstDetected}`);
  }
  const firstRun = own[0]!;
  const mainAccuracy = evaluate(firstRun.model, test);
  const ownReadings = own.map((r, k) => readWatermark(SEED, MINERS[k]!, spec, r.weights));
  let falseMatches = 0;
  let worstStrangerP = 1;
  for (const r of own) {
    for (let s = 0; s < STRANGERS; s++) {
      const reading = readWatermark(SEED, miner(1000 + s), spec, r.weights);
      if (reading.detected) falseMatches++;
      worstStrangerP = Math.min(worstStrangerP, reading.pValue);
    }
  }
  // Removal: fine-tune the first miner's model on the same data without the regulariser.
  let removalEpochs: number | null = null;
  const fineTune = await train(spec, {
    ...base,
    miner: MINERS[0]!,
    startWeights: firstRun.weights,
    watermarkStrength: 0,
    hyper: { epochs: REMOVAL_CAP },
    onProgress: (e) => {
      if (e.type === "epoch" && removalEpochs === null && !readWatermark(SEED, MINERS[0]!, spec, modelKernel(e.model)).detected) removalEpochs = e.epoch + 1;
    },
  });
  const afterFineTune = readWatermark(SEED, MINERS[0]!, spec, fineTune.weights);
  const fineTunedAccuracy = evaluate(fineTune.model, test);
  fineTune.model.dispose();
  const embedded = embedEpochs.filter((e): e is number => e !== null);
  const watermark = {
    bits: spec.watermark.bits,
    strength: spec.watermark.strength,
    embedEpochs: embedded.length === embedEpochs.length ? Math.max(...embedded) : null,
    embedEpochsPerModel: embedEpochs,
    accuracy: round(mainAccuracy),
    accuracyCost: round(sml.secureAccuracy - mainAccuracy),
    detectionRate: round(ownReadings.filter((r) => r.detected).length / own.length),
    ownMatches: ownReadings.map((r) => `${r.matches}/${r.bits}`),
    falseMatches,
    falseMatchTrials: own.length * STRANGERS,
    smallestStrangerPValue: worstStrangerP,
    removalEpochs,
    removalCap: REMOVAL_CAP,
    afterFineTune: { matches: afterFineTune.matches, pValue: afterFineTune.pValue, accuracy: round(fineTunedAccuracy) },
  };
  log(`watermark ${JSON.stringify(watermark)}`);

  // Replay trials. Honest: every segment of the first two miners' runs. Forged, cycling three kinds:
  // the claimed checkpoint perturbed by ±1 % per weight, the segment's last 1..every/2 steps
  // skipped, or the segment trained on another miner's batch order.
  const honestDistances: number[] = [];
  const replayed = new Map<string, NamedTensors[]>();
  for (const [k, run] of own.slice(0, 2).entries()) {
    const cps = run.checkpoints;
    const segs = cps.slice(0, -1).map((from, i) => ({ from, toStep: cps[i + 1]!.step }));
    const out = await replaySegments(spec, { seed: SEED, miner: MINERS[k]!, data: trainSet, hyper: run.hyper }, segs);
    replayed.set(MINERS[k]!, out);
    out.forEach((w, i) => honestDistances.push(normalisedDistance(w, cps[i + 1]!.weights, cps[i]!.weights)));
  }
  const honestTrials = honestDistances.slice(0, TRIALS);
  const cps = firstRun.checkpoints;
  const segments = cps.length - 1;
  const honestMain = replayed.get(MINERS[0]!)!;
  const stream = new KeccakStream(SEED2);
  const forgedDistances: { kind: string; distance: number }[] = [];
  const skips: { from: Checkpoint; toStep: number; i: number }[] = [];
  const others: { from: Checkpoint; toStep: number; i: number }[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const i = stream.nextBelow(segments);
    const kind = ["perturbed", "skipped", "otherBatches"][t % 3]!;
    const to = cps[i + 1]!;
    if (kind === "perturbed") {
      forgedDistances.push({ kind, distance: normalisedDistance(honestMain[i]!, perturb(to.weights, 0.01, stream), cps[i]!.weights) });
    } else if (kind === "skipped") {
      skips.push({ from: cps[i]!, toStep: to.step - 1 - stream.nextBelow(Math.floor((to.step - cps[i]!.step) / 2)), i });
    } else {
      others.push({ from: cps[i]!, toStep: to.step, i });
    }
  }
  const skipped = await replaySegments(spec, { seed: SEED, miner: MINERS[0]!, data: trainSet, hyper: firstRun.hyper }, skips);
  skipped.forEach((w, k) => forgedDistances.push({ kind: "skipped", distance: normalisedDistance(honestMain[skips[k]!.i]!, w, cps[skips[k]!.i]!.weights) }));
  const other = await replaySegments(spec, { seed: SEED, miner: FORGER, data: trainSet, hyper: firstRun.hyper }, others);
  other.forEach((w, k) => forgedDistances.push({ kind: "otherBatches", distance: normalisedDistance(honestMain[others[k]!.i]!, w, cps[others[k]!.i]!.weights) }));

  // Cross-backend calibration: the same checkpoints replayed on the other CPU backend.
  const otherBackend: BackendName = BACKEND === "wasm" ? "cpu" : "wasm";
  const calibration: Record<string, number[]> = { [`${BACKEND}→${BACKEND}`]: honestDistances };
  try {
    await selectBackend({ force: otherBackend });
    const calSegs = Array.from({ length: CALIBRATION_SEGMENTS }, (_, k) => Math.floor((k * segments) / CALIBRATION_SEGMENTS));
    const cross = await replaySegments(spec, { seed: SEED, miner: MINERS[0]!, data: trainSet, hyper: firstRun.hyper }, calSegs.map((i) => ({ from: cps[i]!, toStep: cps[i + 1]!.step })));
    calibration[`${BACKEND}→${otherBackend}`] = cross.map((w, k) => normalisedDistance(w, cps[calSegs[k]! + 1]!.weights, cps[calSegs[k]!]!.weights));
  } catch (e) {
    log(`calibration on ${otherBackend} unavailable: ${(e as Error).message}`);
  } finally {
    await selectBackend({ force: BACKEND });
  }

  // Costs, relative to the first watermarked run's training time.
  const artifact = encodeArtifact(artifactOf(spec, firstRun, { taskId: "1", seed: SEED, miner: MINERS[0]! }));
  const input = {
    spec,
    seed: SEED,
    miner: MINERS[0]!,
    test,
    train: trainSet,
    artifact,
    expectedModelHash: modelHash(artifact),
    manifest: firstRun.manifest,
    fetchCheckpoint: async (i: number) => cps[i]!,
    hyper: firstRun.hyper,
  };
  let t0 = performance.now();
  const verified = await verifySubmission({ ...input, replay: false });
  const verifyMs = performance.now() - t0;
  t0 = performance.now();
  const replayResult = await replayCheck(spec, { seed: SEED, miner: MINERS[0]!, data: trainSet, hyper: firstRun.hyper }, cps, { seed2: SEED2 });
  const replayMs = performance.now() - t0;
  const withReplay = await verifySubmission({ ...input, replay: { seed2: SEED2 } });

  const maxOf = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), 0);
  const replay = {
    tolerance: DEFAULT_TOLERANCE,
    trials: TRIALS,
    honestAccepted: honestTrials.filter((d) => d <= DEFAULT_TOLERANCE).length,
    forgedRejected: forgedDistances.filter((f) => f.distance > DEFAULT_TOLERANCE).length,
    forgedTrials: forgedDistances.length,
    honestMaxDistance: maxOf(honestTrials),
    forgedMinDistance: forgedDistances.reduce((a, f) => Math.min(a, f.distance), Number.POSITIVE_INFINITY),
    forgedMinDistanceByKind: Object.fromEntries(
      ["perturbed", "skipped", "otherBatches"].map((k) => [k, forgedDistances.filter((f) => f.kind === k).reduce((a, f) => Math.min(a, f.distance), Number.POSITIVE_INFINITY)]),
    ),
    calibrationMaxDistance: Object.fromEntries(Object.entries(calibration).map(([k, v]) => [k, maxOf(v)])),
    segmentsReplayedByDefault: replayResult.segments.length,
    defaultReplayAccepted: replayResult.accepted,
    costFraction: round(replayMs / firstRun.trainMs),
    replaySeconds: round(replayMs / 1000, 2),
  };
  const verify = {
    costFraction: round(verifyMs / firstRun.trainMs),
    seconds: round(verifyMs / 1000, 3),
    scoreBps: verified.scoreBps,
    reason: verified.reason ?? null,
    withReplayScoreBps: withReplay.scoreBps,
  };
  for (const r of [secure, ...own]) r.model.dispose();

  const results = {
    backend: choice.name,
    throughput,
    throughputNotes,
    setup: {
      model: "presets.mnistMlp (784 → SML dense 128, 4-bit → dense 64 relu → dense 10 softmax, adam 1e-3, batch 64)",
      checkpointEvery: CHECKPOINT_EVERY,
      trainSamples: trainSet.n,
      testSamples: test.n,
      epochs: EPOCHS,
      stepsPerRun: firstRun.steps,
      trainSeconds: round(firstRun.trainMs / 1000, 2),
      cores: cpus().length,
      benchSeconds: 0,
    },
    sml,
    watermark,
    replay,
    verify,
  };
  results.setup.benchSeconds = round((performance.now() - started) / 1000, 1);
  await mkdir("bench/results", { recursive: true });
  await writeFile("bench/results/ml.json", `${JSON.stringify(results, null, 2)}\n`);
  await writeFile("bench/results/ml.md", markdown(results));
  log(`done in ${results.setup.benchSeconds} s`);
}

function markdown(r: {
  backend: string;
  throughput: Record<string, number>;
  throughputNotes: string[];
  setup: Record<string, unknown>;
  sml: Record<string, unknown> & { iris: Record<string, unknown> };
  watermark: Record<string, unknown>;
  replay: Record<string, unknown>;
  verify: Record<string, unknown>;
}): string {
  const pct = (v: unknown) => `${(Number(v) * 100).toFixed(2)} %`;
  const rows = (o: Record<string, unknown>) =>
    Object.entries(o)
      .filter(([, v]) => typeof v !== "object" || v === null || Array.isArray(v))
      .map(([k, v]) => `| ${k} | ${Array.isArray(v) ? v.join(", ") : String(v)} |`)
      .join("\n");
  return `# bench:ml results

Training backend: **${r.backend}**. Setup: ${JSON.stringify(r.setup)}.

## Throughput (samples/s, MNIST MLP training, measureThroughput)

| backend | samples/s |
| --- | --- |
${Object.entries(r.throughput).map(([b, v]) => `| ${b} | ${v} |`).join("\n")}
${r.throughputNotes.map((n) => `\nUnavailable: ${n}`).join("")}

## Secure Mapping Layer (PoLe Table 2/3)

| | plain | secure | SML replaced |
| --- | --- | --- | --- |
| MNIST MLP | ${pct(r.sml.plainAccuracy)} | ${pct(r.sml.secureAccuracy)} | ${pct(r.sml.replacedAccuracy)} |
| Iris MLP | ${pct(r.sml.iris.plainAccuracy)} | ${pct(r.sml.iris.secureAccuracy)} | ${pct(r.sml.iris.replacedAccuracy)} |

SML training-time overhead: ${pct(r.sml.timeOverhead)} (dataset mapped through the SML once);
${pct(r.sml.timeOverheadPerBatchMapping)} when every batch goes through the SML (2-epoch runs).

## Watermark

| figure | value |
| --- | --- |
${rows(r.watermark)}

## Replay

| figure | value |
| --- | --- |
${rows(r.replay)}

Forged minimum distance by kind: ${JSON.stringify(r.replay.forgedMinDistanceByKind)}.
Calibration, largest normalised distance per checkpoint→replay backend pair: ${JSON.stringify(r.replay.calibrationMaxDistance)}.

## Verification without replay

| figure | value |
| --- | --- |
${rows(r.verify)}
`;
}

await main();
