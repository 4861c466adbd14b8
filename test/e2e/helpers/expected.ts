/**
 * What the protocol says a task should pay, computed here from the rules in docs/settlement.md and
 * DESIGN.md §3 (not from the contracts), so the end-to-end test can hold the chain to them to the wei.
 */
import { AbiCoder, getAddress, keccak256 } from "ethers";

const BPS = 10_000n;
const coder = AbiCoder.defaultAbiCoder();

export interface Scored {
  miner: string;
  modelHash: string;
  commitSeq: number;
  /** Revealed scores of the members who revealed. */
  scores: number[];
}

/** Lower median: element ⌊(k−1)/2⌋ of the sorted scores. */
export function lowerMedian(scores: readonly number[]): number {
  const sorted = [...scores].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Winner index (or undefined) and ommer indices, by the rules of docs/settlement.md. */
export function winnerAndOmmers(subs: readonly Scored[], threshold: number, epsilon: number, maxOmmers: number): { winner?: number; ommers: number[] } {
  const medians = subs.map((s) => lowerMedian(s.scores));
  const valid = medians.map((m, i) => ({ m, i })).filter(({ m }) => m >= threshold);
  if (valid.length === 0) return { ommers: [] };
  const best = Math.max(...valid.map((v) => v.m));
  const winner = valid.filter((v) => v.m >= best - epsilon).sort((a, b) => subs[a.i]!.commitSeq - subs[b.i]!.commitSeq)[0]!.i;
  const ommers = valid
    .filter((v) => v.i !== winner)
    .sort((a, b) => b.m - a.m || subs[a.i]!.commitSeq - subs[b.i]!.commitSeq)
    .slice(0, maxOmmers)
    .map((v) => v.i);
  return { winner, ommers };
}

export interface SettlementInput {
  publisher: string;
  reward: bigint;
  publisherBond: bigint;
  minerBond: bigint;
  /** Miners who committed (revealed or not). */
  committed: number;
  subs: readonly Scored[];
  /** Agreeing validators in committee order. */
  agreeing: readonly string[];
  /** Receives the forfeits when nobody agreed. */
  treasury: string;
  winner?: number;
  ommers: readonly number[];
  validatorShareBps: bigint;
  ommerShareBps: bigint;
}

/**
 * Account → credit of a finalized task with medians (outcome Validated or NoValidSubmission). Only
 * accounts credited something appear (the market emits no credit of 0).
 */
export function expectedSettlement(x: SettlementInput): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const add = (a: string, v: bigint) => {
    if (v !== 0n) out.set(getAddress(a), (out.get(getAddress(a)) ?? 0n) + v);
  };
  // a revealed submission with median 0 (judged invalid) forfeits its bond, like an unrevealed one; the
  // forfeits go in equal parts to the agreeing validators (dust to the first in committee order), to the
  // treasury when none agreed, never to the winner (issue 9 finding 7); the shares come from the reward alone
  const kept = x.subs.filter((s) => lowerMedian(s.scores) > 0);
  const forfeited = BigInt(x.committed - kept.length) * x.minerBond;
  const rewardPool = x.reward;
  for (const s of kept) add(s.miner, x.minerBond);
  const fee = (rewardPool * x.validatorShareBps) / BPS;
  let rest = rewardPool;
  if (x.agreeing.length > 0) {
    const k = BigInt(x.agreeing.length);
    const part = fee / k;
    const forfeitPart = forfeited / k;
    for (const [i, v] of x.agreeing.entries()) add(v, part + forfeitPart + (i === 0 ? forfeited - forfeitPart * k : 0n));
    rest -= part * k;
  } else {
    add(x.treasury, forfeited);
  }
  if (x.winner === undefined) {
    add(x.publisher, x.publisherBond + rest);
    return out;
  }
  if (x.ommers.length > 0) {
    const part = (rewardPool * x.ommerShareBps) / BPS / BigInt(x.ommers.length);
    for (const o of x.ommers) add(x.subs[o]!.miner, part);
    rest -= part * BigInt(x.ommers.length);
  }
  add(x.subs[x.winner]!.miner, rest);
  add(x.publisher, x.publisherBond);
  return out;
}

/**
 * Account → credit when the publisher missed the test keys (DESIGN §3.5), in two parts: the default
 * itself (the publisher's reward back, the publisher bond's rounding dust to the treasury) and each
 * committed miner's claim (its bond and an equal share of the publisher bond). No model was revealed.
 */
export function expectedDefault(x: { publisher: string; treasury: string; reward: bigint; publisherBond: bigint; minerBond: bigint; committers: readonly string[] }): {
  atDefault: Map<string, bigint>;
  claims: Map<string, bigint>;
} {
  const n = BigInt(x.committers.length);
  const atDefault = new Map([[getAddress(x.publisher), x.reward]]);
  const dust = x.publisherBond % n;
  if (dust > 0n) atDefault.set(getAddress(x.treasury), dust);
  return { atDefault, claims: new Map(x.committers.map((m) => [getAddress(m), x.minerBond + x.publisherBond / n])) };
}

/** The learning chain's next head: keccak256(abi.encode(head, height, taskId, winner, modelHash, score, ommersHash, datasetRoot)). */
export function nextHead(x: { head: string; height: bigint; taskId: bigint; winner: string; modelHash: string; score: number; ommerHashes: readonly string[]; datasetRoot: string }): string {
  const ommersHash = keccak256(coder.encode(["bytes32[]"], [x.ommerHashes]));
  return keccak256(
    coder.encode(
      ["bytes32", "uint256", "uint256", "address", "bytes32", "uint16", "bytes32", "bytes32"],
      [x.head, x.height, x.taskId, x.winner, x.modelHash, x.score, ommersHash, x.datasetRoot],
    ),
  );
}

/**
 * Revealed members that agree with the medians: for every submission, their score is within
 * `tolerance` of it, whichever side of the threshold (honest noise across it agrees; issue 9 finding 9).
 */
export function agreeingValidators(scores: ReadonlyMap<string, readonly number[]>, medians: readonly number[], _threshold: number, tolerance: number): string[] {
  return [...scores.entries()]
    .filter(([, s]) => s.every((score, j) => {
      const m = medians[j]!;
      return Math.abs(score - m) <= tolerance;
    }))
    .map(([v]) => getAddress(v));
}
