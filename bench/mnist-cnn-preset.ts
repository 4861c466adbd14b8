/**
 * How long presets.mnistCnn takes on wasm to reach 98.5 % test accuracy on the bundled MNIST
 * digits (issue 13, part 5's first figure): train() with the preset as published (SML,
 * watermark, Adam 1e-3, batch 32) for its epochs.max, test accuracy after every epoch, with the
 * cumulative wall and CPU seconds of training (evaluation excluded). Measures only; the preset
 * is not changed. Writes bench/results/mnist-cnn.json and .md.
 *
 *   npx tsx bench/mnist-cnn-preset.ts [train=7000] [test=1600] (bench:ml's split) [epochs=presets.mnistCnn.epochs.max]
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { selectBackend } from "../agents/ml/backend.js";
import { loadMnist } from "../agents/ml/datasets/index.js";
import { presets } from "../agents/ml/spec.js";
import { evaluate, train } from "../agents/ml/train.js";

const TARGET = 0.985;
const [nTrain, nTest, nEpochs] = [Number(process.argv[2] ?? 7000), Number(process.argv[3] ?? 1600), Number(process.argv[4] ?? presets.mnistCnn.epochs.max)];
const log = (m: string) => process.stderr.write(`bench:mnist-cnn ${m}\n`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const uptime = async () => (await promisify(execFile)("uptime")).stdout.trim();

async function main(): Promise<void> {
  const started = new Date();
  const uptimeStart = await uptime();
  await selectBackend({ force: "wasm", spec: presets.mnistCnn });
  const { train: data, test } = loadMnist({ train: nTrain, test: nTest, image: true });
  const epochs: { epoch: number; loss: number; testAccuracy: number; trainWallSeconds: number; trainCpuSeconds: number }[] = [];
  let wall = 0;
  let cpu = 0;
  let w0 = performance.now();
  let c0 = cpuSeconds();
  const run = await train(presets.mnistCnn, {
    seed: `0x${"a1".repeat(32)}`,
    miner: `0x${"b2".repeat(20)}`,
    data,
    hyper: { epochs: nEpochs },
    onProgress: async (e) => {
      if (e.type !== "epoch") return;
      wall += (performance.now() - w0) / 1000;
      cpu += cpuSeconds() - c0;
      const testAccuracy = await evaluate(e.model, test);
      epochs.push({ epoch: e.epoch + 1, loss: round(e.loss, 4), testAccuracy: round(testAccuracy, 4), trainWallSeconds: round(wall, 1), trainCpuSeconds: round(cpu, 1) });
      log(JSON.stringify(epochs.at(-1)));
      w0 = performance.now();
      c0 = cpuSeconds();
    },
  });
  run.model.dispose();
  const first = epochs.find((e) => e.testAccuracy >= TARGET) ?? null;
  const out = {
    date: started.toISOString(),
    command: `npx tsx bench/mnist-cnn-preset.ts ${nTrain} ${nTest} ${nEpochs}`,
    backend: "wasm",
    preset: presets.mnistCnn.name,
    data: { source: "bundled mnist (loadMnist)", train: data.n, test: test.n },
    target: TARGET,
    reached: first,
    epochs,
    uptime: { start: uptimeStart, end: await uptime() },
  };
  await writeFile("bench/results/mnist-cnn.json", `${JSON.stringify(out, null, 2)}\n`);
  await writeFile(
    "bench/results/mnist-cnn.md",
    `# presets.mnistCnn on wasm: epochs to ${TARGET * 100} % test accuracy

Produced by \`${out.command}\` on ${out.date}; bundled MNIST, ${data.n} training and ${test.n} test images;
the preset as published (SML, watermark, Adam 1e-3, batch 32). Training seconds exclude evaluation.
Shared machine: \`${out.uptime.start}\` at the start, \`${out.uptime.end}\` at the end.

| epoch | loss | test accuracy | training wall s | training CPU s |
| --- | --- | --- | --- | --- |
${epochs.map((e) => `| ${e.epoch} | ${e.loss} | ${(e.testAccuracy * 100).toFixed(2)} % | ${e.trainWallSeconds} | ${e.trainCpuSeconds} |`).join("\n")}

${first === null ? `Not reached within ${nEpochs} epochs.` : `Reached after epoch ${first.epoch}: ${first.trainWallSeconds} s wall, ${first.trainCpuSeconds} s CPU.`}
`,
  );
}

await main();
