import { ZeroAddress, getAddress, type Result } from "ethers";
import { tokenBalance } from "../core/erc20.js";
import { createProgress } from "../log/progress.js";
import { missingKernels } from "../ml/backend.js";
import { countModel, fixedOrMin } from "../ml/spec.js";
import { isSubmissionError, prefetchShards } from "../protocol/submission.js";
import type { TaskDocument } from "../protocol/task-document.js";
import { declaredWorkload } from "../protocol/workload.js";
import type { ChainTask, MinerContext, TaskData } from "./context.js";

/** Gas kept in reserve for one task's transactions (approve, commit, reveal, withdraw), in gas units. */
const GAS_RESERVE = 600_000n;
/**
 * Batches the probe times (after one untimed warm-up batch): one epoch or this many, whichever is
 * less, extrapolated to the epoch. A whole epoch of MNIST (5,600 examples) as a probe took 7.7 s in
 * the e2e bench (22:29), 32 batches 0.8-2.6 s (2026-11-21); the probe only has to say whether one
 * epoch fits and rank tasks (epochs are then decided from the epochs measured while training), so
 * a few batches do.
 */
export const PROBE_BATCHES = 8;
/** Follows the market's events into the state: a posted task to evaluate, the training keys of one followed. */
export function onEvent(ctx: MinerContext, name: string, args: Result): void {
  const { store } = ctx.rt;
  const taskId = args.taskId as bigint;
  if (name === "TaskPosted") {
    if (store.getTask(taskId) !== undefined) return;
    store.putTask(taskId, "posted", { specCid: args.specCid as string, token: getAddress(args.token as string), reward: (args.reward as bigint).toString() } satisfies TaskData);
    ctx.rt.log.info({ taskId, specCid: args.specCid }, `task ${taskId} posted`);
  } else if (name === "TrainingDataUnlocked") {
    const task = store.getTask(taskId);
    if (task === undefined) return;
    const keys = (args.getValue("keys") as Result[]).map((k) => ({ index: Number(k.index), cidHash: k.cidHash as string, key: k.key as string }));
    const testLeaves = (args.getValue("testLeaves") as Result).toArray() as string[];
    store.putTask(taskId, task.phase, { ...task.data, keys, testLeaves });
  }
}

/** posted → eligible or skipped: document, limits, backend, bond; then prefetch and probe. */
export async function evaluate(ctx: MinerContext, taskId: bigint, data: TaskData, t: ChainTask): Promise<void> {
  const skip = (reason: string) => {
    ctx.set(taskId, "skipped", { ...data, reason });
    ctx.say(taskId, `skipped task ${taskId}: ${reason}`, "warn", { reason });
  };
  let doc: TaskDocument;
  const fetchStarted = performance.now();
  try {
    if (!ctx.hasDocument(data.specCid)) await ctx.o.dial?.([]);
    doc = await ctx.document(data.specCid);
    ctx.timing(taskId, "fetch", fetchStarted, { what: "task document" });
  } catch (e) {
    if (isSubmissionError(e) && e.code !== "UNAVAILABLE") return skip(`task document ${data.specCid} is invalid: ${e.message}`);
    throw e;
  }
  const { spec } = doc;
  const { params, flops } = countModel(spec);
  if (ctx.o.maxParams !== undefined && params > ctx.o.maxParams) return skip(`spec "${spec.name}" has ${params} parameters, over --max-params ${ctx.o.maxParams}`);
  if (ctx.o.maxFlops !== undefined && flops > ctx.o.maxFlops) return skip(`spec "${spec.name}" needs ${flops} FLOPs per sample, over --max-flops ${ctx.o.maxFlops}`);
  const missing = missingKernels(spec, ctx.o.backend);
  if (missing.length > 0) return skip(`backend ${ctx.o.backend} lacks ${missing.join(", ")}, which "${spec.name}" needs for training`);
  if (ctx.o.maxBond !== undefined && t.minerBond > ctx.o.maxBond) return skip(`the miner bond ${t.minerBond} is over --max-bond ${ctx.o.maxBond}`);
  const unaffordable = await whyUnaffordable(ctx, t.token, t.minerBond);
  if (unaffordable !== undefined) return skip(unaffordable);

  await ctx.o.dial?.(doc.providers);
  const started = performance.now();
  const progress = createProgress({ label: `fetch task ${taskId}`, total: doc.shardCount, unit: "shards", log: ctx.rt.log, ...ctx.stream() });
  let fetched = 0;
  const bytes = await prefetchShards(ctx.o.store, doc, doc.shards.map((_, i) => i), { timeoutMs: ctx.o.fetchTimeoutMs, onShard: () => progress.update(++fetched) });
  progress.finish();
  ctx.timing(taskId, "fetch", started, { what: "ciphertexts", bytes });

  const trainExamples = trainingExamples(doc);
  const probeStarted = performance.now();
  const probe = await ctx.engine.throughput(spec, Math.max(1, Math.min(PROBE_BATCHES, Math.ceil(trainExamples / fixedOrMin(spec.batchSize)))));
  ctx.timing(taskId, "probe", probeStarted, { samples: probe.samples });
  const epochSeconds = probe.seconds * (trainExamples / probe.samples);
  const workload = declaredWorkload(spec, trainExamples, doc.shards.reduce((n, s) => n + s.bytes, 0));
  ctx.set(taskId, "eligible", {
    ...data,
    probe: { epochSeconds, trainExamples, maxEpochs: Math.min(spec.epochs.max, ctx.o.maxEpochs ?? Infinity) },
    workload: { modelBytes: workload.modelBytes.toString(), dataBytes: workload.dataBytes.toString(), flops: workload.flops.toString() },
  });
  ctx.say(taskId, `task ${taskId} ("${spec.name}"): will mine; ${bytes} bytes of ciphertext prefetched, one epoch ≈ ${epochSeconds.toFixed(2)} s on ${ctx.o.backend}`, "info", { params, flops });
}

/** Why the key cannot pay `bond` (and the gas of a task), or undefined when it can. */
async function whyUnaffordable(ctx: MinerContext, token: string, bond: bigint): Promise<string | undefined> {
  const provider = ctx.rt.chain.provider;
  const fees = await provider.getFeeData();
  const gas = GAS_RESERVE * (fees.maxFeePerGas ?? fees.gasPrice ?? 0n);
  const eth = await provider.getBalance(ctx.address);
  if (token === ZeroAddress) {
    if (eth < bond + gas) return `cannot afford the miner bond: ${bond} wei + about ${gas} wei of gas, ${ctx.address} holds ${eth} wei`;
    return undefined;
  }
  const balance = await tokenBalance(provider, token, ctx.address);
  if (balance < bond) return `cannot afford the miner bond: ${bond} units of token ${token}, ${ctx.address} holds ${balance}`;
  if (eth < gas) return `cannot pay for gas: about ${gas} wei needed, ${ctx.address} holds ${eth} wei`;
  return undefined;
}

/** Training examples: the shards outside the test split, whichever they turn out to be (an estimate before the start). */
function trainingExamples(doc: TaskDocument): number {
  const total = doc.shards.reduce((n, s) => n + s.examples, 0);
  return Math.max(1, Math.round((total * (doc.shardCount - doc.testShards)) / doc.shardCount));
}
