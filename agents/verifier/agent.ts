import { Interface, ZeroAddress, getAddress, hexlify, randomBytes, type Result } from "ethers";
import type { AgentRuntime } from "../cli/runtime.js";
import type { EventCursor } from "../chain/cursor.js";
import { EventDecoder } from "../chain/events.js";
import { claimPayouts } from "../chain/payouts.js";
import { revertData } from "../chain/revert.js";
import { AgentError, isAgentError } from "../config/errors.js";
import {
  Settlement__factory,
  TaskMarket__factory,
  ValidatorRegistry__factory,
  type Settlement,
  type TaskMarket,
  type ValidatorRegistry,
} from "../../types/index.js";
import { TaskDataUnavailable } from "./errors.js";
import { escapeDue } from "./escape.js";
import { scoresCommitment } from "./scores.js";

/** Market phases as `ITaskMarket.Phase` numbers them. */
const PHASE = { Queued: 1n, Started: 2n, Committing: 3n, Revealing: 4n, Attesting: 5n, Settled: 6n, Cancelled: 7n, Defaulted: 8n, Unvalidated: 9n } as const;
const TERMINAL = new Set<bigint>([PHASE.Settled, PHASE.Cancelled, PHASE.Defaulted, PHASE.Unvalidated]);
const PHASE_NAMES = ["none", "queued", "started", "committing", "revealing", "attesting", "settled", "cancelled", "defaulted", "unvalidated"];
/** `ISettlement.Status`. */
const STATUS = { None: 0n, Attesting: 1n, Finalized: 2n } as const;
/** `IRandomnessSource.RandomnessStatus.Pending`: the registry's draw randomness is not available yet. */
const RANDOMNESS_PENDING = 0n;

const ERC20 = new Interface([
  "function approve(address spender, uint256 amount) returns (bool)",
  "function allowance(address owner, address spender) view returns (uint256)",
]);

/** A shard key as the unlock events carry it (JSON-safe). */
export interface ShardKeyJson {
  index: number;
  cidHash: string;
  key: string;
}

/** One revealed submission, in reveal order, with the CID its `ModelRevealed` event named. */
export interface RevealedSubmission {
  miner: string;
  modelHash: string;
  checkpointRoot: string;
  /** Undefined when no `ModelRevealed` event of this miner was seen (scores 0). */
  modelCid: string | undefined;
}

/** Everything a scorer needs to check a task's submissions; all of it public once the test keys are out. */
export interface ScoringInput {
  taskId: bigint;
  round: number;
  /** The task seed (SML, init, watermark, batch order). */
  seed: string;
  /** The committee draw's seed (`CommitteeDrawn.seed`); picks the replayed segment. */
  seed2: string;
  specCid: string;
  trainKeys: ShardKeyJson[];
  testKeys: ShardKeyJson[];
  submissions: RevealedSubmission[];
}

/** One submission's verdict: accuracy in bps, or 0 with why. */
export interface Verdict {
  scoreBps: number;
  reason?: string;
  detail?: string;
}

/** Computes one verdict per submission, in order. Must not throw for a bad submission. */
export type Scorer = (input: ScoringInput) => Promise<Verdict[]>;

/** Fetches a task's public data (document, shard ciphertexts) ahead of any committee duty. */
export type Prefetcher = (task: { taskId: bigint; specCid: string }) => Promise<void>;

/** What the verifier keeps about a round it watches. */
interface RoundRecord {
  members?: string[];
  seed2?: string;
  commitDeadline?: number;
  revealDeadline?: number;
  committed?: boolean;
  revealed?: boolean;
  /** Set when a window closed before we could act; logged once. */
  missed?: string;
}

/** The verifier's record of a task (`tasks.data` in its state). */
interface TaskData {
  specCid?: string;
  token?: string;
  trainKeys?: ShardKeyJson[];
  testKeys?: ShardKeyJson[];
  /** Model CID per miner (checksummed address), from `ModelRevealed`. */
  cids?: Record<string, string>;
  rounds?: Record<string, RoundRecord>;
  /** The market phase it ended in. */
  ended?: string;
}

/** The verifier's own phase of a task. */
export type VerifierPhase = "watching" | "done";

export interface VerifierOptions {
  market: string;
  settlement: string;
  registry: string;
  startBlock: number;
  scorer: Scorer;
  /** Runs in the background once per task and process, from the start of the task on. */
  prefetch?: Prefetcher;
  /** Act as keeper: draw, finalize and call the market's timeouts when they are due. */
  keeper: boolean;
  /**
   * How long a keeper call must have been due before a validator other than the task's designated
   * keeper sends it (ms). Keepers that all send at once pay for reverts; 0 sends at once.
   */
  keeperGraceMs: number;
}

/** What one step did, for `--exit-when-idle` / `--max-tasks` and for tests. */
export interface StepReport {
  /** Tasks that reached their end this step (credits withdrawn). */
  ended: bigint[];
  /** Tasks still followed. */
  open: number;
}

/**
 * The verifier's state machine (DESIGN §3.7–3.8, §8). Each `step` follows the market, registry and
 * settlement events into the state, then brings every task it follows up to date with the chain:
 * as keeper it sends the permissionless calls that are due (checked against the contracts'
 * conditions first, so it does not pay for reverts); as a committee member it scores every
 * revealed submission, stores scores and salt, commits, reveals in the reveal window; once the
 * task ends it withdraws its credits. Idempotent, so a restarted agent carries on.
 */
export class Verifier {
  readonly market: TaskMarket;
  readonly settlement: Settlement;
  readonly registry: ValidatorRegistry;
  readonly #rt: AgentRuntime;
  readonly #o: VerifierOptions;
  readonly #events: EventDecoder;
  readonly #cursor: EventCursor;
  readonly #me: string;
  /** When each keeper call (`taskId:what`) was first seen due, by this process's clock. */
  readonly #dueSince = new Map<string, number>();
  /** Tasks whose prefetch this process started (and that did not fail). */
  readonly #prefetched = new Set<bigint>();

  constructor(rt: AgentRuntime, options: VerifierOptions) {
    this.#rt = rt;
    this.#o = options;
    this.#me = rt.wallet.address;
    this.market = TaskMarket__factory.connect(options.market, rt.chain.provider);
    this.settlement = Settlement__factory.connect(options.settlement, rt.chain.provider);
    this.registry = ValidatorRegistry__factory.connect(options.registry, rt.chain.provider);
    this.#events = new EventDecoder([
      { address: options.market, iface: this.market.interface },
      { address: options.settlement, iface: this.settlement.interface },
      { address: options.registry, iface: this.registry.interface },
    ]);
    this.#cursor = rt.cursor("verifier", { address: this.#events.addresses, startBlock: options.startBlock });
  }

  get address(): string {
    return this.#me;
  }

  /**
   * Stakes `amount` (ETH, or the registry's stake token after an approval) unless this key is
   * already bonded; tops up when its stake is below `minStake`. Returns the stake after.
   */
  async ensureStake(amount: bigint): Promise<bigint> {
    const { sender, log } = this.#rt;
    const [v, params, token] = await Promise.all([this.registry.getValidator(this.#me), this.registry.params(), this.registry.stakeToken()]);
    if (v.unbondingAt !== 0n) {
      throw new AgentError("CONFIG_INVALID", `${this.#me} is unbonding in the validator registry; it cannot stake or sit on committees until it withdraws`, {
        context: { address: this.#me },
      });
    }
    if (v.stake >= params.minStake) {
      log.info({ stake: v.stake, minStake: params.minStake }, "already bonded in the validator registry");
      return v.stake;
    }
    if (amount === 0n) {
      throw new AgentError("CONFIG_INVALID", `${this.#me} is not bonded (stake ${v.stake}, minimum ${params.minStake}): pass --stake <amount>`, {
        context: { stake: v.stake, minStake: params.minStake },
      });
    }
    if (v.stake + amount < params.minStake) {
      throw new AgentError("CONFIG_INVALID", `--stake ${amount} would leave a stake of ${v.stake + amount}, below the registry's minimum ${params.minStake}`, {
        context: { stake: v.stake, amount, minStake: params.minStake },
      });
    }
    const registryAddress = await this.registry.getAddress();
    if (token !== ZeroAddress) {
      const allowance = ERC20.decodeFunctionResult(
        "allowance",
        await this.#rt.chain.provider.call({ to: token, data: ERC20.encodeFunctionData("allowance", [this.#me, registryAddress]) }),
      )[0] as bigint;
      if (allowance < amount) {
        await sender.send({ to: token, data: ERC20.encodeFunctionData("approve", [registryAddress, amount]), label: `approve ${amount} for stake`, iface: ERC20 });
      }
    }
    await sender.call(this.registry, "stake", [amount], { ...(token === ZeroAddress ? { value: amount } : {}), label: `stake ${amount}` });
    const after = (await this.registry.getValidator(this.#me)).stake;
    log.info({ stake: after, token }, `staked ${amount} in the validator registry`);
    return after;
  }

  /** One round: follow the events, then advance every task not yet done. */
  async step(): Promise<StepReport> {
    const polled = await this.#follow();
    if (polled.rewound !== undefined) this.#rt.log.warn({ ...polled.rewound }, "chain reorganised; re-reading every open task from the contracts");
    const ended: bigint[] = [];
    let open = 0;
    for (const task of this.#rt.store.listTasks("watching")) {
      try {
        if (await this.#advance(task.taskId, task.data as TaskData)) {
          ended.push(task.taskId);
          continue;
        }
      } catch (e) {
        // One task's trouble (RPC outage, its data not reachable yet, a revert) must not stall the
        // others; the next step tries again while the windows allow.
        if (!isAgentError(e) && !(e instanceof TaskDataUnavailable)) throw e;
        this.#rt.log.warn({ taskId: task.taskId, code: e.code, err: e.message }, `task ${task.taskId}: ${e.message}; will retry`);
      }
      open++;
    }
    return { ended, open };
  }

  async #follow(): ReturnType<EventCursor["poll"]> {
    return await this.#cursor.poll(async (log) => {
      const event = this.#events.decode(log);
      if (event !== undefined) this.#onEvent(event.name, event.args);
    });
  }

  /** Tasks this verifier followed to their end. */
  endedTasks(): bigint[] {
    return this.#rt.store.listTasks("done").map((t) => t.taskId);
  }

  // ---- events → state (upserts: a replayed event changes nothing) ----

  #onEvent(name: string, args: Result): void {
    const taskId = (args as unknown as { taskId?: bigint }).taskId;
    if (taskId === undefined) return;
    switch (name) {
      case "TaskPosted":
        this.#merge(taskId, { specCid: args.specCid as string, token: getAddress(args.token as string) });
        return;
      case "TrainingDataUnlocked":
        this.#merge(taskId, { trainKeys: keysOf(args.getValue("keys") as Result) });
        return;
      case "TestDataUnlocked":
        this.#merge(taskId, { testKeys: keysOf(args.getValue("keys") as Result) });
        return;
      case "ModelRevealed": {
        const data = this.#data(taskId);
        this.#merge(taskId, { cids: { ...data?.cids, [getAddress(args.miner as string)]: args.modelCid as string } });
        return;
      }
      case "CommitteeDrawn":
        this.#mergeRound(taskId, Number(args.round), { members: (args.members as string[]).map((a) => getAddress(a)), seed2: args.seed as string });
        return;
      case "CommitteeSeated":
        this.#mergeRound(taskId, Number(args.round), {
          members: (args.members as string[]).map((a) => getAddress(a)),
          commitDeadline: Number(args.commitDeadline),
          revealDeadline: Number(args.revealDeadline),
        });
        return;
      case "ScoresCommitted":
        if (getAddress(args.validator as string) === this.#me) this.#mergeRound(taskId, Number(args.round), { committed: true });
        return;
      case "ScoresRevealed":
        if (getAddress(args.validator as string) === this.#me) this.#mergeRound(taskId, Number(args.round), { revealed: true });
        return;
      default:
    }
  }

  #data(taskId: bigint): TaskData | undefined {
    return this.#rt.store.getTask(taskId)?.data as TaskData | undefined;
  }

  #merge(taskId: bigint, patch: Partial<TaskData>): void {
    const record = this.#rt.store.getTask(taskId);
    // A task first seen through a later event (the cursor started after its post) is followed too.
    this.#rt.store.putTask(taskId, record?.phase ?? "watching", { ...record?.data, ...patch });
  }

  #mergeRound(taskId: bigint, round: number, patch: RoundRecord): void {
    const rounds = { ...this.#data(taskId)?.rounds };
    rounds[round] = { ...rounds[round], ...patch };
    this.#merge(taskId, { rounds });
  }

  // ---- chain → actions ----

  /** Brings one task up to date; true when it ended (and its credits were withdrawn). */
  async #advance(taskId: bigint, data: TaskData): Promise<boolean> {
    const { log } = this.#rt;
    const tlog = log.child({ taskId });
    const [t, head] = await Promise.all([this.market.getTask(taskId), this.#rt.chain.provider.getBlock("latest")]);
    const now = BigInt(head!.timestamp);
    const block = BigInt(head!.number);

    if (TERMINAL.has(t.phase)) {
      await claimPayouts(this.market, this.#rt.sender, taskId, this.#me);
      await this.#withdrawAll(data.token ?? t.token);
      const phase = PHASE_NAMES[Number(t.phase)]!;
      this.#rt.store.putTask(taskId, "done", { ...data, ended: phase });
      tlog.info({ phase }, `task ${taskId} ended: ${phase}`);
      return true;
    }
    this.#prefetch(taskId, data, t.phase, tlog);
    if (!this.#o.keeper && t.phase !== PHASE.Attesting) return false;

    if (t.phase === PHASE.Queued) {
      // `deadline` is the queue expiry while queued.
      if (now > t.deadline) await this.#keep(taskId, tlog, "expireQueued", () => this.#rt.sender.call(this.market, "expireQueued", [taskId], { label: `expireQueued task ${taskId}` }));
    } else if (t.phase === PHASE.Started) {
      if (now > t.deadline) {
        await this.#keep(taskId, tlog, "timeoutTrainingKeys", () => this.#rt.sender.call(this.market, "timeoutTrainingKeys", [taskId], { label: `timeoutTrainingKeys task ${taskId}` }));
      } else if (await this.#seedDue(taskId)) {
        await this.#keep(taskId, tlog, "fixSeed", () => this.#rt.sender.call(this.market, "fixSeed", [taskId], { label: `fixSeed task ${taskId}` }));
      }
    } else if ((t.phase === PHASE.Committing || t.phase === PHASE.Revealing) && t.testUnlockedAt === 0n && t.commitDeadline !== 0n) {
      // Test keys never came: the default path opens after both the test-key and reveal windows.
      const opensAfter = t.testKeyDeadline > t.revealDeadline ? t.testKeyDeadline : t.revealDeadline;
      if (now > opensAfter) {
        await this.#keep(taskId, tlog, "timeoutTestKeys", () => this.#rt.sender.call(this.market, "timeoutTestKeys", [taskId], { label: `timeoutTestKeys task ${taskId}` }));
      }
    } else if (t.phase === PHASE.Attesting) {
      await this.#attesting(taskId, data, t, now, block, tlog);
    }
    return false;
  }

  /**
   * Starts fetching the task's document and ciphertexts in the background while miners train, so
   * scoring after the draw reads them from the local store instead of spending the commit window
   * on the network. Not awaited: a step never waits for it. A failure is logged and retried later.
   */
  #prefetch(taskId: bigint, data: TaskData, phase: bigint, tlog: AgentRuntime["log"]): void {
    const prefetch = this.#o.prefetch;
    if (prefetch === undefined || data.specCid === undefined || phase < PHASE.Started || this.#prefetched.has(taskId)) return;
    if (this.#rt.store.getSalt(taskId, "scores:0") !== undefined) return;
    this.#prefetched.add(taskId);
    prefetch({ taskId, specCid: data.specCid }).catch((e: unknown) => {
      this.#prefetched.delete(taskId);
      tlog.warn({ err: (e as Error).message }, `task ${taskId}: prefetching its data failed; scoring fetches it when due`);
    });
  }

  async #attesting(
    taskId: bigint,
    data: TaskData,
    t: Awaited<ReturnType<TaskMarket["getTask"]>>,
    now: bigint,
    block: bigint,
    tlog: AgentRuntime["log"],
  ): Promise<void> {
    const { sender } = this.#rt;
    const [status, roundBig] = await this.settlement.statusOf(taskId);
    if (status === STATUS.Finalized) return;
    const finalize = () => this.#keep(taskId, tlog, "finalize", () => sender.call(this.settlement, "finalize", [taskId], { label: `finalize task ${taskId}` }));
    // a stalled attestation (finalize cannot end it): the escape hatch settles it as unvalidated
    if (this.#o.keeper && (await escapeDue(this.settlement, taskId, t, now))) return void (await this.#keep(taskId, tlog, "escape", () => sender.call(this.settlement, "escape", [taskId], { label: `escape task ${taskId}` })));
    if (t.revealedCount === 0n) {
      // Nothing to attest: finalize refunds the publisher at once.
      if (this.#o.keeper) await finalize();
      return;
    }
    const round = Number(roundBig);
    const sp = await this.settlement.paramsOf(taskId); // the parameters of this task (a later change does not reach it)
    let r: Awaited<ReturnType<Settlement["getRound"]>> | undefined;
    let expiresAt: bigint;
    if (status === STATUS.None) {
      // Round 0 opens with the first draw or finalize call, which requests its draw.
      expiresAt = t.revealDeadline + sp.attestCommitWindow + sp.attestRevealWindow;
    } else {
      r = await this.settlement.getRound(taskId, round);
      expiresAt = r.expiresAt;
    }

    if (r === undefined || r.size === 0n) {
      if (!this.#o.keeper) return;
      if (now > expiresAt) {
        await finalize(); // an undrawn round counts as a missed quorum
        return;
      }
      const drawCall = () => this.#keep(taskId, tlog, "drawCommittee", () => sender.call(this.settlement, "drawCommittee", [taskId], { label: `drawCommittee task ${taskId} round ${round}` }));
      if (status === STATUS.None) {
        // The first call requests the draw: the stake snapshot and randomness are fixed then, known later.
        await drawCall();
        return;
      }
      // The draw waits for the randomness source (a later block's hash on L1, a VRF answer on L2s); an
      // expired one is renewed by the same call.
      if ((await this.registry.drawStatus(taskId, round)) === RANDOMNESS_PENDING) return;
      await drawCall();
      r = await this.settlement.getRound(taskId, round);
      if (r.size === 0n) return;
    }

    const members = data.rounds?.[round]?.members ?? (await this.settlement.committee(taskId, round)).map((a) => getAddress(a));
    if (members.includes(this.#me)) await this.#attest(taskId, round, r, t, tlog);

    if (this.#o.keeper) {
      const fresh = await this.settlement.getRound(taskId, round);
      const head = await this.#rt.chain.provider.getBlock("latest");
      const ts = BigInt(head!.timestamp);
      // A round whose commits missed the quorum fails at its commit deadline (its reveals never open).
      const failed = ts > fresh.commitDeadline && fresh.commits < (2n * fresh.size + 2n) / 3n;
      if (failed || ts > fresh.revealDeadline || fresh.reveals === fresh.size) await finalize();
    }
  }

  /** Scores, commits and reveals as a member of `round`, each when its window allows. */
  async #attest(
    taskId: bigint,
    round: number,
    r: Awaited<ReturnType<Settlement["getRound"]>>,
    t: Awaited<ReturnType<TaskMarket["getTask"]>>,
    tlog: AgentRuntime["log"],
  ): Promise<void> {
    const { store, sender } = this.#rt;
    const purpose = `scores:${round}`;
    const state = (): RoundRecord => this.#data(taskId)?.rounds?.[round] ?? {};
    const nowTs = async () => BigInt((await this.#rt.chain.provider.getBlock("latest"))!.timestamp);
    if (state().revealed === true) return;

    let stored = store.getSalt(taskId, purpose);
    if (stored === undefined) {
      // A transaction lands in a later block than the head: at `commitDeadline` it is already too late.
      if ((await nowTs()) >= r.commitDeadline) return this.#missed(taskId, round, "the commit window closed before the scores were computed", tlog);
      const input = await this.#scoringInput(taskId, round, t);
      const started = performance.now();
      const verdicts = await this.#o.scorer(input);
      if (verdicts.length !== input.submissions.length) throw new Error(`scorer returned ${verdicts.length} verdicts for ${input.submissions.length} submissions`);
      const scores = verdicts.map((v) => v.scoreBps);
      for (const [i, v] of verdicts.entries()) {
        tlog.info({ round, index: i, miner: input.submissions[i]!.miner, score: v.scoreBps, reason: v.reason, detail: v.detail }, `task ${taskId}: submission ${i} scores ${v.scoreBps} bps${v.reason ? ` (${v.reason})` : ""}`);
      }
      const salt = hexlify(randomBytes(32));
      const commitment = scoresCommitment({ settlement: await this.settlement.getAddress(), chainId: this.#rt.chain.chainId, taskId, round: BigInt(round), validator: this.#me, scores, salt });
      // Write-ahead: scores and salt are on disk before the commitment is sent.
      store.putSalt({ taskId, purpose, commitment, salt, data: { round, scores, verdicts, verifySeconds: (performance.now() - started) / 1000 } });
      stored = store.getSalt(taskId, purpose)!;
    }
    const scores = stored.data.scores as number[];

    if (state().committed !== true) {
      if ((await nowTs()) >= r.commitDeadline) return this.#missed(taskId, round, "the commit window closed before the commitment was sent", tlog);
      try {
        await sender.call(this.settlement, "commitScores", [taskId, stored.commitment], { label: `commitScores task ${taskId} round ${round}` });
        tlog.info({ round, commitment: stored.commitment }, `task ${taskId}: scores committed`);
      } catch (e) {
        if (!revertedWith(e, "AttesterAlreadyCommitted")) throw e;
      }
      this.#mergeRound(taskId, round, { committed: true });
    }

    const fresh = await this.settlement.getRound(taskId, round);
    const now = await nowTs();
    // Reveals open once every member committed or the commit window is over (the next block is later than `now`).
    if (now + 1n <= fresh.commitDeadline && fresh.commits < fresh.size) return;
    // A round whose commits missed the quorum never opens its reveals (finalize moves on; committed members are not slashed).
    if (fresh.commits < fresh.size && fresh.commits < (2n * fresh.size + 2n) / 3n) {
      if (state().missed === undefined) tlog.info({ round, commits: fresh.commits }, `task ${taskId}: round ${round} missed the quorum of commitments; its reveals never open`);
      this.#mergeRound(taskId, round, { missed: "the round missed the quorum of commitments" });
      return;
    }
    if (now >= fresh.revealDeadline) return this.#missed(taskId, round, "the reveal window closed", tlog);
    // Reveal only what this agent computed and committed to: the stored scores must open the stored commitment.
    const again = scoresCommitment({ settlement: await this.settlement.getAddress(), chainId: this.#rt.chain.chainId, taskId, round: BigInt(round), validator: this.#me, scores, salt: stored.salt });
    if (again !== stored.commitment) {
      throw new AgentError("STATE_UNAVAILABLE", `task ${taskId}: the stored scores do not open the stored commitment ${stored.commitment}`, { context: { taskId, round } });
    }
    try {
      await sender.call(this.settlement, "revealScores", [taskId, scores, stored.salt], { label: `revealScores task ${taskId} round ${round}` });
      tlog.info({ round, scores }, `task ${taskId}: scores revealed`);
    } catch (e) {
      if (!revertedWith(e, "AttesterAlreadyRevealed")) throw e;
    }
    this.#mergeRound(taskId, round, { revealed: true });
  }

  #missed(taskId: bigint, round: number, why: string, tlog: AgentRuntime["log"]): void {
    if (this.#data(taskId)?.rounds?.[round]?.missed !== undefined) return;
    tlog.error({ round }, `task ${taskId}: ${why}; this validator will be slashed for not revealing`);
    this.#mergeRound(taskId, round, { missed: why });
  }

  /** The inputs of a round's scoring, all read from the state's events and the contracts. */
  async #scoringInput(taskId: bigint, round: number, t: Awaited<ReturnType<TaskMarket["getTask"]>>): Promise<ScoringInput> {
    // A committee this agent drew itself in this step: its CommitteeDrawn event is not read yet.
    if (this.#data(taskId)?.rounds?.[round]?.seed2 === undefined) await this.#follow();
    const data = this.#data(taskId) ?? {};
    const seed2 = data.rounds?.[round]?.seed2;
    const missing = [
      data.specCid === undefined ? "TaskPosted (spec CID)" : undefined,
      data.testKeys === undefined ? "TestDataUnlocked (test keys)" : undefined,
      seed2 === undefined ? "CommitteeDrawn (draw seed)" : undefined,
    ].filter((m) => m !== undefined);
    if (missing.length > 0) {
      throw new AgentError("STATE_UNAVAILABLE", `task ${taskId}: events not seen: ${missing.join(", ")}; is --start-block after the task was posted?`, { context: { taskId, missing } });
    }
    const revealed = await this.market.getRevealed(taskId);
    return {
      taskId,
      round,
      seed: t.seed,
      seed2: seed2!,
      specCid: data.specCid!,
      trainKeys: data.trainKeys ?? [],
      testKeys: data.testKeys!,
      submissions: revealed.map((s) => ({
        miner: getAddress(s.miner),
        modelHash: s.modelHash,
        checkpointRoot: s.checkpointRoot,
        modelCid: data.cids?.[getAddress(s.miner)],
      })),
    };
  }

  /**
   * Whether `fixSeed` would do something for a started task: store a seed whose randomness is ready (so
   * that it can no longer expire and be requested again), or renew randomness that expired unread.
   * It reverts while the randomness is pending and once the seed is stored (the unlock also stores it).
   */
  async #seedDue(taskId: bigint): Promise<boolean> {
    try {
      await this.market.fixSeed.staticCall(taskId);
      return true;
    } catch (e) {
      if (revertData(e) === undefined) throw e;
      return false;
    }
  }

  /**
   * Sends a keeper call. Another keeper may have sent it first: a revert at estimation costs no
   * gas and is logged, not thrown.
   */
  async #keep(taskId: bigint, tlog: AgentRuntime["log"], what: string, send: () => Promise<unknown>): Promise<void> {
    if (!(await this.#mayKeep(taskId, what))) return;
    this.#dueSince.delete(`${taskId}:${what}`);
    try {
      await send();
      tlog.info(`keeper: ${what} sent`);
    } catch (e) {
      if (!isAgentError(e, "TX_REVERTED")) throw e;
      tlog.info({ revert: (e.context.revert as { summary?: string } | undefined)?.summary }, `keeper: ${what} not needed (${e.message})`);
    }
  }

  /**
   * Whether to send a due keeper call now: at once when this validator is the task's designated
   * keeper (registered validators in registry order, task id modulo their count), otherwise only
   * once the call has been due for the grace period and nobody else has sent it.
   */
  async #mayKeep(taskId: bigint, what: string): Promise<boolean> {
    const key = `${taskId}:${what}`;
    const since = this.#dueSince.get(key) ?? Date.now();
    this.#dueSince.set(key, since);
    if (this.#o.keeperGraceMs === 0 || Date.now() - since >= this.#o.keeperGraceMs) return true;
    const validators = await this.registry.validators();
    return validators.length > 0 && getAddress(validators[Number(taskId % BigInt(validators.length))]!) === this.#me;
  }

  /** Withdraws what the market owes in `token` and what the registry credited from slashes. */
  async #withdrawAll(token: string): Promise<void> {
    const { sender, log } = this.#rt;
    const owed = await this.market.creditOf(this.#me, token);
    if (owed > 0n) {
      await sender.call(this.market, "withdraw", [token], { label: `withdraw ${owed} of ${token === ZeroAddress ? "ETH" : token}` });
      log.info({ amount: owed, token }, `withdrew ${owed} ${token === ZeroAddress ? "wei" : `units of ${token}`} from the market`);
    }
    const slashed = await this.registry.creditOf(this.#me);
    if (slashed > 0n) {
      await sender.call(this.registry, "withdrawCredit", [], { label: `withdrawCredit ${slashed}` });
      log.info({ amount: slashed }, `withdrew ${slashed} of slashing proceeds from the registry`);
    }
  }
}

function keysOf(keys: Result): ShardKeyJson[] {
  return [...keys].map((k) => {
    const key = k as { index: bigint; cidHash: string; key: string };
    return { index: Number(key.index), cidHash: key.cidHash, key: key.key };
  });
}

function revertedWith(e: unknown, name: string): boolean {
  return isAgentError(e, "TX_REVERTED") && (e.context.revert as { name?: string } | undefined)?.name === name;
}
