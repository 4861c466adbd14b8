import type { EventRow } from "./db.js";
import type { LiveViews } from "./live.js";
import { payoutsOf, type PayoutView } from "./payouts.js";

/** Every view here is a fold over the indexed events (chain order); nothing is stored twice. */
type Ev = EventRow & { time: number };

export const PHASES = ["queued", "started", "committing", "revealing", "attesting", "settled", "cancelled", "defaulted", "unvalidated"] as const;
export type Phase = (typeof PHASES)[number];
/** Events after which a task never changes again. */
export const TERMINAL_EVENTS = ["TaskSettled", "TaskCancelled", "TaskDefaulted"] as const;
const OUTCOMES = ["validated", "no valid submission", "unvalidated"] as const;

export interface TimelineEntry {
  step: string;
  time: number;
  block: number;
  tx: string;
}

export interface ScoreView {
  validator: string;
  round: number;
  /** Basis points; 0 = invalid. */
  score: number;
}

export interface SubmissionView {
  /** Reveal order (what scores and medians are indexed by). */
  index: number;
  miner: string;
  commitSeq: number;
  committedAt: number;
  revealedAt: number;
  modelHash: string;
  checkpointRoot: string;
  modelCid: string;
  scores: ScoreView[];
  median?: number;
  winner: boolean;
  ommer: boolean;
}

export interface CommitteeView {
  round: number;
  members: string[];
  commitDeadline: number;
  revealDeadline: number;
  committed: string[];
  revealed: string[];
}

export interface TaskView {
  taskId: number;
  publisher: string;
  token: string;
  reward: string;
  publisherBond: string;
  datasetRoot: string;
  specCid: string;
  /** What `postTask` asked for (workload, shards, threshold, windows); null when not readable. */
  request: Record<string, string> | null;
  phase: Phase;
  postedAt: number;
  timeline: TimelineEntry[];
  deadlines: { key?: number; commit?: number; testKey?: number; reveal?: number; attestCommit?: number; attestReveal?: number };
  commits: number;
  submissions: SubmissionView[];
  committees: CommitteeView[];
  outcome?: (typeof OUTCOMES)[number];
  pool?: string;
  winner?: string;
  learningBlock?: { height: number; head: string; modelHash: string; score: number };
  blockReward?: { publisherAmount: string; winnerAmount: string; ommerAmount: string };
  payouts: PayoutView[];
  slashes: { validator: string; amount: string; recipients: string[] }[];
}

const s = (v: unknown) => String(v);
const n = (v: unknown) => Number(v);

/**
 * A task from its own events (its posted payouts included), with the phase as the market derives
 * it from time (`now`, the chain's time at the indexed block).
 */
export function deriveTask(events: readonly Ev[], live: LiveViews | undefined, now: number): TaskView | undefined {
  const posted = events.find((e) => e.name === "TaskPosted");
  if (posted === undefined) return undefined;
  const a = posted.args;
  const request = (a.request ?? null) as Record<string, string> | null;
  const t: TaskView = {
    taskId: n(a.taskId),
    publisher: s(a.publisher),
    token: s(a.token),
    reward: s(a.reward),
    publisherBond: s(a.publisherBond),
    datasetRoot: s(a.datasetRoot),
    specCid: s(a.specCid),
    request,
    phase: "queued",
    postedAt: posted.time,
    timeline: [],
    deadlines: {},
    commits: 0,
    submissions: [],
    committees: [],
    payouts: [],
    slashes: [],
  };
  const commits = new Map<string, { seq: number; at: number }>();
  let medians: number[] | undefined;
  let winnerIndex: number | undefined;
  const step = (e: Ev, name: string) => t.timeline.push({ step: name, time: e.time, block: e.block, tx: e.tx });
  for (const e of events) {
    const x = e.args;
    switch (e.name) {
      case "TaskPosted":
        step(e, "posted");
        break;
      case "TaskStarted":
        step(e, "started");
        t.phase = "started";
        t.deadlines.key = n(x.keyDeadline);
        break;
      case "TrainingDataUnlocked":
        step(e, "training data unlocked");
        t.phase = "committing";
        t.deadlines.commit = n(x.commitDeadline);
        if (live) t.deadlines.testKey = n(x.commitDeadline) + n(live.params.testKeyWindow);
        break;
      case "ModelCommitted":
        commits.set(s(x.miner), { seq: n(x.commitSeq), at: e.time });
        break;
      case "TestDataUnlocked":
        step(e, "test data unlocked");
        if (live) t.deadlines.reveal = e.time + n(live.params.revealWindow);
        break;
      case "ModelRevealed": {
        const c = commits.get(s(x.miner));
        t.submissions.push({
          index: t.submissions.length,
          miner: s(x.miner),
          commitSeq: c?.seq ?? 0,
          committedAt: c?.at ?? 0,
          revealedAt: e.time,
          modelHash: s(x.modelHash),
          checkpointRoot: s(x.checkpointRoot),
          modelCid: s(x.modelCid),
          scores: [],
          winner: false,
          ommer: false,
        });
        break;
      }
      case "CommitteeSeated":
        step(e, `committee seated (round ${s(x.round)})`);
        t.committees.push({ round: n(x.round), members: (x.members as string[]).map(String), commitDeadline: n(x.commitDeadline), revealDeadline: n(x.revealDeadline), committed: [], revealed: [] });
        t.deadlines.attestCommit = n(x.commitDeadline);
        t.deadlines.attestReveal = n(x.revealDeadline);
        t.phase = "attesting";
        break;
      case "ScoresCommitted":
        t.committees.find((c) => c.round === n(x.round))?.committed.push(s(x.validator));
        break;
      case "ScoresRevealed":
        t.committees.find((c) => c.round === n(x.round))?.revealed.push(s(x.validator));
        (x.scores as string[]).forEach((score, i) => t.submissions[i]?.scores.push({ validator: s(x.validator), round: n(x.round), score: n(score) }));
        break;
      case "QuorumMissed":
        step(e, `quorum missed (round ${s(x.round)})`);
        break;
      case "TaskFinalized":
        medians = (x.medians as string[]).map(n);
        winnerIndex = BigInt(s(x.winner)) < BigInt(t.submissions.length) ? n(x.winner) : undefined;
        break;
      case "TaskSettled":
        step(e, "settled");
        t.outcome = OUTCOMES[n(x.outcome)] ?? "validated";
        t.phase = t.outcome === "unvalidated" ? "unvalidated" : "settled";
        t.pool = s(x.pool);
        break;
      case "LearningBlock":
        t.learningBlock = { height: n(x.height), head: s(x.head), modelHash: s(x.modelHash), score: n(x.score) };
        break;
      case "BlockRewarded":
        t.blockReward = { publisherAmount: s(x.publisherAmount), winnerAmount: s(x.winnerAmount), ommerAmount: s(x.ommerAmount) };
        break;
      case "Slashed":
        t.slashes.push({ validator: s(x.validator), amount: s(x.amount), recipients: (x.recipients as string[]).map(String) });
        break;
      case "TaskCancelled":
        step(e, "cancelled");
        t.phase = "cancelled";
        break;
      case "TaskEvicted":
        step(e, "evicted");
        break;
      case "TaskDefaulted":
        step(e, "defaulted");
        t.phase = "defaulted";
        break;
    }
  }
  t.commits = commits.size;
  // The market derives Revealing and Attesting from time: so does the explorer.
  if (t.phase === "committing" && t.deadlines.commit !== undefined && now > t.deadlines.commit) t.phase = "revealing";
  if (t.phase === "revealing" && t.deadlines.reveal !== undefined && now > t.deadlines.reveal) t.phase = "attesting";
  if (medians) medians.forEach((m, i) => t.submissions[i] && (t.submissions[i].median = m));
  const won = winnerIndex === undefined ? undefined : t.submissions[winnerIndex];
  if (won !== undefined) {
    won.winner = true;
    t.winner = won.miner;
    markOmmers(t, live);
  }
  if (t.outcome !== undefined) {
    t.payouts = payoutsOf(events, {
      token: t.token,
      publisher: t.publisher,
      winner: t.winner,
      ommers: t.submissions.filter((x) => x.ommer).map((x) => x.miner),
      miners: t.submissions.map((x) => x.miner),
      validators: t.committees.flatMap((c) => c.members),
    });
  }
  return t;
}

/** Ommers as settlement picks them: other submissions at or above the threshold, best median first, at most maxOmmers. */
function markOmmers(t: TaskView, live: LiveViews | undefined): void {
  const threshold = t.request ? n(t.request.accuracyThreshold) : 0;
  const max = live?.settlementParams ? n(live.settlementParams.maxOmmers) : 3;
  t.submissions
    .filter((x) => !x.winner && x.median !== undefined && x.median >= threshold && x.median <= 10_000)
    .sort((p, q) => q.median! - p.median! || p.commitSeq - q.commitSeq)
    .slice(0, max)
    .forEach((x) => (x.ommer = true));
}

/** The median of scores as the contract takes it (lower middle of an even count). */
export function median(scores: readonly number[]): number | undefined {
  if (scores.length === 0) return undefined;
  const sorted = [...scores].sort((p, q) => p - q);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export interface ValidatorView {
  address: string;
  stake: string;
  bonded: boolean;
  unbondingAt?: number;
  committees: number;
  reveals: number;
  slashed: string;
  slashes: number;
  earned: Record<string, string>;
}

/** Validators from the registry's events; earnings from the tasks' payouts (`payouts`). */
export function deriveValidators(events: readonly Ev[], payouts: readonly PayoutView[]): ValidatorView[] {
  const byAddress = new Map<string, ValidatorView>();
  const get = (address: string) => {
    let v = byAddress.get(address);
    if (v === undefined) byAddress.set(address, (v = { address, stake: "0", bonded: false, committees: 0, reveals: 0, slashed: "0", slashes: 0, earned: {} }));
    return v;
  };
  for (const e of events) {
    const x = e.args;
    if (e.contract !== "registry" && e.contract !== "settlement") continue;
    switch (e.name) {
      case "Staked": {
        const v = get(s(x.validator));
        v.stake = s(x.stake);
        v.bonded = true;
        delete v.unbondingAt;
        break;
      }
      case "UnbondRequested": {
        const v = get(s(x.validator));
        v.bonded = false;
        v.unbondingAt = n(x.withdrawableAt);
        break;
      }
      case "Withdrawn":
        if (e.contract === "registry") get(s(x.validator)).stake = (BigInt(get(s(x.validator)).stake) - BigInt(s(x.amount))).toString();
        break;
      case "Slashed": {
        const v = get(s(x.validator));
        v.stake = (BigInt(v.stake) - BigInt(s(x.amount))).toString();
        v.slashed = (BigInt(v.slashed) + BigInt(s(x.amount))).toString();
        v.slashes++;
        break;
      }
      case "CommitteeSeated":
        for (const m of x.members as string[]) get(String(m)).committees++;
        break;
      case "ScoresRevealed":
        get(s(x.validator)).reveals++;
        break;
    }
  }
  for (const p of payouts) if (p.role === "validator") addTo(get(p.account).earned, p.token, p.amount);
  return [...byAddress.values()].sort((p, q) => (BigInt(q.stake) > BigInt(p.stake) ? 1 : BigInt(q.stake) < BigInt(p.stake) ? -1 : p.address.localeCompare(q.address)));
}

export interface MinerView {
  address: string;
  submissions: number;
  wins: number;
  ommers: number;
  earned: Record<string, string>;
}

/** Miners from the tasks they revealed in; earnings are what they were credited as winner or ommer. */
export function deriveMiners(tasks: readonly TaskView[]): MinerView[] {
  const byAddress = new Map<string, MinerView>();
  for (const t of tasks) {
    for (const sub of t.submissions) {
      let m = byAddress.get(sub.miner);
      if (m === undefined) byAddress.set(sub.miner, (m = { address: sub.miner, submissions: 0, wins: 0, ommers: 0, earned: {} }));
      m.submissions++;
      if (sub.winner) m.wins++;
      if (sub.ommer) m.ommers++;
    }
    for (const p of t.payouts) if (p.role === "winner" || p.role === "ommer") addTo(byAddress.get(p.account)!.earned, p.token, p.amount);
  }
  return [...byAddress.values()].sort((p, q) => q.wins - p.wins || q.ommers - p.ommers || q.submissions - p.submissions || p.address.localeCompare(q.address));
}

function addTo(totals: Record<string, string>, token: string, amount: string): void {
  totals[token] = (BigInt(totals[token] ?? "0") + BigInt(amount)).toString();
}
