/**
 * presets.mnistCnn on wasm, issue 13 part 5's figures (PoLe Table 2/3, CNN row): for each of
 * three miners of one task, the preset trained as published (SML, watermark) with test accuracy
 * and the watermark reading after every epoch, and cumulative wall and CPU seconds of training
 * (evaluation excluded); the same miner's plain CNN (no SML, no watermark: PoLe's baseline, same
 * seeds and batch order); the secure model with another task's SML in place of its own; and every
 * final model read with foreign watermark keys (other miners of the task, the same miner on other
 * seeds) for false matches. Writes bench/results/mnist-cnn.json and .md and the `cnnPreset` rows
 * of bench/results/ml.json.
 *
 * It also times two epochs of miner 0's secure model without the spec's augmentation, for the CPU
 * cost of the shifts (second epoch against second epoch).
 *
 *   npx tsx bench/mnist-cnn-preset.ts [train=all] [test=1600] [epochs=presets.mnistCnn.epochs.max] [miners=3]
 *
 * train: a number takes that many balanced (per digit the first train/10; 7000 at most beside a
 * 1,600-image test slice: the rarest digit, 5, has 863); "all" adds the 1,400 images after the
 * test slice (8,400, no longer balanced), the same test slice.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { AbiCoder, keccak256 } from "ethers";
import { selectBackend } from "../agents/ml/backend.js";
import { loadMnist } from "../agents/ml/datasets/index.js";
import type { Dataset } from "../agents/ml/datasets/index.js";
import { getNamedWeights, setNamedWeights } from "../agents/ml/model.js";
import { generateSml } from "../agents/ml/sml.js";
import { countModel, presets } from "../agents/ml/spec.js";
import type { TaskSpec } from "../agents/ml/spec.js";
import { evaluate, train } from "../agents/ml/train.js";
import type { TrainResult } from "../agents/ml/train.js";
import { extractWatermark, watermarkKey, watermarkReader, watermarkTensorName } from "../agents/ml/watermark.js";

const spec = presets.mnistCnn;
const TARGET = 0.985;
const STRANGERS = 100;
const trainArg = process.argv[2] ?? "all";
const [nTest, nEpochs, nMiners] = [Number(process.argv[3] ?? 1600), Number(process.argv[4] ?? spec.epochs.max), Number(process.argv[5] ?? 3)];
const abi = AbiCoder.defaultAbiCoder();
const SEED = `0x${"a1".repeat(32)}`;
const OTHER_SEED = `0x${"a7".repeat(32)}`;
const minerOf = (k: number) => `0x${keccak256(abi.encode(["string", "uint256"], ["cnn-bench-miner", k])).slice(26)}`;
const seedOf = (k: number) => keccak256(abi.encode(["string", "uint256"], ["cnn-bench-seed", k]));
const log = (m: string) => process.stderr.write(`bench:mnist-cnn ${m}\n`);
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const uptime = async () => (await promisify(execFile)("uptime")).stdout.trim();

type Epoch = { epoch: number; loss: number; testAccuracy: number; watermark: string | null; trainWallSeconds: number; trainCpuSeconds: number };

type Row = {
  miner: string;
  plainAccuracy: number;
  secureAccuracy: number;
  replacedAccuracy: number;
  watermark: { matches: string; detected: boolean; detectedFromEpoch: number | null };
  reached: number | null;
  secure: Epoch[];
  plain: Epoch[];
};

/** One training run with per-epoch test accuracy (and watermark reading when secure). */
async function run(miner: string, data: Dataset, test: Dataset, plain: boolean, epochCount = nEpochs, runSpec: TaskSpec = spec): Promise<{ result: TrainResult; epochs: Epoch[] }> {
  const read = watermarkReader(spec, SEED, miner);
  const epochs: Epoch[] = [];
  let [wall, cpu, w0, c0] = [0, 0, performance.now(), cpuSeconds()];
  const result = await train(runSpec, {
    seed: SEED,
    miner,
    data,
    hyper: { epochs: epochCount },
    ...(plain ? { plain: true, watermarkStrength: 0 } : {}),
    onProgress: async (e) => {
      if (e.type !== "epoch") return;
      wall += (performance.now() - w0) / 1000;
      cpu += cpuSeconds() - c0;
      const testAccuracy = await evaluate(e.model, test);
      const reading = plain ? null : read(await getNamedWeights(e.model));
      epochs.push({ epoch: e.epoch + 1, loss: round(e.loss), testAccuracy: round(testAccuracy), watermark: reading && `${reading.matches}/${reading.bits}`, trainWallSeconds: round(wall, 1), trainCpuSeconds: round(cpu, 1) });
      log(`${plain ? "plain" : "secure"} ${miner.slice(0, 8)} ${JSON.stringify(epochs.at(-1))}`);
      [w0, c0] = [performance.now(), cpuSeconds()];
    },
  });
  return { result, epochs };
}

async function main(): Promise<void> {
  const started = new Date();
  const uptimeStart = await uptime();
  await selectBackend({ force: "wasm", spec });
  const { train: data, test } = loadMnist({ train: trainArg === "all" ? 7000 : Number(trainArg), test: nTest, image: true, rest: trainArg === "all" });
  const miners = Array.from({ length: nMiners }, (_, k) => minerOf(k));
  const kernelName = watermarkTensorName(spec);
  const rows: Row[] = [];
  let falseMatches = 0;
  let readings = 0;
  for (const [k, miner] of miners.entries()) {
    const secure = await run(miner, data, test, false);
    const replacedAccuracy = await (async () => {
      setNamedWeights(secure.result.model, new Map([...secure.result.weights, ["sml.kernel", generateSml(OTHER_SEED, spec.sml, spec.input.shape)]]));
      return evaluate(secure.result.model, test);
    })();
    const kernel = secure.result.weights.get(kernelName)!;
    const own = extractWatermark(watermarkKey(SEED, miner, spec.watermark.bits, kernel.shape), kernel.data, kernel.shape);
    for (let j = 1; j <= STRANGERS; j++) {
      const foreign = j % 2 === 0 ? watermarkKey(SEED, minerOf(1000 + k * STRANGERS + j), spec.watermark.bits, kernel.shape) : watermarkKey(seedOf(k * STRANGERS + j), miner, spec.watermark.bits, kernel.shape);
      readings++;
      if (extractWatermark(foreign, kernel.data, kernel.shape).detected) falseMatches++;
    }
    secure.result.model.dispose();
    const plain = await run(miner, data, test, true);
    plain.result.model.dispose();
    const last = (e: Epoch[]) => e.at(-1)!;
    rows.push({
      miner,
      plainAccuracy: last(plain.epochs).testAccuracy,
      secureAccuracy: last(secure.epochs).testAccuracy,
      replacedAccuracy: round(replacedAccuracy),
      watermark: { matches: `${own.matches}/${own.bits}`, detected: own.detected, detectedFromEpoch: secure.epochs.findIndex((e, i) => secure.epochs.slice(i).every((x) => x.watermark === `${spec.watermark.bits}/${spec.watermark.bits}`)) + 1 || null },
      reached: secure.epochs.find((e) => e.testAccuracy >= TARGET)?.epoch ?? null,
      secure: secure.epochs,
      plain: plain.epochs,
    });
    log(`miner ${k}: plain ${pct(last(plain.epochs).testAccuracy)} secure ${pct(last(secure.epochs).testAccuracy)} replaced ${pct(replacedAccuracy)} watermark ${own.matches}/${own.bits}`);
  }
  // The shifts' CPU cost: miner 0's second epoch with and without them (the first maps the SML).
  const unaugmentedSpec: TaskSpec = { ...spec };
  delete unaugmentedSpec.augment;
  const unaugmented = await run(miners[0]!, data, test, false, 2, unaugmentedSpec);
  unaugmented.result.model.dispose();
  const secondEpochCpu = (e: readonly Epoch[]) => round(e[1]!.trainCpuSeconds - e[0]!.trainCpuSeconds, 2);
  const augmentCost = { shift: spec.augment?.shift ?? 0, withCpuSeconds: secondEpochCpu(rows[0]!.secure), withoutCpuSeconds: secondEpochCpu(unaugmented.epochs) };
  const summary = {
    plainAccuracy: round(mean(rows.map((r) => r.plainAccuracy))),
    secureAccuracy: round(mean(rows.map((r) => r.secureAccuracy))),
    replacedAccuracy: round(mean(rows.map((r) => r.replacedAccuracy))),
    bestSecureAccuracy: round(Math.max(...rows.flatMap((r) => r.secure.map((e) => e.testAccuracy)))),
    watermarkDetectionRate: rows.filter((r) => r.watermark.detected).length / rows.length,
    watermarkMatches: rows.map((r) => r.watermark.matches),
    falseMatches,
    falseMatchTrials: readings,
    trainCpuSecondsPerEpoch: round(mean(rows.map((r) => r.secure.at(-1)!.trainCpuSeconds)) / nEpochs, 2),
    secondEpochCpuSeconds: { ...augmentCost, ratio: round(augmentCost.withCpuSeconds / augmentCost.withoutCpuSeconds, 3) },
  };
  const out = {
    date: started.toISOString(),
    command: `npx tsx bench/mnist-cnn-preset.ts ${trainArg} ${nTest} ${nEpochs} ${nMiners}`,
    backend: "wasm",
    preset: spec.name,
    spec: { sml: spec.sml, augment: spec.augment, layers: spec.layers, optimizer: spec.optimizer, batchSize: spec.batchSize, epochs: spec.epochs, watermark: spec.watermark, ...countModel(spec) },
    data: { source: "bundled mnist (loadMnist)", train: data.n, test: test.n },
    target: TARGET,
    summary,
    miners: rows,
    uptime: { start: uptimeStart, end: await uptime() },
  };
  await writeFile("bench/results/mnist-cnn.json", `${JSON.stringify(out, null, 2)}\n`);
  const ml = JSON.parse(await readFile("bench/results/ml.json", "utf8")) as Record<string, unknown>;
  ml.cnnPreset = { source: "bench/results/mnist-cnn.json", date: out.date, command: out.command, data: out.data, ...summary, loadAverage: out.uptime };
  await writeFile("bench/results/ml.json", `${JSON.stringify(ml, null, 2)}\n`);
  const s = summary;
  await writeFile(
    "bench/results/mnist-cnn.md",
    `# presets.mnistCnn on wasm: accuracy, SML and watermark (issue 13, part 5)

Produced by \`${out.command}\` on ${out.date}; bundled MNIST, ${data.n} training and ${test.n} test images
(per digit the first 700 train, the next 160 test: the rarest digit, 5, has 863${trainArg === "all" ? "; training also takes the 1,400 images after the test slice" : ""}); ${nEpochs} epochs (the preset's
epochs.max), ${nMiners} miners of one task; augmentation: ${JSON.stringify(spec.augment ?? "none")}. Plain = the same CNN without SML and watermark, same seeds;
SML replaced = the secure model with another task's SML. Training seconds exclude evaluation.
Shared machine: \`${out.uptime.start}\` at the start, \`${out.uptime.end}\` at the end.

| | plain | secure (SML + watermark) | SML replaced | watermark read | target ${pct(TARGET)} reached |
| --- | --- | --- | --- | --- | --- |
${rows.map((r, k) => `| miner ${k} | ${pct(r.plainAccuracy)} | ${pct(r.secureAccuracy)} | ${pct(r.replacedAccuracy)} | ${r.watermark.matches}${r.watermark.detected ? "" : " (not detected)"} | ${r.reached === null ? "no" : `epoch ${r.reached}`} |`).join("\n")}
| mean | ${pct(s.plainAccuracy)} | ${pct(s.secureAccuracy)} | ${pct(s.replacedAccuracy)} | ${s.watermarkDetectionRate * 100} % detected | best epoch: ${pct(s.bestSecureAccuracy)} |

False matches: ${s.falseMatches} of ${s.falseMatchTrials} readings of the final models with foreign keys. Training: ${s.trainCpuSecondsPerEpoch} CPU s per epoch;
miner 0's second epoch ${s.secondEpochCpuSeconds.withCpuSeconds} CPU s with the shifts, ${s.secondEpochCpuSeconds.withoutCpuSeconds} without (× ${s.secondEpochCpuSeconds.ratio}).

Per epoch (miner 0, secure): test accuracy, watermark bits read, cumulative training CPU s:

| epoch | loss | test accuracy | watermark | training wall s | training CPU s | plain test accuracy |
| --- | --- | --- | --- | --- | --- | --- |
${rows[0]!.secure.map((e, i) => `| ${e.epoch} | ${e.loss} | ${pct(e.testAccuracy)} | ${e.watermark} | ${e.trainWallSeconds} | ${e.trainCpuSeconds} | ${pct(rows[0]!.plain[i]!.testAccuracy)} |`).join("\n")}
`,
  );
}

await main();
