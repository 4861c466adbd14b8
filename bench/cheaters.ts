// Adaptive cheaters against the replay check (issue 13 item 4): for each forgery of bench/cheaters/
// and each fraction f of segments trained honestly, every segment of the claimed run is replayed once;
// the probability of being caught for r replayed segments is then counted over many replay seeds (the
// choice of segments is a function of seed2 and the claimed checkpoints only). From it: the miner bond
// that makes cheating worse than honest work at every f (docs/ml.md, "Cheating must not pay").
// Writes bench/results/cheaters.json and .md, and the summary under `cheaters` in bench/results/ml.json.
// Run with `nice -n 10 npm run bench:cheaters` (a few minutes on one core).
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs";
import { AbiCoder, keccak256 } from "ethers";
import type { Checkpoint } from "../agents/ml/checkpoints.js";
import { selectBackend } from "../agents/ml/backend.js";
import { loadIris } from "../agents/ml/datasets/index.js";
import { chooseFromSizes, DEFAULT_REPLAY_SEGMENTS, DEFAULT_TOLERANCE, jumpRatios, largestFirst, l2Distance, normalisedDistance, replaySegmentStates, segmentDistance, updateSizes } from "../agents/ml/replay.js";
import { KeccakStream, subSeed } from "../agents/ml/seeds.js";
import { presets } from "../agents/ml/spec.js";
import { buildModel } from "../agents/ml/model.js";
import type { NamedTensors } from "../agents/ml/init.js";
import { generateSml } from "../agents/ml/sml.js";
import { resolveHyper, sparseCrossEntropy, train } from "../agents/ml/train.js";
import { CONSTRUCTIONS, forge } from "./cheaters/forgeries.js";
import type { CheatContext, Construction, Forgery } from "./cheaters/forgeries.js";

const SEED = `0x${"c4".repeat(32)}`;
const MINER = "0x3333333333333333333333333333333333333333";
const EPOCHS = 40; // Iris: 10 steps an epoch, checkpointEvery 10: 40 segments
const SEEDS = Number(process.env.CHEATERS_SEEDS ?? 10_000);
/** The target every forgery claims: the same miner's model after this many epochs, which it did not train. */
const TARGET_EPOCHS = 50;
const FRACTIONS = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975];
const R_VALUES = [2, 3, 4, 5];
/** minerBondBps bounds in MarketParams (docs/market.md). */
const BOND_BPS = { min: 100, max: 5000, deployed: 100 };
/** Three standard deviations: the lower bound on p used for the bond, so 4,000 seeds' noise cannot flatter it. */
const Z = 3;

const log = (m: string) => process.stderr.write(`bench:cheaters ${m}\n`);
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** The landed rule before this bench (one uniform draw, then the largest updates): kept to compare. */
function legacyChoose(sizes: readonly number[], r: number, seed2: string): number[] {
  const chosen = [new KeccakStream(subSeed(seed2, "replay")).nextBelow(sizes.length)];
  for (const i of largestFirst(sizes)) {
    if (chosen.length >= Math.min(r, sizes.length)) break;
    if (!chosen.includes(i)) chosen.push(i);
  }
  return chosen;
}

/** Wilson score interval's lower end. */
function lowerBound(caught: number, n: number): number {
  const p = caught / n;
  const d = 1 + (Z * Z) / n;
  return Math.max(0, (p + (Z * Z) / (2 * n) - Z * Math.sqrt((p * (1 - p)) / n + (Z * Z) / (4 * n * n))) / d);
}

/** Cross-entropy of a model's weights on the whole dataset (the watermark term left out). */
function lossOf(ctx: CheatContext, weights: NamedTensors): number {
  const sml = generateSml(ctx.seed, ctx.spec.sml, ctx.spec.input.shape);
  const model = buildModel(ctx.spec, { smlWeights: sml, initialWeights: weights });
  try {
    return tf.tidy(() => {
      const probs = model.predict(tf.tensor(ctx.data.x, [ctx.data.n, ...ctx.data.inputShape])) as tf.Tensor;
      return sparseCrossEntropy(probs, tf.tensor1d(ctx.data.y, "int32"), ctx.spec.classes).dataSync()[0]!;
    });
  } finally {
    model.dispose();
  }
}

type Verdicts = { oldCaught: boolean[]; newCaught: boolean[]; sizes: number[] };

async function verdicts(ctx: CheatContext, claimed: readonly Checkpoint[]): Promise<Verdicts & { distances: number[] }> {
  const states = await replaySegmentStates(ctx.spec, ctx, claimed.slice(0, -1).map((from, i) => ({ from, toStep: claimed[i + 1]!.step })));
  const oldD = states.map((s, i) => normalisedDistance(s.weights, claimed[i + 1]!.weights, claimed[i]!.weights));
  const newD = states.map((s, i) => segmentDistance(s, claimed[i + 1]!, claimed[i]!));
  const caught = (d: number) => !(d <= DEFAULT_TOLERANCE);
  return { oldCaught: oldD.map(caught), newCaught: newD.map(caught), sizes: updateSizes(claimed), distances: newD };
}

const seeds = Array.from({ length: SEEDS }, (_, j) => keccak256(AbiCoder.defaultAbiCoder().encode(["string", "uint256"], ["cheaters", j])));

/**
 * How many seeds catch the run, for each r ≤ maxR: picks come in a fixed order, so the choice for r is
 * the first r picks of the choice for maxR (one call per seed).
 */
function catchCounts(v: Verdicts, rule: (sizes: readonly number[], r: number, seed2: string) => number[], maxR: number, caughtBy: "old" | "new"): number[] {
  const caught = caughtBy === "old" ? v.oldCaught : v.newCaught;
  const counts = new Array<number>(maxR + 1).fill(0);
  for (const s of seeds) {
    const picks = rule(v.sizes, maxR, s);
    const first = picks.findIndex((i) => caught[i]);
    if (first >= 0) for (let r = first + 1; r <= maxR; r++) counts[r]!++;
  }
  return counts;
}

async function main(): Promise<void> {
  await tf.setBackend("cpu");
  const cpu0 = cpuSeconds();
  const load = loadavg();
  const data = loadIris();
  const spec = presets.irisMlp;
  const hyper = resolveHyper(spec, { epochs: EPOCHS });
  const ctx: CheatContext = { spec, seed: SEED, miner: MINER, data, hyper };
  log(`honest reference run: ${EPOCHS} epochs of Iris`);
  const reference = await train(spec, { seed: SEED, miner: MINER, data, hyper });
  reference.model.dispose();
  const cps = reference.checkpoints;
  const segments = cps.length - 1;
  const totalSteps = cps.at(-1)!.step;
  log(`target: the same miner's ${TARGET_EPOCHS}-epoch model`);
  const longer = await train(spec, { seed: SEED, miner: MINER, data, hyper: resolveHyper(spec, { epochs: TARGET_EPOCHS }) });
  longer.model.dispose();
  const target = longer.weights;
  target.delete("sml.kernel");
  // What a claimed model is worth: the steps an honest run needs to reach its loss.
  const honestLoss = longer.checkpoints.map((c) => ({ step: c.step, loss: lossOf(ctx, c.weights) }));
  const stepsToReach = (loss: number) => honestLoss.find((h) => h.loss <= loss)?.step ?? longer.checkpoints.at(-1)!.step;
  const honestVerdicts = await verdicts(ctx, cps);
  if (honestVerdicts.newCaught.some((c) => c)) throw new Error("an honest segment failed replay: the bench's premise is broken");
  // The optimizer state is compared now: honest runs replayed on another backend must stay within tolerance.
  await selectBackend({ force: "wasm" });
  const onWasm = (await verdicts(ctx, cps)).distances;
  await tf.setBackend("cpu");
  const honestSizes = updateSizes(cps);
  const path = l2Distance(target, cps[0]!.weights);

  const rows: Record<string, unknown>[] = [];
  const rules = [
    { name: "landed (r = 2, weights only)", key: "landed", r: 2, rule: legacyChoose, by: "old" as const },
    ...[4].map((r) => ({ name: `landed rule, r = ${r}, optimizer checked`, key: `landedRuleR${r}`, r, rule: legacyChoose, by: "new" as const })),
    ...R_VALUES.map((r) => ({ name: `new rule, r = ${r}`, key: `r${r}`, r, rule: chooseFromSizes, by: "new" as const })),
  ];
  for (const kind of CONSTRUCTIONS) {
    const fractions = kind === "toleranceRiding" ? [0] : FRACTIONS;
    for (const f of fractions) {
      // momentForgery trains `honest` segments and the forged one: f counts both.
      const honest = kind === "momentForgery" ? Math.max(1, Math.round(f * segments) - 1) : Math.round(f * segments);
      const c0 = cpuSeconds();
      const forgery: Forgery = await forge(kind as Construction, ctx, cps, honest, new Map(target));
      const v = await verdicts(ctx, forgery.checkpoints);
      const caught: Record<string, number> = {};
      const caughtLow: Record<string, number> = {};
      const counts = { legacy: catchCounts(v, legacyChoose, 4, "new"), landed: catchCounts(v, legacyChoose, 2, "old"), rule: catchCounts(v, chooseFromSizes, Math.max(...R_VALUES), "new") };
      for (const { key, r, rule, by } of rules) {
        const n = (by === "old" ? counts.landed : rule === legacyChoose ? counts.legacy : counts.rule)[r]!;
        caught[key] = round(n / SEEDS);
        caughtLow[key] = round(lowerBound(n, SEEDS));
      }
      const saved = 1 - forgery.stepsTrained / totalSteps;
      const landing = l2Distance(forgery.checkpoints.at(-1)!.weights, target) / path;
      const claimedLoss = lossOf(ctx, forgery.checkpoints.at(-1)!.weights);
      // A diverged claim (NaN loss) is worth nothing.
      const savedToSameLoss = Number.isNaN(claimedLoss) ? 0 : Math.max(0, 1 - forgery.stepsTrained / stepsToReach(claimedLoss));
      const fakeCaughtOld = forgery.fake.filter((i) => v.oldCaught[i]).length;
      const fakeCaughtNew = forgery.fake.filter((i) => v.newCaught[i]).length;
      const row = {
        construction: kind,
        f: round(forgery.stepsTrained / totalSteps),
        honestSegments: honest,
        fakeSegments: forgery.fake.length,
        fakeSegmentsFailingReplay: { weightsOnly: fakeCaughtOld, withOptimizer: fakeCaughtNew },
        otherSegmentsFailingReplay: v.newCaught.filter((c, i) => c && !forgery.fake.includes(i)).length,
        savedCompute: round(saved),
        claimedLoss: round(claimedLoss),
        savedToSameLoss: round(savedToSameLoss),
        fakeIsLargestUpdate: forgery.fake.includes(largestFirst(v.sizes)[0]!),
        finalDistanceToTarget: round(landing),
        caught,
        caughtLowerBound: caughtLow,
        cpuSeconds: round(cpuSeconds() - c0, 2),
      };
      rows.push(row);
      log(`${kind} f=${row.f}: saved ${row.savedCompute}, fakes ${row.fakeSegments} (${fakeCaughtNew} fail replay), caught ${JSON.stringify(caught)}`);
    }
  }

  // Cheating beats honest work only if saved·C > p·(w·R + B); an honest miner takes part only when
  // w·R ≥ C, and B = bondBps/10⁴ · R ≥ bondBps/10⁴ · C, so it never pays when p·(1 + β) ≥ saved.
  const bondFor = (key: string, bound: "caught" | "caughtLowerBound") => {
    let need = 0;
    for (const row of rows as ({ savedCompute: number } & Record<typeof bound, Record<string, number>>)[]) {
      const p = row[bound][key]!;
      if (row.savedCompute === 0) continue;
      need = Math.max(need, p === 0 ? Number.POSITIVE_INFINITY : row.savedCompute / p - 1);
    }
    return Number.isFinite(need) ? Math.max(BOND_BPS.min, Math.ceil(need * 100) * 100) : null;
  };
  const requiredBondBps = Object.fromEntries(rules.map(({ key }) => [key, bondFor(key, "caught")]));
  const requiredBondBpsAtLowerBound = Object.fromEntries(rules.map(({ key }) => [key, bondFor(key, "caughtLowerBound")]));
  const ok = R_VALUES.filter((r) => requiredBondBpsAtLowerBound[`r${r}`] !== null && requiredBondBpsAtLowerBound[`r${r}`]! <= BOND_BPS.max);
  const chosenR = ok[0] ?? null;
  const results = {
    method:
      `Iris MLP preset, one honest run of ${EPOCHS} epochs (${segments} segments of 10 steps) as the reference; each forgery keeps its first round(f·${segments}) segments honest ` +
      `and fakes the rest towards the same miner's ${TARGET_EPOCHS}-epoch model (f = steps trained / steps of the honest run); every segment of a claimed run replayed once on cpu, caught = some chosen segment fails ` +
      `(distance > ${DEFAULT_TOLERANCE}); probabilities over ${SEEDS} replay seeds; caughtLowerBound = Wilson lower bound at z = ${Z}. ` +
      "requiredBondBps = smallest bond (bps of the reward, at least the 100 bps floor) with p·(1 + bond) ≥ savedCompute for every row; AtLowerBound: the same with p at its lower bound.",
    loadAverage: load.map((x) => round(x, 2)),
    cpus: cpus().length,
    segments,
    stepsPerRun: totalSteps,
    seeds: SEEDS,
    tolerance: DEFAULT_TOLERANCE,
    honest: {
      segmentsFailingReplay: honestVerdicts.newCaught.filter((c) => c).length,
      maxDistanceCpuToCpu: Math.max(...honestVerdicts.distances),
      maxDistanceCpuToWasm: Math.max(...onWasm), largestUpdateSegment: largestFirst(honestSizes)[0], largestToMedianUpdate: round(Math.max(...honestSizes) / [...honestSizes].sort((a, b) => a - b)[Math.floor(segments / 2)]!, 2),
      largestJumpRatio: round(Math.max(...jumpRatios(honestSizes)), 2),
    },
    toleranceRidingFreeMovement: round((0.5 * DEFAULT_TOLERANCE * honestSizes.reduce((a, b) => a + b, 0)) / path, 6),
    rules: Object.fromEntries(rules.map(({ key, name }) => [key, name])),
    table: rows,
    requiredBondBps,
    requiredBondBpsAtLowerBound,
    smallestRWithBondInBounds: chosenR,
    defaults: { replaySegments: DEFAULT_REPLAY_SEGMENTS, minerBondBps: requiredBondBpsAtLowerBound[`r${DEFAULT_REPLAY_SEGMENTS}`] ?? null, deployedMinerBondBpsBefore: BOND_BPS.deployed },
    cpuSeconds: round(cpuSeconds() - cpu0, 1),
  };
  await writeFile("bench/results/cheaters.json", `${JSON.stringify(results, null, 2)}\n`);
  await writeFile("bench/results/cheaters.md", markdown(results));
  const ml = JSON.parse(await readFile("bench/results/ml.json", "utf8")) as Record<string, unknown>;
  ml.cheaters = { ...results, table: rows.map(({ construction, f, savedCompute, caught }) => ({ construction, f, savedCompute, caught })) };
  await writeFile("bench/results/ml.json", `${JSON.stringify(ml, null, 2)}\n`);
  log(`done in ${results.cpuSeconds} s cpu; required bond ${JSON.stringify(requiredBondBps)}, at the lower bound ${JSON.stringify(requiredBondBpsAtLowerBound)}`);
}

function markdown(r: { table: Record<string, unknown>[]; rules: Record<string, string>; requiredBondBps: Record<string, number | null>; requiredBondBpsAtLowerBound: Record<string, number | null>; loadAverage: number[]; seeds: number } & Record<string, unknown>): string {
  const keys = Object.keys(r.rules);
  const head = `| construction | f | saved | saved (same loss) | ${keys.map((k) => r.rules[k]).join(" | ")} |\n| --- | --- | --- | --- | ${keys.map(() => "---").join(" | ")} |`;
  const body = r.table
    .map((row) => {
      const c = row.caught as Record<string, number>;
      return `| ${String(row.construction)} | ${String(row.f)} | ${String(row.savedCompute)} | ${String(row.savedToSameLoss)} | ${keys.map((k) => String(c[k])).join(" | ")} |`;
    })
    .join("\n");
  const bonds = keys.map((k) => `| ${r.rules[k]} | ${r.requiredBondBps[k] ?? "none suffices"} | ${r.requiredBondBpsAtLowerBound[k] ?? "none suffices"} |`).join("\n");
  return `# Adaptive cheaters (bench/cheaters.ts)

Produced by \`npm run bench:cheaters\`; method and argument in docs/ml.md ("Cheating must not pay").
Load average at start: ${r.loadAverage.join(", ")}. Caught = probability over ${r.seeds} replay seeds.

${head}
${body}

| rule | miner bond needed (bps of reward) | at p's lower bound (z = 3) |
| --- | --- | --- |
${bonds}
`;
}

await main();
