import { ZeroAddress, formatEther, formatUnits, getAddress, keccak256, toUtf8Bytes } from "ethers";
import { approveIfNeeded, tokenBalance } from "../core/erc20.js";
import type { AgentRuntime } from "../core/runtime.js";
import { seedDue, sendMarketCall } from "../keeper/index.js";
import type { EventCursor } from "../chain/cursor.js";
import { EventDecoder } from "../chain/events.js";
import { decodeRevert, revertData } from "../chain/revert.js";
import { shortMessage, sleep } from "../chain/retry.js";
import { AgentError, isAgentError } from "../config/errors.js";
import { buildDatasetCommitment, shardKeys, trainingUnlock, type ShardSecret } from "../protocol/dataset-tree.js";
import { PHASE, PHASE_NAMES, TERMINAL_PHASES } from "../protocol/phases.js";
import { splitShards } from "../protocol/split.js";
import { TaskMarket__factory, type TaskMarket } from "../../types/index.js";
import type { ITaskMarket } from "../../types/contracts/TaskMarket.js";
import type { Publication } from "./prepare.js";
import { setUrgent, waitForOpening } from "../core/deadline.js";
import { unlockMarginSeconds, warnUnlockAtRisk } from "./deadline.js";
import { seedForUnlock } from "./seed.js";

/** What a publisher asks for beyond the prepared data (DESIGN §3 step 1). */
export interface PublishTerms {
  /** ERC20 reward token; omitted or the zero address for ETH. */
  token?: string;
  reward: bigint;
  /** The token's decimals, for messages in the unit of `--reward` (default 18: ETH). */
  decimals?: number;
  /** Minimum median accuracy, basis points. */
  accuracyThreshold: number;
  maxSubmissions: number;
  /** Seconds from the training-key unlock to the commit deadline. */
  trainWindow: number;
}

export interface PublisherOptions {
  market: string;
  /** First block whose market events the agent reads (the deployment block). */
  startBlock: number;
  /** Call `startNext` while one of our tasks is queued and the market has room (default true). */
  startTasks?: boolean;
}

/** What `postTask` declares besides the terms, known before the data is encrypted and uploaded. */
export interface TaskDraft {
  shardCount: number;
  testShards: number;
  workload: { modelBytes: bigint; dataBytes: bigint; flops: bigint };
}

/** A CIDv1 (raw, sha2-256) as long as the task document's, for the dry run. */
const DRY_RUN_CID = `b${"a".repeat(58)}`;

/** Seconds a round of the serve loop may take on a slow endpoint, beyond the unlock's own margin. */
const ROUND_SECONDS = 5;

const OUTCOMES = ["validated", "no valid submission", "unvalidated"];

/** The publisher's own record of a task (`tasks.phase` in its state). */
export type PublisherPhase = "posted" | "training" | "testing" | "missed" | "done";

/** How a task ended, as the publisher reports it. */
export interface TaskReport {
  taskId: bigint;
  phase: string;
  outcome?: string;
  winner?: string;
  modelCid?: string;
  modelHash?: string;
  score?: number;
}

/** Keys and CIDs are filed under task 0 and the dataset root until the task id exists. */
const UNPOSTED = 0n;
const PUBLICATION = "publication";

/**
 * The publisher's state machine. Secrets live in the agent's SQLite state from before `postTask`
 * is sent (filed by dataset root; the root is the commitment the keys open). Every step reads the
 * task from the chain and does what its phase asks, so a restarted agent carries on from the
 * chain and its state: post → unlock training keys once started → unlock test keys after the
 * commit deadline → report the outcome.
 */
export class Publisher {
  readonly market: TaskMarket;
  readonly #rt: AgentRuntime;
  readonly #events: EventDecoder;
  readonly #cursor: EventCursor;
  readonly #startTasks: boolean;
  /** Why the last `startNext` attempt did not happen, so a repeated reason is logged once. */
  #startProblem: string | undefined;
  /** Whether a key window of ours was open or about to open in the last round (shorter retry delays). */
  #urgent = false;
  /** Set by #advance when the task it stepped has a key window open or about to open. */
  #nearWindow = false;

  constructor(rt: AgentRuntime, options: PublisherOptions) {
    this.#rt = rt;
    this.#startTasks = options.startTasks ?? true;
    this.market = TaskMarket__factory.connect(options.market, rt.chain.provider);
    this.#events = new EventDecoder([{ address: options.market, iface: this.market.interface }]);
    this.#cursor = rt.cursor("market", { address: this.#events.addresses, startBlock: options.startBlock });
  }

  /**
   * The reward against the token's listing (issue 9 finding 13): the token must be listed, the reward at
   * least the token's minimum and, in reference units (reward × unitScale / 1e18), 1..2^96−1. Amounts
   * are stated in the unit `--reward` takes: ETH, or whole tokens at the token's decimals.
   */
  async #checkReward(token: string, terms: PublishTerms): Promise<void> {
    const { minReward, unitScale } = await this.market.rewardToken(token);
    const eth = token === ZeroAddress;
    if (unitScale === 0n) {
      throw new AgentError("CONFIG_INVALID", `token ${token} is not a reward token of the market (the owner lists them with setRewardToken); pay in ETH or a listed token`, { context: { token } });
    }
    const decimals = eth ? 18 : (terms.decimals ?? 18);
    const unit = eth ? "ETH" : `tokens of ${token}`;
    const amount = (v: bigint) => `${formatUnits(v, decimals)} ${unit}`;
    const max = 2n ** 96n - 1n;
    const ceiling = (max * 10n ** 18n) / unitScale < max ? (max * 10n ** 18n) / unitScale : max;
    if (terms.reward < minReward) {
      throw new AgentError("CONFIG_INVALID", `reward ${amount(terms.reward)} is below the market's minimum of ${amount(minReward)}`, { context: { reward: terms.reward, minReward } });
    }
    const reference = (terms.reward * unitScale) / 10n ** 18n;
    if (terms.reward > max || reference > max) {
      throw new AgentError("CONFIG_INVALID", `reward ${amount(terms.reward)} is above the market's maximum of ${amount(ceiling)}`, { context: { reward: terms.reward } });
    }
  }

  /** Escrow `postTask` takes: reward plus the publisher bond at the market's current rate. */
  async escrowFor(reward: bigint): Promise<bigint> {
    const params = await this.market.params();
    return reward + (reward * params.publisherBondBps) / 10_000n;
  }

  /**
   * Checks the terms against the market's bounds (train window, minimum reward, queue room) and
   * the key's balance against the escrow, so a task that would be refused fails with
   * CONFIG_INVALID or INSUFFICIENT_FUNDS before anything is uploaded or sent. With a `draft` of an
   * ETH task it also dry-runs `postTask` (a stand-in dataset root and CID): any other refusal of
   * the market, and a balance that covers the escrow but not the gas, fail here too.
   */
  async checkTerms(terms: PublishTerms, draft?: TaskDraft): Promise<void> {
    const params = await this.market.params();
    if (terms.trainWindow < params.minTrainWindow || terms.trainWindow > params.maxTrainWindow) {
      throw new AgentError("CONFIG_INVALID", `train window ${terms.trainWindow} s is outside the market's ${params.minTrainWindow}..${params.maxTrainWindow} s`, {
        context: { trainWindow: terms.trainWindow },
      });
    }
    const token = terms.token ?? ZeroAddress;
    await this.#checkReward(token, terms);
    const queued = await this.market.queueLength();
    if (queued >= params.maxQueue) throw new AgentError("CONFIG_INVALID", `the market's queue is full (${queued} of ${params.maxQueue} tasks); try again later`);
    const escrow = terms.reward + (terms.reward * params.publisherBondBps) / 10_000n;
    const who = this.#rt.wallet.address;
    const provider = this.#rt.chain.provider;
    const balance =
      token === ZeroAddress
        ? await provider.getBalance(who)
        : await tokenBalance(provider, token, who);
    if (balance < escrow) {
      const unit = token === ZeroAddress ? "ETH" : `tokens of ${token}`;
      const amount = (v: bigint) => formatUnits(v, token === ZeroAddress ? 18 : (terms.decimals ?? 18));
      throw new AgentError("INSUFFICIENT_FUNDS", `posting a task with reward ${amount(terms.reward)} ${unit} needs ${amount(escrow)} ${unit} (reward + publisher bond); ${who} holds ${amount(balance)} ${unit}`, {
        context: { address: who, token, balance, needed: escrow },
      });
    }
    // An ERC20 task's dry run would need the allowance first; the sender checks its gas when it sends.
    if (draft === undefined || token !== ZeroAddress) return;
    const request = this.#request(terms, { ...draft, datasetRoot: keccak256(toUtf8Bytes("podl dry run")), specCid: DRY_RUN_CID });
    let gas: bigint;
    try {
      gas = await this.market.postTask.estimateGas(request, { from: who, value: escrow });
    } catch (e) {
      const decoded = decodeRevert(revertData(e), [this.market.interface]);
      if (decoded.data === undefined) throw e;
      throw new AgentError("CONFIG_INVALID", `the market would refuse this task: ${decoded.summary}`, { cause: e, context: { revert: decoded } });
    }
    const fees = await provider.getFeeData();
    const gasCost = ((gas * BigInt(100 + this.#rt.config.gasHeadroomPercent)) / 100n) * (fees.maxFeePerGas ?? fees.gasPrice ?? 0n);
    if (balance < escrow + gasCost) {
      throw new AgentError("INSUFFICIENT_FUNDS", `posting a task with reward ${formatEther(terms.reward)} ETH needs ${formatEther(escrow)} ETH (reward + publisher bond) and about ${formatEther(gasCost)} ETH of gas; ${who} holds ${formatEther(balance)} ETH`, {
        context: { address: who, token, balance, needed: escrow + gasCost },
      });
    }
  }

  #request(terms: PublishTerms, task: TaskDraft & { datasetRoot: string; specCid: string }): ITaskMarket.TaskRequestStruct {
    return {
      token: terms.token ?? ZeroAddress,
      reward: terms.reward,
      datasetRoot: task.datasetRoot,
      specCid: task.specCid,
      shardCount: task.shardCount,
      testShards: task.testShards,
      accuracyThreshold: terms.accuracyThreshold,
      maxSubmissions: terms.maxSubmissions,
      trainWindow: terms.trainWindow,
      ...task.workload,
    };
  }

  /** Persists the publication's secrets, then approves (ERC20) and posts; returns the task id. */
  async publish(pub: Publication, terms: PublishTerms): Promise<bigint> {
    const { sender, store, log } = this.#rt;
    const token = terms.token ?? ZeroAddress;
    await this.checkTerms(terms, pub);
    // Write-ahead: a crash from here on must not lose a key of a task that may end up posted.
    store.putSalt({
      taskId: UNPOSTED,
      purpose: PUBLICATION,
      commitment: pub.datasetRoot,
      salt: JSON.stringify(pub.shards.map((s) => s.key)),
      data: { cids: pub.shards.map((s) => s.cid), specCid: pub.specCid, shardCount: pub.shardCount, testShards: pub.testShards, providers: pub.document.providers },
    });
    const escrow = await this.escrowFor(terms.reward);
    const marketAddress = await this.market.getAddress();
    if (token !== ZeroAddress) await approveIfNeeded(sender, this.#rt.chain.provider, token, marketAddress, escrow, `approve ${escrow} for postTask`);
    const request = this.#request(terms, pub);
    const tx = await this.market.postTask.populateTransaction(request);
    const sent = await sender.send({ to: marketAddress, data: tx.data, value: token === ZeroAddress ? escrow : 0n, label: `postTask ${pub.spec.name}`, iface: this.market.interface });
    const posted = sent.receipt.logs.map((l) => this.#events.decode(l)).find((e) => e?.name === "TaskPosted");
    if (posted === undefined) throw new AgentError("TX_REVERTED", `postTask ${sent.hash} emitted no TaskPosted event`, { context: { txHash: sent.hash } });
    const taskId = posted.args.taskId as bigint;
    this.#record(taskId, pub.datasetRoot, pub.specCid);
    log.info({ taskId, txHash: sent.hash, specCid: pub.specCid, datasetRoot: pub.datasetRoot, reward: terms.reward, escrow }, "task posted");
    return taskId;
  }

  /**
   * One round: follow the market's events (our posts, reveals, settlements), then bring every task
   * of ours that is not finished up to date with the chain. Idempotent; returns the finished ones.
   */
  async step(): Promise<TaskReport[]> {
    setUrgent(this.#rt, this.#urgent);
    // With a key window open its unlock goes first: the event poll costs seconds on a lossy endpoint.
    if (this.#urgent) {
      const finished = await this.#advanceAll();
      await this.#poll();
      return finished;
    }
    await this.#poll();
    return await this.#advanceAll();
  }

  async #poll(): Promise<void> {
    await this.#cursor.poll(async (log) => {
      const event = this.#events.decode(log);
      if (event !== undefined) this.#onEvent(event.name, event.args);
    });
  }

  /** Brings every unfinished task up to date with the chain; notes whether a key window is near. */
  async #advanceAll(): Promise<TaskReport[]> {
    const finished: TaskReport[] = [];
    let urgent = false;
    for (const task of this.#rt.store.listTasks()) {
      if (task.phase === "done") continue;
      this.#nearWindow = false;
      try {
        const report = await this.#advance(task.taskId, task.phase as PublisherPhase, task.data);
        if (report !== undefined) finished.push(report);
      } catch (e) {
        // A refused unlock (a window that closed between our read and the block) must not stop the
        // other tasks; the next round reads the chain again (a refused estimate costs no gas).
        if (!isAgentError(e, "TX_REVERTED")) throw e;
        this.#rt.log.error({ taskId: task.taskId, err: e.message }, `task ${task.taskId}: ${e.message}`);
      }
      urgent ||= this.#nearWindow;
    }
    this.#urgent = urgent;
    setUrgent(this.#rt, urgent);
    return finished;
  }

  /**
   * Steps every `intervalMs` and hands each finished task's report to `onReport`. RPC outages are
   * logged and retried on the next round; any other error ends the loop. Returns when `signal`
   * aborts, or with `exitWhenDone` once no task in the state is unfinished.
   */
  async serve(options: { signal?: AbortSignal; intervalMs: number; exitWhenDone: boolean; onReport: (r: TaskReport) => void }): Promise<void> {
    while (options.signal?.aborted !== true) {
      try {
        for (const report of await this.step()) options.onReport(report);
      } catch (e) {
        if (!isAgentError(e, "RPC_UNAVAILABLE")) throw e;
        this.#rt.log.warn({ err: shortMessage(e) }, "RPC unavailable; trying again next round");
      }
      if (options.exitWhenDone && this.unfinished().length === 0) return;
      await sleep(options.intervalMs, options.signal);
    }
  }

  /** Ids of the tasks in the state that have not ended. */
  unfinished(): bigint[] {
    return this.#rt.store
      .listTasks()
      .filter((t) => t.phase !== "done")
      .map((t) => t.taskId);
  }

  /** The report of a finished task, from the state. */
  report(taskId: bigint): TaskReport | undefined {
    const task = this.#rt.store.getTask(taskId);
    if (task?.phase !== "done") return undefined;
    return task.data.report as TaskReport;
  }

  #onEvent(name: string, args: Record<string, unknown> & { taskId?: unknown }): void {
    const { store } = this.#rt;
    if (name === "TaskPosted") {
      if (getAddress(args.publisher as string) !== this.#rt.wallet.address) return;
      // Posted by an earlier run that stopped before recording the id: the keys are filed by root.
      if (store.getSalt(UNPOSTED, PUBLICATION, args.datasetRoot as string) === undefined) return;
      const taskId = args.taskId as bigint;
      if (store.getTask(taskId) === undefined) this.#record(taskId, args.datasetRoot as string, args.specCid as string);
      return;
    }
    const taskId = args.taskId as bigint | undefined;
    const task = taskId === undefined ? undefined : store.getTask(taskId);
    if (task === undefined || taskId === undefined) return;
    if (name === "ModelRevealed") {
      const reveals = { ...(task.data.reveals as Record<string, string> | undefined), [getAddress(args.miner as string)]: args.modelCid as string };
      store.putTask(taskId, task.phase, { ...task.data, reveals });
    } else if (name === "TaskSettled") {
      store.putTask(taskId, task.phase, { ...task.data, outcome: OUTCOMES[Number(args.outcome)] });
    } else if (name === "LearningBlock") {
      store.putTask(taskId, task.phase, { ...task.data, winner: getAddress(args.winner as string), modelHash: args.modelHash as string, score: Number(args.score) });
    }
  }

  #record(taskId: bigint, datasetRoot: string, specCid: string): void {
    this.#rt.store.putTask(taskId, "posted", { datasetRoot, specCid });
  }

  async #advance(taskId: bigint, phase: PublisherPhase, data: Record<string, unknown>): Promise<TaskReport | undefined> {
    const { store, log } = this.#rt;
    let t = await this.market.getTask(taskId);
    if (t.phase === PHASE.Queued && this.#startTasks && (await this.#tryStart())) t = await this.market.getTask(taskId);
    if (t.phase === PHASE.Started) {
      // The training-key window is open: every call from here on is deadline-bound.
      this.#nearWindow = true;
      setUrgent(this.#rt, true);
    }
    const now = await this.#rt.clock.chainNow();
    const tlog = log.child({ taskId });
    if (TERMINAL_PHASES.has(t.phase)) {
      // Settled after this round's events were read: report once the cursor has seen TaskSettled.
      if (t.phase === PHASE.Settled && data.outcome === undefined) return undefined;
      const report: TaskReport = { taskId, phase: PHASE_NAMES[Number(t.phase)]! };
      for (const key of ["outcome", "winner", "modelHash", "score"] as const) if (data[key] !== undefined) Object.assign(report, { [key]: data[key] });
      if (report.winner !== undefined) {
        const cid = (data.reveals as Record<string, string> | undefined)?.[report.winner];
        if (cid !== undefined) report.modelCid = cid;
      }
      store.putTask(taskId, "done", { ...data, report });
      tlog.info({ ...report }, report.winner === undefined ? `task ${taskId} ended: ${report.phase}` : `task ${taskId} settled: winner ${report.winner}, score ${report.score} bps`);
      return report;
    }
    if (phase === "missed") return undefined;
    if (t.phase === PHASE.Started) {
      // A transaction mined at `now` or later must still be inside the key window.
      if (now >= t.deadline) return this.#missed(taskId, data, "training keys", t.deadline);
      // The seed (and so the split) comes from randomness requested at the start: known a few blocks later.
      const seed = await seedForUnlock(this.market, taskId, t.seed);
      if (seed === "pending") return undefined;
      if (seed === "expired") return this.#awaitSeed(taskId, tlog);
      const { train, test } = splitShards(seed, Number(t.shardCount), Number(t.testShards));
      const shards = this.secrets(t.datasetRoot);
      const { keys, testLeaves } = trainingUnlock(shards, train, test);
      warnUnlockAtRisk(this.#rt, taskId, "training-key", now + 1n, t.deadline);
      await this.#send(taskId, "unlockTrainingData", await this.market.unlockTrainingData.populateTransaction(taskId, keys, testLeaves));
      store.putTask(taskId, "training", data);
      this.#nearWindow = false; // that window is done with
      tlog.info({ shards: train.length }, `task ${taskId}: training keys unlocked`);
    } else if (t.commitDeadline !== 0n && t.testUnlockedAt === 0n && (t.phase === PHASE.Committing || t.phase === PHASE.Revealing)) {
      if (phase === "posted") store.putTask(taskId, "training", data);
      // Sent as early as the protocol allows: in the first block after the commit deadline. Within the
      // unlock's margin (plus a round) of it, wait here rather than for the next round.
      const margin = unlockMarginSeconds(this.#rt);
      if (now + BigInt(margin + ROUND_SECONDS) < t.commitDeadline) return undefined;
      this.#nearWindow = true;
      setUrgent(this.#rt, true);
      const next = await waitForOpening(this.#rt, t.commitDeadline, margin + ROUND_SECONDS);
      if (next <= t.commitDeadline) return undefined;
      if (next > t.testKeyDeadline) return this.#missed(taskId, data, "test keys", t.testKeyDeadline);
      warnUnlockAtRisk(this.#rt, taskId, "test-key", next, t.testKeyDeadline);
      const { test } = splitShards(t.seed, Number(t.shardCount), Number(t.testShards));
      const keys = shardKeys(this.secrets(t.datasetRoot), test);
      await this.#send(taskId, "unlockTestData", await this.market.unlockTestData.populateTransaction(taskId, keys));
      store.putTask(taskId, "testing", data);
      this.#nearWindow = false; // that window is done with
      tlog.info({ shards: test.length }, `task ${taskId}: test keys unlocked`);
    } else if (t.testUnlockedAt !== 0n && phase !== "testing") {
      store.putTask(taskId, "testing", data);
    }
    return undefined;
  }

  /**
   * `startNext` when the market has room; anyone may call it, so a miner or another publisher may
   * win the race (the call then reverts at estimation and nothing is spent). It starts the queued
   * task with the lowest score, which need not be ours. Returns whether a task was started.
   */
  async #tryStart(): Promise<boolean> {
    const [params, active] = await Promise.all([this.market.params(), this.market.activeCount()]);
    let problem: string;
    if (active >= params.maxActive) {
      problem = `the market runs ${active} of ${params.maxActive} tasks`;
    } else {
      try {
        const sent = await sendMarketCall(this.#rt.sender, this.market, "startNext");
        const started = sent.receipt.logs.map((l) => this.#events.decode(l)).find((e) => e?.name === "TaskStarted");
        this.#rt.log.info({ txHash: sent.hash, started: started?.args.taskId }, `started task ${started?.args.taskId}`);
        this.#startProblem = undefined;
        return true;
      } catch (e) {
        if (!isAgentError(e, "TX_REVERTED")) throw e;
        problem = e.message;
      }
    }
    if (problem !== this.#startProblem) this.#rt.log.info(`not starting a task yet: ${problem}`);
    this.#startProblem = problem;
    return false;
  }

  /**
   * Waits for a started task's seed. If its randomness expired unread (nobody fixed it in time),
   * `fixSeed` succeeds at estimation and renews the request; while it is pending, `fixSeed` reverts
   * (SeedNotReady) and there is nothing to do but wait. The unlock itself stores the seed once known.
   */
  async #awaitSeed(taskId: bigint, tlog: AgentRuntime["log"]): Promise<undefined> {
    if (!(await seedDue(this.market, taskId))) return undefined; // pending (SeedNotReady), or fixed in the meantime
    await sendMarketCall(this.#rt.sender, this.market, "fixSeed", taskId);
    tlog.info(`task ${taskId}: the seed's randomness expired unread; requested again`);
    return undefined;
  }

  #missed(taskId: bigint, data: Record<string, unknown>, what: string, deadline: bigint): undefined {
    this.#rt.log.error({ taskId, deadline }, `task ${taskId}: the window for the ${what} closed at ${deadline}; the task will time out`);
    this.#rt.store.putTask(taskId, "missed", data);
    return undefined;
  }

  /** Sends an unlock: the training keys with the test leaves (each in index order), or the test keys. */
  async #send(taskId: bigint, method: "unlockTrainingData" | "unlockTestData", tx: { to: string; data: string }): Promise<void> {
    await this.#rt.sender.send({ to: tx.to, data: tx.data, label: `${method} task ${taskId}`, iface: this.market.interface });
  }

  /**
   * Where the node serving the unfinished tasks listened, as their task documents tell miners (the
   * multiaddrs without their /p2p/ part), so a restarted publisher serves at the same address.
   */
  previousListen(): string[] {
    const listen = new Set<string>();
    for (const task of this.#rt.store.listTasks()) {
      if (task.phase === "done") continue;
      const record = this.#rt.store.getSalt(UNPOSTED, PUBLICATION, task.data.datasetRoot as string);
      for (const address of (record?.data.providers as string[] | undefined) ?? []) listen.add(address.replace(/\/p2p\/[^/]+$/, ""));
    }
    return [...listen];
  }

  /** The shards' CIDs and keys, checked against the dataset root they were committed to. */
  secrets(datasetRoot: string): ShardSecret[] {
    const record = this.#rt.store.getSalt(UNPOSTED, PUBLICATION, datasetRoot);
    if (record === undefined) {
      throw new AgentError("STATE_UNAVAILABLE", `no keys for dataset root ${datasetRoot} in ${this.#rt.store.path}`, { context: { datasetRoot } });
    }
    const keys = JSON.parse(record.salt) as string[];
    const shards = (record.data.cids as string[]).map((cid, i) => ({ cid, key: keys[i]! }));
    if (buildDatasetCommitment(shards).root !== datasetRoot) {
      throw new AgentError("STATE_UNAVAILABLE", `the keys stored for ${datasetRoot} do not rebuild that root`, { context: { datasetRoot } });
    }
    return shards;
  }
}
