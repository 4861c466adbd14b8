import { Interface, ZeroAddress, getAddress, hexlify, randomBytes, type Result } from "ethers";
import type { AgentRuntime } from "../cli/runtime.js";
import type { EventCursor } from "../chain/cursor.js";
import { EventDecoder } from "../chain/events.js";
import { claimPayouts } from "../chain/payouts.js";
import { isTransientRpcError } from "../chain/retry.js";
import { isAgentError } from "../config/errors.js";
import { createProgress } from "../log/progress.js";
import { measureThroughput, missingKernels, type BackendName } from "../ml/backend.js";
import { getNamedWeights } from "../ml/model.js";
import { stepsPerEpoch } from "../ml/order.js";
import { countModel, fixedOrMin } from "../ml/spec.js";
import { train, type TrainResult } from "../ml/train.js";
import { watermarkReader } from "../ml/watermark.js";
import { modelCommitment } from "../protocol/commitments.js";
import { checkDatasetCommitment } from "../protocol/dataset-tree.js";
import { isProtocolError } from "../protocol/errors.js";
import { splitShards } from "../protocol/split.js";
import { queueExponent, rankingScore, referenceReward, type RankingParams } from "../protocol/ranking.js";
import type { TaskDocument } from "../publisher/document.js";
import { declaredWorkload } from "../publisher/prepare.js";
import type { ContentStore } from "../storage/index.js";
import { fetchShards, fetchTaskDocument, isSubmissionError, prefetchShards, uploadSubmission } from "../submission/index.js";
import { TaskMarket__factory, type TaskMarket } from "../../types/index.js";

/** Market phases as `ITaskMarket.Phase` numbers them. */
const PHASE = { Queued: 1n, Started: 2n, Committing: 3n, Revealing: 4n, Attesting: 5n, Settled: 6n, Cancelled: 7n, Defaulted: 8n, Unvalidated: 9n } as const;
const TERMINAL = new Set<bigint>([PHASE.Settled, PHASE.Cancelled, PHASE.Defaulted, PHASE.Unvalidated]);
const PHASE_NAMES = ["none", "queued", "started", "committing", "revealing", "attesting", "settled", "cancelled", "defaulted", "unvalidated"];

const ERC20 = new Interface([
  "function approve(address spender, uint256 amount) returns (bool)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function balanceOf(address account) view returns (uint256)",
]);

/** Gas kept in reserve for one task's transactions (approve, commit, reveal, withdraw), in gas units. */
const GAS_RESERVE = 600_000n;
/**
 * Time estimates (the probe's epoch, the slowest recent epoch, the post-training work) are taken this
 * much slower than measured, so training ends before the deadline: on this shared 2-core machine, probes of the MNIST MLP on wasm read 5-20 ms per batch against
 * 8.7 ms per step in train() itself (measureThroughput against a two-epoch train(), 22:35).
 */
const TIME_SAFETY = 1.5;
/**
 * Batches the probe times: one epoch or this many, whichever is less, extrapolated to the epoch. A
 * whole epoch of MNIST (5,600 examples) as a probe took 7.7 s in the e2e bench (22:29), a quarter
 * of the training it planned; 32 batches is a third of that epoch.
 */
export const PROBE_BATCHES = 32;
/** Epochs measured in the run whose slowest predicts the next one (the first also builds the model). */
const EPOCH_WINDOW = 3;
/** Seconds kept free for hashing, uploading and sending the commitment before this miner has measured them. */
const POST_FLOOR_SECONDS = 2;
/** Salt purpose under which the model commitment's opening is stored. */
export const MODEL_SALT = "model";

/**
 * The miner's record of a task (`tasks.phase` in its state). posted → eligible (document valid,
 * ciphertexts prefetched, probe measured) → committed (opening stored, commitModel sent) →
 * revealed → done; or skipped (it cannot do the task, with the reason), missed (a window closed
 * first) or failed (a transaction the chain refused).
 */
export type MinerPhase = "posted" | "eligible" | "committed" | "revealed" | "skipped" | "missed" | "failed" | "done";
export const FINAL_PHASES: ReadonlySet<string> = new Set<MinerPhase>(["skipped", "missed", "failed", "done"]);

/** How a miner picks among tasks it can do: DLBC's ranking, or PoLe's reward per expected second. */
export type Strategy = "dlbc" | "pole";

export interface MinerOptions {
  market: string;
  startBlock: number;
  store: ContentStore;
  /** The active TensorFlow.js backend (chosen once at start-up). */
  backend: BackendName;
  strategy: Strategy;
  maxParams?: number;
  maxFlops?: number;
  /** Largest miner bond accepted, in the task token's base units. */
  maxBond?: bigint;
  /** Cap on epochs (the spec's `epochs.max` and the time left cap them too); only a watermark that does not read yet trains past it. */
  maxEpochs?: number;
  /** Seconds before the commit deadline by which the commitment must be sent. */
  commitMarginSeconds: number;
  fetchTimeoutMs: number;
  /** Call `startNext` when a task it wants is queued and the market has room. */
  startTasks: boolean;
  /**
   * Dials `addresses` (a task document's providers) and the configured peers: before a document
   * is fetched (with none: a peer that was down at start may be up now) and before its shards.
   */
  dial?: (addresses: readonly string[]) => Promise<void>;
  /** Where training progress is drawn (default standard error). */
  progressStream?: Parameters<typeof createProgress>[0]["stream"];
}

/** What one step did, for the command's plain-words output. */
export interface StepReport {
  /** Tasks still followed. */
  open: number;
  /** Tasks finished in any way (done, skipped, missed, failed). */
  ended: number;
  events: string[];
}

interface TaskData extends Record<string, unknown> {
  specCid: string;
  token: string;
  reward: string;
  keys?: { index: number; cidHash: string; key: string }[];
  /** The test shards' leaves from `TrainingDataUnlocked` (with the keys they rebuild the dataset commitment). */
  testLeaves?: string[];
  /** One epoch's measured seconds, and the epochs the spec and --max-epochs allow. */
  probe?: { epochSeconds: number; trainExamples: number; maxEpochs: number };
  workload?: { modelBytes: string; dataBytes: string; flops: string };
  reason?: string;
  commitment?: string;
  modelCid?: string;
}

type ChainTask = Awaited<ReturnType<TaskMarket["getTask"]>>;

/**
 * The miner's state machine. Each step follows the market's events, brings every open task up to
 * date with the chain (evaluate, reconcile a commitment, reveal, withdraw), then trains at most one
 * task: the best candidate by the strategy. The opening of a commitment is in the state before
 * `commitModel` is sent, so a miner killed at any point reveals after a restart.
 */
export class Miner {
  readonly market: TaskMarket;
  readonly address: string;
  readonly #rt: AgentRuntime;
  readonly #o: MinerOptions;
  readonly #events: EventDecoder;
  readonly #cursor: EventCursor;
  readonly #documents = new Map<string, TaskDocument>();
  #report: string[] = [];
  /** Seconds the last commitment took after training (hash, upload, transaction); 0 until measured. */
  #postSeconds = 0;

  constructor(rt: AgentRuntime, options: MinerOptions) {
    this.#rt = rt;
    this.#o = options;
    this.address = rt.wallet.address;
    this.market = TaskMarket__factory.connect(options.market, rt.chain.provider);
    this.#events = new EventDecoder([{ address: options.market, iface: this.market.interface }]);
    this.#cursor = rt.cursor("market", { address: this.#events.addresses, startBlock: options.startBlock });
  }

  async step(): Promise<StepReport> {
    this.#report = [];
    await this.#cursor.poll(async (log) => {
      const event = this.#events.decode(log);
      if (event !== undefined) this.#onEvent(event.name, event.args);
    });
    for (const task of this.#open()) {
      try {
        await this.#advance(task.taskId, task.phase as MinerPhase, task.data as TaskData);
      } catch (e) {
        // A network failure is retried next step; anything else is a bug and ends the agent.
        if (!isRetryable(e)) throw e;
        this.#rt.log.warn({ taskId: task.taskId, err: (e as Error).message }, `task ${task.taskId}: ${(e as Error).message}; will retry`);
      }
    }
    const candidate = await this.#choose();
    if (candidate !== undefined) {
      try {
        await this.#mine(candidate.taskId, candidate.data);
      } catch (e) {
        if (!isRetryable(e)) throw e;
        this.#rt.log.warn({ taskId: candidate.taskId, err: (e as Error).message }, `task ${candidate.taskId}: ${(e as Error).message}; will retry`);
      }
    } else if (this.#o.startTasks) {
      await this.#maybeStart();
    }
    const all = this.#rt.store.listTasks();
    const ended = all.filter((t) => FINAL_PHASES.has(t.phase)).length;
    return { open: all.length - ended, ended, events: this.#report };
  }

  #open() {
    return this.#rt.store.listTasks().filter((t) => !FINAL_PHASES.has(t.phase));
  }

  #say(taskId: bigint, message: string, level: "info" | "warn" | "error" = "info", fields: Record<string, unknown> = {}): void {
    this.#rt.log[level]({ taskId, ...fields }, message);
    this.#report.push(message);
  }

  #onEvent(name: string, args: Result): void {
    const { store } = this.#rt;
    const taskId = args.taskId as bigint;
    if (name === "TaskPosted") {
      if (store.getTask(taskId) !== undefined) return;
      store.putTask(taskId, "posted", { specCid: args.specCid as string, token: getAddress(args.token as string), reward: (args.reward as bigint).toString() } satisfies TaskData);
      this.#rt.log.info({ taskId, specCid: args.specCid }, `task ${taskId} posted`);
    } else if (name === "TrainingDataUnlocked") {
      const task = store.getTask(taskId);
      if (task === undefined) return;
      const keys = (args.getValue("keys") as Result[]).map((k) => ({ index: Number(k.index), cidHash: k.cidHash as string, key: k.key as string }));
      const testLeaves = (args.getValue("testLeaves") as Result).toArray() as string[];
      store.putTask(taskId, task.phase, { ...task.data, keys, testLeaves });
    }
  }

  async #advance(taskId: bigint, phase: MinerPhase, data: TaskData): Promise<void> {
    const t = await this.market.getTask(taskId);
    const next = await this.#nextTimestamp();
    if (TERMINAL.has(t.phase)) return await this.#finish(taskId, phase, data, t);
    switch (phase) {
      case "posted":
        if (t.phase >= PHASE.Revealing) {
          this.#set(taskId, "missed", { ...data, reason: "its commit window had closed when this miner saw it" });
          this.#say(taskId, `missed task ${taskId}: its commit window had closed when this miner saw it`, "warn");
          return;
        }
        return await this.#evaluate(taskId, data, t);
      case "eligible":
        if (t.phase >= PHASE.Revealing || (t.commitDeadline !== 0n && next + BigInt(this.#o.commitMarginSeconds) > t.commitDeadline)) {
          this.#set(taskId, "missed", { ...data, reason: "the commit deadline came before it could train" });
          this.#say(taskId, `missed task ${taskId}: the commit deadline came before it could train`, "warn");
        }
        return;
      case "committed":
        return await this.#reconcile(taskId, data, t, next);
      case "revealed":
        // A reveal needs the test keys, so a revealed task can no longer default; settlement ends it.
        return;
      default:
        return;
    }
  }

  /** posted → eligible or skipped: document, limits, backend, bond; then prefetch and probe. */
  async #evaluate(taskId: bigint, data: TaskData, t: ChainTask): Promise<void> {
    const skip = (reason: string) => {
      this.#set(taskId, "skipped", { ...data, reason });
      this.#say(taskId, `skipped task ${taskId}: ${reason}`, "warn", { reason });
    };
    let doc: TaskDocument;
    const fetchStarted = performance.now();
    try {
      if (!this.#documents.has(data.specCid)) await this.#o.dial?.([]);
      doc = await this.#document(data.specCid);
      this.#timing(taskId, "fetch", fetchStarted, { what: "task document" });
    } catch (e) {
      if (isSubmissionError(e) && e.code !== "UNAVAILABLE") return skip(`task document ${data.specCid} is invalid: ${e.message}`);
      throw e;
    }
    const { spec } = doc;
    const { params, flops } = countModel(spec);
    if (this.#o.maxParams !== undefined && params > this.#o.maxParams) return skip(`spec "${spec.name}" has ${params} parameters, over --max-params ${this.#o.maxParams}`);
    if (this.#o.maxFlops !== undefined && flops > this.#o.maxFlops) return skip(`spec "${spec.name}" needs ${flops} FLOPs per sample, over --max-flops ${this.#o.maxFlops}`);
    const missing = missingKernels(spec, this.#o.backend);
    if (missing.length > 0) return skip(`backend ${this.#o.backend} lacks ${missing.join(", ")}, which "${spec.name}" needs for training`);
    if (this.#o.maxBond !== undefined && t.minerBond > this.#o.maxBond) return skip(`the miner bond ${t.minerBond} is over --max-bond ${this.#o.maxBond}`);
    const unaffordable = await this.#unaffordable(t.token, t.minerBond);
    if (unaffordable !== undefined) return skip(unaffordable);

    await this.#o.dial?.(doc.providers);
    const started = performance.now();
    const progress = createProgress({ label: `fetch task ${taskId}`, total: doc.shardCount, unit: "shards", log: this.#rt.log, ...this.#stream() });
    let fetched = 0;
    const bytes = await prefetchShards(this.#o.store, doc, doc.shards.map((_, i) => i), { timeoutMs: this.#o.fetchTimeoutMs, onShard: () => progress.update(++fetched) });
    progress.finish();
    this.#timing(taskId, "fetch", started, { what: "ciphertexts", bytes });

    const trainExamples = trainingExamples(doc);
    const probeStarted = performance.now();
    const probe = await measureThroughput(spec, this.#o.backend, Math.min(trainExamples, PROBE_BATCHES * fixedOrMin(spec.batchSize)));
    this.#timing(taskId, "probe", probeStarted, { samples: probe.samples });
    const epochSeconds = probe.seconds * (trainExamples / probe.samples);
    const workload = declaredWorkload(spec, trainExamples, doc.shards.reduce((n, s) => n + s.bytes, 0));
    this.#set(taskId, "eligible", {
      ...data,
      probe: { epochSeconds, trainExamples, maxEpochs: Math.min(spec.epochs.max, this.#o.maxEpochs ?? Infinity) },
      workload: { modelBytes: workload.modelBytes.toString(), dataBytes: workload.dataBytes.toString(), flops: workload.flops.toString() },
    });
    this.#say(taskId, `task ${taskId} ("${spec.name}"): will mine; ${bytes} bytes of ciphertext prefetched, one epoch ≈ ${epochSeconds.toFixed(2)} s on ${this.#o.backend}`, "info", { params, flops });
  }

  /** Why the key cannot pay `bond` (and the gas of a task), or undefined when it can. */
  async #unaffordable(token: string, bond: bigint): Promise<string | undefined> {
    const provider = this.#rt.chain.provider;
    const fees = await provider.getFeeData();
    const gas = GAS_RESERVE * (fees.maxFeePerGas ?? fees.gasPrice ?? 0n);
    const eth = await provider.getBalance(this.address);
    if (token === ZeroAddress) {
      if (eth < bond + gas) return `cannot afford the miner bond: ${bond} wei + about ${gas} wei of gas, ${this.address} holds ${eth} wei`;
      return undefined;
    }
    const balance = ERC20.decodeFunctionResult("balanceOf", await provider.call({ to: token, data: ERC20.encodeFunctionData("balanceOf", [this.address]) }))[0] as bigint;
    if (balance < bond) return `cannot afford the miner bond: ${bond} units of token ${token}, ${this.address} holds ${balance}`;
    if (eth < gas) return `cannot pay for gas: about ${gas} wei needed, ${this.address} holds ${eth} wei`;
    return undefined;
  }

  /** The next task to train: committing, keys out, not yet committed to; the strategy's best. */
  async #choose(): Promise<{ taskId: bigint; data: TaskData } | undefined> {
    const next = await this.#nextTimestamp();
    const ready: { taskId: bigint; data: TaskData; t: ChainTask }[] = [];
    for (const task of this.#rt.store.listTasks("eligible")) {
      const data = task.data as TaskData;
      if (data.keys === undefined) continue;
      const t = await this.market.getTask(task.taskId);
      if (t.phase !== PHASE.Committing || next + BigInt(this.#o.commitMarginSeconds) > t.commitDeadline) continue;
      ready.push({ taskId: task.taskId, data, t });
    }
    if (ready.length <= 1) return ready[0];
    // Rewards in reference units (the market's ranking, issue 9 finding 13); a token delisted since its
    // post has no scale any more and counts at par.
    const scales = new Map<string, bigint>();
    for (const c of ready) if (!scales.has(c.t.token)) scales.set(c.t.token, (await this.market.rewardToken(c.t.token)).unitScale);
    const order = orderCandidates(
      this.#o.strategy,
      ready.map((c) => {
        const w = c.data.workload!;
        const scale = scales.get(c.t.token)!;
        return {
          taskId: c.taskId,
          reward: scale === 0n ? c.t.reward : referenceReward(c.t.reward, scale),
          modelBytes: BigInt(w.modelBytes),
          dataBytes: BigInt(w.dataBytes),
          flops: BigInt(w.flops),
          trainSeconds: c.data.probe!.epochSeconds * this.#plannedEpochs(c.data, c.t, next),
        };
      }),
      await this.market.params(),
    );
    this.#rt.log.info({ strategy: this.#o.strategy, order }, `strategy ${this.#o.strategy} picks task ${order[0]}`);
    return ready.find((c) => c.taskId === order[0]);
  }

  /** Epochs that fit before the commit margin at the probe's speed (0: none fits). */
  #plannedEpochs(data: TaskData, t: ChainTask, next: bigint): number {
    const seconds = Number(t.commitDeadline - next) - this.#o.commitMarginSeconds;
    const fit = Math.floor(seconds / (data.probe!.epochSeconds * TIME_SAFETY));
    return Math.max(0, Math.min(data.probe!.maxEpochs, fit));
  }

  /** Decrypt, train, upload, store the opening, commit. */
  async #mine(taskId: bigint, data: TaskData): Promise<void> {
    const state = this.#rt.store;
    const t = await this.market.getTask(taskId);
    const doc = await this.#document(data.specCid);
    const { spec } = doc;
    if (this.#plannedEpochs(data, t, await this.#nextTimestamp()) < 1) {
      this.#set(taskId, "missed", { ...data, reason: "not one epoch fits before the commit deadline" });
      this.#say(taskId, `missed task ${taskId}: not one epoch fits before the commit deadline (one epoch ≈ ${data.probe!.epochSeconds.toFixed(2)} s)`, "warn");
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
      this.#set(taskId, "skipped", { ...data, reason: `dataset commitment mismatch: ${e.message}` });
      this.#say(taskId, `refused task ${taskId}: the unlocked keys do not match the dataset commitment (${e.message}); not committing`, "error");
      return;
    }
    let started = performance.now();
    const dataset = await fetchShards(this.#o.store, doc, keys.map((k) => k.index), keys, { timeoutMs: this.#o.fetchTimeoutMs });
    this.#timing(taskId, "decrypt", started, { examples: dataset.n });

    // Time for training: the commit margin and the post-training work (hash, upload, commitment) stay free.
    const postMs = Math.max(POST_FLOOR_SECONDS, this.#postSeconds * TIME_SAFETY) * 1000;
    const budgetMs = (Number(t.commitDeadline - (await this.#nextTimestamp())) - this.#o.commitMarginSeconds) * 1000 - postMs;
    started = performance.now();
    this.#say(taskId, `training task ${taskId} ("${spec.name}") for up to ${cap} epoch(s) on ${dataset.n} examples`, "info", { cap, backend: this.#o.backend });
    let run: TrainResult;
    const perEpoch = stepsPerEpoch(dataset.n, fixedOrMin(spec.batchSize));
    const progress = createProgress({ label: `train task ${taskId}`, total: perEpoch * cap, unit: "steps", log: this.#rt.log, ...this.#stream() });
    // Epochs are decided as they go, from the epochs measured in this run (the probe only said one
    // fits): another one starts while the slowest of the last few, with the safety factor, fits the
    // budget. A model whose watermark does not read scores 0 (verifySubmission, reason watermark): at
    // the cap the miner reads its own watermark and trains on, up to the spec's epochs.max, until it reads.
    const readWatermark = watermarkReader(spec, t.seed, this.address);
    const epochMs: number[] = [];
    let last = started;
    let stopped = "epochs.max";
    try {
      run = await train(spec, {
        seed: t.seed,
        miner: this.address,
        data: dataset,
        hyper: { epochs: spec.epochs.max },
        onProgress: (e) => {
          if (e.type === "epoch") progress.update(e.step, `loss ${e.loss.toFixed(4)}`);
        },
        stopAfterEpoch: async ({ epoch, model }) => {
          const now = performance.now();
          epochMs.push(now - last);
          last = now;
          const trained = epoch + 1;
          const fits = now - started + Math.max(...epochMs.slice(-EPOCH_WINDOW)) * TIME_SAFETY <= budgetMs;
          if (trained < cap && fits) return false;
          const reading = readWatermark(await getNamedWeights(model));
          last = performance.now();
          if (!fits) stopped = "deadline";
          if (reading.detected || !fits) return true;
          if (trained === cap) {
            this.#rt.log.info({ taskId, epochs: trained, matches: reading.matches, bits: reading.bits }, `task ${taskId}: watermark not embedded after ${trained} epoch(s) (${reading.matches}/${reading.bits} bits); training on`);
          }
          return false;
        },
      });
    } finally {
      progress.finish();
    }
    run.model.dispose();
    const trainSeconds = (performance.now() - started) / 1000;
    this.#timing(taskId, "train", started, { steps: run.steps, epochs: run.hyper.epochs, cap, stopped, loss: run.history.at(-1)?.loss });
    this.#rt.log.info({ taskId, epochs: run.hyper.epochs, cap, stopped, seconds: trainSeconds }, `task ${taskId}: trained ${run.hyper.epochs} epoch(s) in ${trainSeconds.toFixed(1)} s; stopped: ${stopped}`);

    const watermark = readWatermark(run.weights);
    if (!watermark.detected) {
      const reason =
        `its model's watermark did not embed: ${watermark.matches}/${watermark.bits} bits after ${run.hyper.epochs} epoch(s) (p = ${watermark.pValue.toExponential(2)}), ` +
        `and every verifier would score that model 0; not committing to it, no bond posted`;
      this.#set(taskId, "skipped", { ...data, reason });
      this.#say(taskId, `skipped task ${taskId}: ${reason}`, "warn", { reason, matches: watermark.matches, bits: watermark.bits, epochs: run.hyper.epochs });
      return;
    }

    const postStarted = performance.now();
    const up = await uploadSubmission(this.#o.store, spec, run, { taskId, seed: t.seed, miner: this.address });
    this.#rt.log.info({ taskId, phase: "hash", seconds: up.seconds.hash, checkpoints: up.checkpointCids.length }, "timing");
    this.#rt.log.info({ taskId, phase: "upload", seconds: up.seconds.upload, modelCid: up.modelCid, bytes: up.bytes.byteLength }, "timing");

    if ((await this.#nextTimestamp()) > t.commitDeadline) {
      this.#set(taskId, "missed", { ...data, reason: "training ended after the commit deadline" });
      this.#say(taskId, `missed task ${taskId}: training ended after the commit deadline`, "warn");
      return;
    }
    const salt = hexlify(randomBytes(32));
    const commitment = modelCommitment({
      market: this.#o.market,
      chainId: this.#rt.chain.chainId,
      taskId,
      miner: this.address,
      modelHash: up.modelHash,
      checkpointRoot: up.checkpointRoot,
      salt,
    });
    // Write-ahead: the opening is on disk before the commitment can reach the chain.
    state.putSalt({ taskId, purpose: MODEL_SALT, commitment, salt, data: { modelCid: up.modelCid, modelHash: up.modelHash, checkpointRoot: up.checkpointRoot, manifestCid: up.manifestCid } });
    const committed = { ...data, commitment, modelCid: up.modelCid };
    this.#set(taskId, "committed", committed);
    started = performance.now();
    await this.#sendCommit(taskId, committed, t);
    this.#timing(taskId, "tx", started, { tx: "commitModel" });
    this.#postSeconds = (performance.now() - postStarted) / 1000;
  }

  async #sendCommit(taskId: bigint, data: TaskData, t: ChainTask): Promise<void> {
    const { sender } = this.#rt;
    try {
      if (t.token !== ZeroAddress) {
        const allowance = ERC20.decodeFunctionResult(
          "allowance",
          await this.#rt.chain.provider.call({ to: t.token, data: ERC20.encodeFunctionData("allowance", [this.address, this.#o.market]) }),
        )[0] as bigint;
        if (allowance < t.minerBond) {
          await sender.send({ to: t.token, data: ERC20.encodeFunctionData("approve", [this.#o.market, t.minerBond]), label: `approve the miner bond of task ${taskId}`, iface: ERC20 });
        }
      }
      const sent = await sender.call(this.market, "commitModel", [taskId, data.commitment], {
        ...(t.token === ZeroAddress ? { value: t.minerBond } : {}),
        label: `commitModel task ${taskId}`,
      });
      this.#say(taskId, `committed to a model for task ${taskId} (bond ${t.minerBond})`, "info", { txHash: sent.hash, modelCid: data.modelCid });
    } catch (e) {
      if (isAgentError(e, "TX_REVERTED") || isAgentError(e, "INSUFFICIENT_FUNDS")) {
        // Nothing reached the chain (a revert at estimation or on chain, or no funds): say why and stop.
        if (!(await this.market.isMiner(taskId, this.address))) {
          this.#set(taskId, "failed", { ...data, reason: e.message });
          this.#say(taskId, `failed task ${taskId}: commitModel: ${e.message} [${e.code}]`, "error", { code: e.code });
          return;
        }
      }
      throw e;
    }
  }

  /** A commitment in the state: make sure the chain has it, reveal when the window opens. */
  async #reconcile(taskId: bigint, data: TaskData, t: ChainTask, next: bigint): Promise<void> {
    const opening = this.#rt.store.getSalt(taskId, MODEL_SALT, data.commitment);
    if (opening === undefined) throw new Error(`task ${taskId}: phase committed without a stored opening`);
    if (!(await this.market.isMiner(taskId, this.address))) {
      if (next <= t.commitDeadline && t.phase === PHASE.Committing) {
        this.#rt.log.info({ taskId }, `task ${taskId}: the commitment is not on chain yet; sending it again`);
        return await this.#sendCommit(taskId, data, t);
      }
      this.#set(taskId, "missed", { ...data, reason: "the commitment never reached the chain before the deadline" });
      this.#say(taskId, `missed task ${taskId}: the commitment never reached the chain before the deadline`, "error");
      return;
    }
    if (next <= t.commitDeadline) return;
    if (t.testUnlockedAt === 0n) {
      // Reveals open only with the test keys (TestDataUnlocked), so a publisher who defaults has seen
      // no model. The publisher withheld them: the default path returns our bond with a share of the
      // publisher bond; anyone may trigger it.
      if (next > t.testKeyDeadline) await this.#tryCall(taskId, "timeoutTestKeys", [taskId]);
      return;
    }
    const revealed = (await this.market.getRevealed(taskId)).some((s) => getAddress(s.miner) === this.address);
    if (revealed) {
      this.#set(taskId, "revealed", data);
      return;
    }
    if (next > t.revealDeadline) {
      this.#set(taskId, "missed", { ...data, reason: "the reveal window closed; the bond is forfeit" });
      this.#say(taskId, `missed task ${taskId}: the reveal window closed before it revealed; the bond is forfeit`, "error");
      return;
    }
    const o = opening.data as { modelCid: string; modelHash: string; checkpointRoot: string };
    if (!(await this.#o.store.has(o.modelCid))) {
      this.#rt.log.error({ taskId, modelCid: o.modelCid }, `task ${taskId}: the artifact is no longer in the local IPFS store; validators will not find it`);
    }
    const started = performance.now();
    let sent;
    try {
      sent = await this.#rt.sender.call(this.market, "revealModel", [taskId, o.modelCid, o.modelHash, o.checkpointRoot, opening.salt], { label: `revealModel task ${taskId}` });
    } catch (e) {
      // A block a second early (TooEarly) or a reveal that landed unseen: the next step reads the chain again.
      if (!isAgentError(e, "TX_REVERTED")) throw e;
      this.#rt.log.warn({ taskId, err: e.message }, `task ${taskId}: revealModel reverted; will look again`);
      return;
    }
    this.#timing(taskId, "tx", started, { tx: "revealModel" });
    this.#set(taskId, "revealed", data);
    this.#say(taskId, `revealed model ${o.modelCid} for task ${taskId}`, "info", { txHash: sent.hash });
  }

  /** The task ended on chain: withdraw what it credited us, then stop following it. */
  async #finish(taskId: bigint, phase: MinerPhase, data: TaskData, t: ChainTask): Promise<void> {
    const ended = PHASE_NAMES[Number(t.phase)]!;
    if (phase === "committed" || phase === "revealed") {
      if (t.phase === PHASE.Defaulted) await this.#claimDefaultShare(taskId);
      else await claimPayouts(this.market, this.#rt.sender, taskId, this.address);
      const credit = await this.market.creditOf(this.address, t.token);
      if (credit > 0n) {
        const started = performance.now();
        try {
          const sent = await this.#rt.sender.call(this.market, "withdraw", [t.token], { label: `withdraw after task ${taskId}` });
          this.#timing(taskId, "tx", started, { tx: "withdraw" });
          this.#say(taskId, `task ${taskId} ${ended}: withdrew ${credit} ${t.token === ZeroAddress ? "wei" : `units of ${t.token}`}`, "info", { txHash: sent.hash, credit });
        } catch (e) {
          // Another task's withdrawal may have taken this token's whole credit already.
          if (!isAgentError(e, "TX_REVERTED") || (await this.market.creditOf(this.address, t.token)) > 0n) throw e;
        }
      } else {
        this.#say(taskId, `task ${taskId} ${ended}: no credit left to withdraw (a withdrawal after another task in the same token took it, or the bond was forfeit)`);
      }
    } else {
      this.#say(taskId, `task ${taskId} ${ended} before this miner committed`);
    }
    this.#set(taskId, "done", { ...data, ended });
  }

  /** A defaulted task: our bond and our share of the publisher bond become a credit. */
  async #claimDefaultShare(taskId: bigint): Promise<void> {
    try {
      const sent = await this.#rt.sender.call(this.market, "claimDefaultShare", [taskId], { label: `claimDefaultShare task ${taskId}` });
      this.#say(taskId, `task ${taskId} defaulted: claimed the bond and a share of the publisher bond`, "info", { txHash: sent.hash });
    } catch (e) {
      // Claimed already (a restart after the claim landed): the credit is there to withdraw.
      if (!isAgentError(e, "TX_REVERTED")) throw e;
      this.#rt.log.info({ taskId, err: e.message }, `task ${taskId}: default share not claimable (claimed already)`);
    }
  }

  /** Starts the best queued task when one of ours waits in the queue and the market has room. */
  async #maybeStart(): Promise<void> {
    const waiting = this.#rt.store.listTasks("eligible").filter((t) => (t.data as TaskData).keys === undefined);
    if (waiting.length === 0) return;
    const [queued, active, params] = await Promise.all([this.market.queueLength(), this.market.activeCount(), this.market.params()]);
    if (queued === 0n || active >= params.maxActive) return;
    const phases = await Promise.all(waiting.map((t) => this.market.getTask(t.taskId)));
    if (!phases.some((t) => t.phase === PHASE.Queued)) return;
    await this.#tryCall(undefined, "startNext", []);
  }

  /**
   * A permissionless call someone else may make first (a race lost to another keeper). It is
   * opportunistic: whatever stops it is logged and the next step looks again.
   */
  async #tryCall(taskId: bigint | undefined, method: "startNext" | "timeoutTestKeys", args: unknown[]): Promise<void> {
    try {
      const sent = await this.#rt.sender.call(this.market, method, args, { label: taskId === undefined ? method : `${method} task ${taskId}` });
      this.#rt.log.info({ taskId, txHash: sent.hash }, `${method} sent`);
    } catch (e) {
      const reverted = isAgentError(e, "TX_REVERTED");
      this.#rt.log[reverted ? "debug" : "warn"]({ taskId, err: (e as Error).message }, `${method} not possible now`);
    }
  }

  async #document(specCid: string): Promise<TaskDocument> {
    const cached = this.#documents.get(specCid);
    if (cached !== undefined) return cached;
    const doc = await fetchTaskDocument(this.#o.store, specCid, { timeoutMs: this.#o.fetchTimeoutMs });
    this.#documents.set(specCid, doc);
    return doc;
  }

  #set(taskId: bigint, phase: MinerPhase, data: TaskData): void {
    this.#rt.store.putTask(taskId, phase, data);
  }

  /**
   * The earliest timestamp a transaction sent now can land with: after the latest block, and not
   * before the wall clock (a node that mines on demand leaves the latest block's time behind).
   */
  async #nextTimestamp(): Promise<bigint> {
    const latest = BigInt((await this.#rt.chain.provider.getBlock("latest"))!.timestamp);
    const wall = BigInt(Math.floor(Date.now() / 1000));
    return latest + 1n > wall ? latest + 1n : wall;
  }

  #timing(taskId: bigint, phase: string, started: number, extra: Record<string, unknown> = {}): void {
    this.#rt.log.info({ taskId, phase, seconds: (performance.now() - started) / 1000, ...extra }, "timing");
  }

  #stream() {
    return this.#o.progressStream === undefined ? {} : { stream: this.#o.progressStream };
  }
}

/** A task the miner could train now, as the strategies see it. */
export interface Candidate {
  taskId: bigint;
  /** In reference units (`referenceReward`: wei for ETH). */
  reward: bigint;
  /** Declared workload (DLBC's dn and dc), from the task document. */
  modelBytes: bigint;
  dataBytes: bigint;
  flops: bigint;
  /** Expected training time at the probe's speed for the epochs it would train. */
  trainSeconds: number;
}

/**
 * Candidates best first. `dlbc`: the market's ranking, lowest DLBC score first (ranking.ts, q at
 * this many candidates). `pole`: highest reward per expected second, the ciphertexts' transfer at
 * the market's median bandwidth plus the measured training time. Rewards are in reference units
 * (`referenceReward`, as the market ranks them), so tasks in different tokens compare by value. Ties go
 * to the lower task id.
 */
export function orderCandidates(strategy: Strategy, candidates: readonly Candidate[], params: RankingParams): bigint[] {
  const q = queueExponent(BigInt(candidates.length), params.maxQueue, params.rankScale);
  const value = (c: Candidate): number =>
    strategy === "dlbc"
      ? -rankingScore(c, params, q)
      : Number(c.reward) / 1e18 / Math.max(Number(c.dataBytes) / Number(params.medianBandwidth) + c.trainSeconds, 1e-3);
  return [...candidates].sort((a, b) => value(b) - value(a) || (a.taskId < b.taskId ? -1 : 1)).map((c) => c.taskId);
}

/** Training examples: the shards outside the test split, whichever they turn out to be (an estimate before the start). */
function trainingExamples(doc: TaskDocument): number {
  const total = doc.shards.reduce((n, s) => n + s.examples, 0);
  return Math.max(1, Math.round((total * (doc.shardCount - doc.testShards)) / doc.shardCount));
}

/** Failures the next step may not meet: the network (RPC or IPFS) or a receipt that did not come in time. */
export function isRetryable(e: unknown): boolean {
  return isAgentError(e, "RPC_UNAVAILABLE") || isAgentError(e, "TX_TIMEOUT") || isSubmissionError(e, "UNAVAILABLE") || isTransientRpcError(e);
}
