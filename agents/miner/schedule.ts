import { stepsPerEpoch } from "../ml/order.js";
import { fixedOrMin } from "../ml/spec.js";
import { watermarkReader } from "../ml/watermark.js";
import { createProgress } from "../log/progress.js";
import { checkDatasetCommitment } from "../protocol/dataset-tree.js";
import { isProtocolError } from "../protocol/errors.js";
import { splitShards } from "../protocol/split.js";
import { fetchShards } from "../protocol/submission.js";
import type { EngineResult } from "../ml/engine.js";
import type { TaskDocument } from "../protocol/task-document.js";
import type { ChainTask, MinerContext, TaskData } from "./context.js";

/**
 * Time estimates (the probe's epoch, the slowest recent epoch, the post-training work) are taken this
 * much slower than measured, so training ends before the deadline: on this shared 2-core machine, probes of the MNIST MLP on wasm read 5-20 ms per batch against
 * 8.7 ms per step in train() itself (measureThroughput against a two-epoch train(), 22:35).
 */
const TIME_SAFETY = 1.5;
/** Epochs measured in the run whose slowest predicts the next one (the first also builds the model). */
const EPOCH_WINDOW = 3;
/** Seconds kept free for hashing, uploading and sending the commitment before this miner has measured them. */
const POST_FLOOR_SECONDS = 2;
/** Epochs that fit before the commit margin at the probe's speed (0: none fits). */
export function plannedEpochs(ctx: MinerContext, data: TaskData, t: ChainTask, next: bigint): number {
  const seconds = Number(t.commitDeadline - next) - ctx.commitMargin();
  const fit = Math.floor(seconds / (data.probe!.epochSeconds * TIME_SAFETY));
  return Math.max(0, Math.min(data.probe!.maxEpochs, fit));
}

/**
 * Trains a chosen task within its schedule: checks that an epoch fits and that the unlocked keys
 * rebuild the dataset commitment, decrypts, then trains epoch by epoch while the slowest recent
 * epoch fits the time left before the commit margin, and reads the model's own watermark. Returns
 * the run, or undefined when the task ended here (missed or skipped, with the reason in the state).
 */
export async function trainTask(ctx: MinerContext, taskId: bigint, data: TaskData, t: ChainTask, doc: TaskDocument, signal: AbortSignal): Promise<EngineResult | undefined> {
  const { spec } = doc;
  if (plannedEpochs(ctx, data, t, await ctx.nextTimestamp()) < 1) {
    ctx.set(taskId, "missed", { ...data, reason: "not one epoch fits before the commit deadline" });
    ctx.say(taskId, `missed task ${taskId}: not one epoch fits before the commit deadline (one epoch ≈ ${data.probe!.epochSeconds.toFixed(2)} s)`, "warn");
    return;
  }
  const cap = data.probe!.maxEpochs;

  const keys = data.keys!;
  // One leaf per shard index: the keys with the test leaves must rebuild the task's dataset commitment,
  // with the CIDs the task document names; otherwise the publisher could swap data after the split.
  try {
    checkDatasetCommitment({
      datasetRoot: t.datasetRoot,
      cids: doc.shards.map((sh) => sh.cid),
      testIndices: splitShards(t.seed, Number(t.shardCount), Number(t.testShards)).test,
      keys: keys.map((k) => ({ ...k, index: BigInt(k.index) })),
      testLeaves: data.testLeaves ?? [],
    });
  } catch (e) {
    if (!isProtocolError(e, "DATASET_COMMITMENT_MISMATCH")) throw e;
    ctx.set(taskId, "skipped", { ...data, reason: `dataset commitment mismatch: ${e.message}` });
    ctx.say(taskId, `refused task ${taskId}: the unlocked keys do not match the dataset commitment (${e.message}); not committing`, "error");
    return;
  }
  let started = performance.now();
  const dataset = await fetchShards(ctx.o.store, doc, keys.map((k) => k.index), keys, { timeoutMs: ctx.o.fetchTimeoutMs });
  ctx.timing(taskId, "decrypt", started, { examples: dataset.n });

  // Time for training: the commit margin and the post-training work (hash, upload, commitment) stay free.
  const postMs = Math.max(POST_FLOOR_SECONDS, ctx.postSeconds * TIME_SAFETY) * 1000;
  const budgetMs = (Number(t.commitDeadline - (await ctx.nextTimestamp())) - ctx.commitMargin()) * 1000 - postMs;
  started = performance.now();
  ctx.say(taskId, `training task ${taskId} ("${spec.name}") for up to ${cap} epoch(s) on ${dataset.n} examples`, "info", { cap, backend: ctx.o.backend, commitMarginSeconds: ctx.commitMargin() });
  let run: EngineResult;
  const perEpoch = stepsPerEpoch(dataset.n, fixedOrMin(spec.batchSize));
  const progress = createProgress({ label: `train task ${taskId}`, total: perEpoch * cap, unit: "steps", log: ctx.rt.log, ...ctx.stream() });
  // Epochs are decided as they go, from the epochs measured in this run (the probe only said one
  // fits): another one starts while the slowest of the last few, with the safety factor, fits the
  // budget. A model whose watermark does not read scores 0 (verifySubmission, reason watermark): at
  // the cap the engine reads the miner's own watermark and trains on, up to the spec's epochs.max,
  // until it reads. The engine is cancelled outright when the commitment could no longer be sent.
  const readWatermark = watermarkReader(spec, t.seed, ctx.address);
  const hardMs = Number(t.commitDeadline - (await ctx.nextTimestamp()) - BigInt(ctx.commitMargin())) * 1000;
  const cancel = AbortSignal.any([signal, AbortSignal.timeout(Math.max(0, hardMs))]);
  try {
    run = await ctx.engine.train(
      { spec, data: dataset, seed: t.seed, miner: ctx.address, stop: { epochs: cap, maxEpochs: spec.epochs.max, deadline: Date.now() + budgetMs, epochWindow: EPOCH_WINDOW, safety: TIME_SAFETY, untilWatermark: true } },
      { signal: cancel, onEvent: (e) => e.type === "epoch" && progress.update(e.step, `loss ${e.loss.toFixed(4)}`) },
    );
  } catch (e) {
    if (signal.aborted || !cancel.aborted) throw e;
    ctx.set(taskId, "missed", { ...data, reason: "training was cancelled at the commit deadline" });
    ctx.say(taskId, `missed task ${taskId}: training was cancelled at the commit deadline`, "warn");
    return;
  } finally {
    progress.finish();
  }
  const { stopped } = run;
  const trainSeconds = (performance.now() - started) / 1000;
  ctx.timing(taskId, "train", started, { steps: run.steps, epochs: run.hyper.epochs, cap, stopped, loss: run.history.at(-1)?.loss, engine: run.backend });
  ctx.rt.log.info({ taskId, epochs: run.hyper.epochs, cap, stopped, seconds: trainSeconds }, `task ${taskId}: trained ${run.hyper.epochs} epoch(s) in ${trainSeconds.toFixed(1)} s; stopped: ${stopped}`);

  const watermark = readWatermark(run.weights);
  if (!watermark.detected) {
    const reason =
      `its model's watermark did not embed: ${watermark.matches}/${watermark.bits} bits after ${run.hyper.epochs} epoch(s) (p = ${watermark.pValue.toExponential(2)}), ` +
      `and every verifier would score that model 0; not committing to it, no bond posted`;
    ctx.set(taskId, "skipped", { ...data, reason });
    ctx.say(taskId, `skipped task ${taskId}: ${reason}`, "warn", { reason, matches: watermark.matches, bits: watermark.bits, epochs: run.hyper.epochs });
    return;
  }
  return run;
}
