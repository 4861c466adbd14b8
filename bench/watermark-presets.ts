// npx tsx bench/watermark-presets.ts: does a preset's watermark embed for every honest miner?
// For each strength (λ) and bit count, trains the preset for BENCH_WM_EPOCHS epochs on
// BENCH_WM_PAIRS (task seed, miner) pairs, reads the watermark at every epoch end, and records the
// first epoch from which it stays detected and the test accuracy; strength 0 is the baseline for the
// accuracy cost. False matches: every final model of each setting read with BENCH_WM_STRANGERS
// foreign keys (other miners of the same seed, and the same miner on other seeds).
//
// Env: BENCH_WM_SPEC (irisMlp | mnistCnn | mnistMlp, default irisMlp), BENCH_WM_PAIRS (40),
// BENCH_WM_EPOCHS (the spec's epochs.max), BENCH_WM_STRENGTHS ("0,0.01,0.03,0.1,0.3"),
// BENCH_WM_BITS ("<preset's>"), BENCH_WM_SML_UNITS (the preset's; a dense SML's width is the
// watermarked kernel's M), BENCH_WM_STRANGERS (25), BENCH_WM_BACKEND (cpu),
// BENCH_WM_TRAIN / BENCH_WM_TEST (MNIST sizes, 2,000 / 500). Iris is split as the publisher's
// default shards split it (10 shards, 3 for test): the first 105 rows train, the last 45 test.
// Writes bench/results/watermark-<spec>-b<bits>-s<strengths>.json (baseline: the accuracy cost
// needs strength 0 in the same run).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { AbiCoder, keccak256 } from "ethers";
import { loadIris, loadMnist } from "../agents/ml/datasets/index.js";
import type { Dataset } from "../agents/ml/datasets/index.js";
import { getNamedWeights } from "../agents/ml/model.js";
import { presets } from "../agents/ml/spec.js";
import type { TaskSpec } from "../agents/ml/spec.js";
import { evaluate, train } from "../agents/ml/train.js";
import { extractWatermark, watermarkKey } from "../agents/ml/watermark.js";

const SPEC_NAME = (process.env.BENCH_WM_SPEC ?? "irisMlp") as keyof typeof presets;
const SML_UNITS = process.env.BENCH_WM_SML_UNITS;
const BASE: TaskSpec =
  SML_UNITS === undefined || presets[SPEC_NAME].sml.kind !== "dense"
    ? presets[SPEC_NAME]
    : { ...presets[SPEC_NAME], sml: { ...presets[SPEC_NAME].sml, units: Number(SML_UNITS) } as TaskSpec["sml"] };
const PAIRS = Number(process.env.BENCH_WM_PAIRS ?? 40);
const EPOCHS = Number(process.env.BENCH_WM_EPOCHS ?? BASE.epochs.max);
const STRENGTHS = (process.env.BENCH_WM_STRENGTHS ?? "0,0.01,0.03,0.1,0.3").split(",").map(Number);
const BITS = (process.env.BENCH_WM_BITS ?? String(BASE.watermark.bits)).split(",").map(Number);
const STRANGERS = Number(process.env.BENCH_WM_STRANGERS ?? 25);
const BACKEND = process.env.BENCH_WM_BACKEND ?? "cpu";

const abi = AbiCoder.defaultAbiCoder();
const seedOf = (k: number) => keccak256(abi.encode(["string", "uint256"], ["wm-bench-seed", k]));
const minerOf = (k: number) => `0x${keccak256(abi.encode(["string", "uint256"], ["wm-bench-miner", k])).slice(26)}`;
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (v: number, d = 4) => Number(v.toFixed(d));

function split(): { train: Dataset; test: Dataset } {
  if (SPEC_NAME !== "irisMlp") {
    return loadMnist({ train: Number(process.env.BENCH_WM_TRAIN ?? 2000), test: Number(process.env.BENCH_WM_TEST ?? 500), image: SPEC_NAME === "mnistCnn" });
  }
  const all = loadIris();
  const cut = 105;
  const part = (from: number, to: number): Dataset => ({ ...all, x: all.x.slice(from * 4, to * 4), y: all.y.slice(from, to), n: to - from });
  return { train: part(0, cut), test: part(cut, all.n) };
}

type Run = { seed: string; miner: string; detectedFrom: number | null; finalMatches: number; accuracy: number; kernel: { data: Float32Array; shape: number[] } };

async function runOne(spec: TaskSpec, data: { train: Dataset; test: Dataset }, k: number, strength: number): Promise<Run> {
  const seed = seedOf(k);
  const miner = minerOf(k);
  let key: ReturnType<typeof watermarkKey> | undefined;
  let detectedFrom: number | null = null;
  const result = await train(spec, {
    seed,
    miner,
    data: data.train,
    hyper: { epochs: EPOCHS },
    watermarkStrength: strength,
    onProgress: async (e) => {
      if (e.type !== "epoch") return;
      const kernel = (await getNamedWeights(e.model)).get("layers.0.kernel")!;
      key ??= watermarkKey(seed, miner, spec.watermark.bits, kernel.shape);
      const detected = extractWatermark(key, kernel.data, kernel.shape).detected;
      if (!detected) detectedFrom = null;
      else detectedFrom ??= e.epoch + 1;
    },
  });
  const kernel = result.weights.get("layers.0.kernel")!;
  const reading = extractWatermark(watermarkKey(seed, miner, spec.watermark.bits, kernel.shape), kernel.data, kernel.shape);
  const accuracy = await evaluate(result.model, data.test);
  result.model.dispose();
  return { seed, miner, detectedFrom, finalMatches: reading.matches, accuracy, kernel: { data: kernel.data, shape: kernel.shape } };
}

async function main(): Promise<void> {
  await tf.setBackend(BACKEND);
  await tf.ready();
  const data = split();
  const started = performance.now();
  const settings: Record<string, unknown>[] = [];
  let baseline: number | undefined;
  for (const bits of BITS) {
    for (const strength of STRENGTHS) {
      if (strength === 0 && baseline !== undefined) continue;
      const spec: TaskSpec = { ...BASE, watermark: { bits, strength } };
      const runs: Run[] = [];
      for (let k = 0; k < PAIRS; k++) runs.push(await runOne(spec, data, k, strength));
      const accuracy = mean(runs.map((r) => r.accuracy));
      if (strength === 0) baseline = accuracy;
      // Foreign keys: the other pairs' miners on this seed, then this miner on other seeds.
      let readings = 0;
      let falseMatches = 0;
      if (strength > 0) {
        for (const [k, r] of runs.entries()) {
          for (let j = 1; j <= STRANGERS; j++) {
            const foreign = j % 2 === 0 ? watermarkKey(r.seed, minerOf(1000 + k * STRANGERS + j), bits, r.kernel.shape) : watermarkKey(seedOf(1000 + k * STRANGERS + j), r.miner, bits, r.kernel.shape);
            readings++;
            if (extractWatermark(foreign, r.kernel.data, r.kernel.shape).detected) falseMatches++;
          }
        }
      }
      const from = runs.map((r) => r.detectedFrom);
      const row = {
        bits,
        strength,
        pairs: PAIRS,
        epochs: EPOCHS,
        embedded: from.filter((f) => f !== null).length,
        detectedFromEpoch: { max: from.includes(null) ? null : Math.max(...(from as number[])), mean: round(mean(from.filter((f): f is number => f !== null))) },
        finalMatchesMin: Math.min(...runs.map((r) => r.finalMatches)),
        accuracy: round(accuracy),
        accuracyMin: round(Math.min(...runs.map((r) => r.accuracy))),
        accuracyCost: strength === 0 || baseline === undefined ? null : round(baseline - accuracy),
        falseMatches: strength === 0 ? null : { readings, matches: falseMatches },
      };
      settings.push(row);
      console.log(JSON.stringify(row));
    }
  }
  const out = { spec: SPEC_NAME, smlUnits: BASE.sml.kind === "dense" ? BASE.sml.units : null, backend: BACKEND, trainExamples: data.train.n, testExamples: data.test.n, seconds: round((performance.now() - started) / 1000, 1), settings };
  const dir = join(fileURLToPath(import.meta.url), "..", "results");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `watermark-${SPEC_NAME}${SML_UNITS === undefined ? "" : `-sml${SML_UNITS}`}-b${BITS.join("-")}-s${STRENGTHS.join("-")}.json`), `${JSON.stringify(out, null, 2)}\n`);
}

await main();
