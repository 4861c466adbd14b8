/**
 * What happened to a task, read back from the chain alone (events and views): the submissions with
 * every validator's score and the medians, the credits the settlement handed out, slashes, block
 * rewards and the learning chain. The demo prints it; the end-to-end test checks it.
 */
import { getAddress, type Provider } from "ethers";
import {
  Settlement__factory,
  TaskMarket__factory,
  ValidatorRegistry__factory,
  type Settlement,
  type TaskMarket,
  type ValidatorRegistry,
} from "../types/index.js";
import { PHASE_NAMES as PHASES, TERMINAL_PHASE_NAMES } from "../agents/protocol/phases.js";
import type { DeploymentRecord } from "./deployment.js";

export { PHASES };
export const TERMINAL_PHASES = TERMINAL_PHASE_NAMES;
const OUTCOMES = ["validated", "no valid submission", "unvalidated"] as const;

export interface SubmissionRow {
  /** Position in `getRevealed` (the order scores are given in). */
  index: number;
  miner: string;
  modelCid: string;
  modelHash: string;
  commitSeq: number;
  /** Validator address → revealed score (bps), for the round that settled. */
  scores: Record<string, number>;
  /** Median the settlement took (bps); absent when the task did not finalize with medians. */
  median?: number;
  winner: boolean;
}

export interface PayoutRow {
  account: string;
  amount: bigint;
}

export interface SlashRow {
  validator: string;
  amount: bigint;
  recipients: string[];
}

export interface LearningBlockRow {
  height: number;
  taskId: bigint;
  winner: string;
  head: string;
  modelHash: string;
  score: number;
}

export interface TaskReport {
  taskId: bigint;
  phase: string;
  outcome?: string;
  token: string;
  reward: bigint;
  pool?: bigint;
  submissions: SubmissionRow[];
  /** Committee members of the round that settled (or the last drawn round). */
  committee: string[];
  /** Credits handed out when the task ended, in the task's token, in event order. */
  payouts: PayoutRow[];
  slashes: SlashRow[];
  blockReward?: { publisher: bigint; winner: bigint; ommer: bigint };
  learningBlock?: LearningBlockRow;
}

export interface Contracts {
  market: TaskMarket;
  settlement: Settlement;
  registry: ValidatorRegistry;
  fromBlock: number;
}

export function contractsOf(deployment: Pick<DeploymentRecord, "contracts" | "block">, provider: Provider): Contracts {
  return {
    market: TaskMarket__factory.connect(deployment.contracts.TaskMarket, provider),
    settlement: Settlement__factory.connect(deployment.contracts.Settlement, provider),
    registry: ValidatorRegistry__factory.connect(deployment.contracts.ValidatorRegistry, provider),
    fromBlock: deployment.block,
  };
}

export async function phaseOf(c: Contracts, taskId: bigint): Promise<string> {
  return PHASES[Number((await c.market.getTask(taskId)).phase)] ?? "unknown";
}

export async function readTask(c: Contracts, taskId: bigint): Promise<TaskReport> {
  const { market, settlement, registry, fromBlock } = c;
  const task = await market.getTask(taskId);
  const report: TaskReport = {
    taskId,
    phase: PHASES[Number(task.phase)] ?? "unknown",
    token: task.token,
    reward: task.reward,
    submissions: [],
    committee: [],
    payouts: [],
    slashes: [],
  };
  const revealed = await market.getRevealed(taskId);
  const cids = new Map<string, string>();
  for (const e of await market.queryFilter(market.filters.ModelRevealed(taskId), fromBlock)) cids.set(getAddress(e.args.miner), e.args.modelCid);
  report.submissions = revealed.map((s, index) => ({
    index,
    miner: getAddress(s.miner),
    modelCid: cids.get(getAddress(s.miner)) ?? "",
    modelHash: s.modelHash,
    commitSeq: Number(s.commitSeq),
    scores: {},
    winner: false,
  }));

  const [, round] = await settlement.statusOf(taskId);
  report.committee = (await settlement.committee(taskId, round)).map((a) => getAddress(a));
  for (const e of await settlement.queryFilter(settlement.filters.ScoresRevealed(taskId, round), fromBlock)) {
    e.args.scores.forEach((score, i) => {
      const row = report.submissions[i];
      if (row !== undefined) row.scores[getAddress(e.args.validator)] = Number(score);
    });
  }
  const finalized = (await settlement.queryFilter(settlement.filters.TaskFinalized(taskId), fromBlock))[0];
  if (finalized !== undefined) {
    finalized.args.medians.forEach((m, i) => {
      const row = report.submissions[i];
      if (row !== undefined) row.median = Number(m);
    });
    const winner = report.submissions[Number(finalized.args.winner)];
    if (winner !== undefined && finalized.args.winner < BigInt(report.submissions.length)) winner.winner = true;
  }
  for (const e of await registry.queryFilter(registry.filters.Slashed(taskId), fromBlock)) {
    report.slashes.push({ validator: getAddress(e.args.validator), amount: e.args.amount, recipients: e.args.recipients.map((r) => getAddress(r)) });
  }
  const rewarded = (await settlement.queryFilter(settlement.filters.BlockRewarded(taskId), fromBlock))[0];
  if (rewarded !== undefined) {
    report.blockReward = { publisher: rewarded.args.publisherAmount, winner: rewarded.args.winnerAmount, ommer: rewarded.args.ommerAmount };
  }
  const block = (await market.queryFilter(market.filters.LearningBlock(undefined, taskId), fromBlock))[0];
  if (block !== undefined) report.learningBlock = learningBlockOf(block.args);

  // The credits of the transaction that ended the task (settle, default or cancel).
  const ending = [
    ...(await market.queryFilter(market.filters.TaskSettled(taskId), fromBlock)),
    ...(await market.queryFilter(market.filters.TaskDefaulted(taskId), fromBlock)),
    ...(await market.queryFilter(market.filters.TaskCancelled(taskId), fromBlock)),
  ][0];
  if (ending !== undefined) {
    const settled = (await market.queryFilter(market.filters.TaskSettled(taskId), fromBlock))[0];
    if (settled !== undefined) {
      report.outcome = OUTCOMES[Number(settled.args.outcome)];
      report.pool = settled.args.pool;
    }
    const receipt = await ending.getTransactionReceipt();
    const marketAddress = getAddress(await market.getAddress());
    for (const log of receipt.logs) {
      if (getAddress(log.address) !== marketAddress) continue;
      const parsed = market.interface.parseLog(log);
      if (parsed?.name === "Credited") report.payouts.push({ account: getAddress(parsed.args.account as string), amount: parsed.args.amount as bigint });
      // a settlement posts its payouts (claimed later); the non-zero ones are what each payee is owed
      if (parsed?.name === "PayoutsPosted") {
        for (const p of parsed.args.payouts as { account: string; amount: bigint }[]) if (p.amount > 0n) report.payouts.push({ account: getAddress(p.account), amount: p.amount });
      }
    }
  }
  return report;
}

function learningBlockOf(a: { height: bigint; taskId: bigint; winner: string; head: string; modelHash: string; score: bigint }): LearningBlockRow {
  return { height: Number(a.height), taskId: a.taskId, winner: getAddress(a.winner), head: a.head, modelHash: a.modelHash, score: Number(a.score) };
}

export interface LearningChain {
  height: number;
  head: string;
  blocks: LearningBlockRow[];
}

export async function readLearningChain(c: Contracts): Promise<LearningChain> {
  const blocks = (await c.market.queryFilter(c.market.filters.LearningBlock(), c.fromBlock)).map((e) => learningBlockOf(e.args));
  return { height: Number(await c.market.chainHeight()), head: await c.market.chainHead(), blocks };
}
