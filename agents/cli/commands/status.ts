import { ZeroAddress, formatEther, formatUnits, getAddress, isAddress, type JsonRpcProvider } from "ethers";
import { z } from "zod";
import { connectContracts, type PodlContracts } from "../../chain/contracts.js";
import { PHASE_NAMES } from "../../protocol/phases.js";
import { unclaimedByToken } from "../../chain/payouts.js";
import { addressBook, deploymentConfigShape } from "../../config/deployment.js";
import { isAgentError } from "../../config/errors.js";
import { loadWallet } from "../../config/keys.js";
import { agentConfigSchema } from "../../config/schema.js";
import { connectCommandChain, loadCommandConfig } from "../command-chain.js";
import { configOptions, type Command } from "../command.js";

const address = z.string().refine((a) => isAddress(a), "must be a 0x address");

/** Tokens named on the command line (`--tokens a,b`), each a 0x address. */
export const tokenList = z
  .string()
  .transform((s) => s.split(",").map((t) => t.trim()).filter((t) => t !== ""))
  .refine((ts) => ts.every((t) => isAddress(t)), "must be 0x addresses, comma-separated");

export const statusConfigSchema = agentConfigSchema
  .extend({
    ...deploymentConfigShape,
    account: address.optional().describe("account whose balances and credits to show (default: the configured key's, if any)"),
    tokens: tokenList.optional().describe("ERC20 tokens to show market credits in besides ETH and the reward token, comma-separated"),
    recent: z.coerce.number().int().min(0).max(1_000).default(10).describe("finished tasks to list, newest first (default 10)"),
  })
  .strict();

export type StatusConfig = z.infer<typeof statusConfigSchema>;

const ACTIVE = new Set(["started", "committing", "revealing", "attesting"]);
/** Tasks looked at, newest first, when searching for the active and recent ones. */
const SCAN_LIMIT = 1_000;

/** What `podl status` shows; amounts are decimal strings of base units (wei), times are unix seconds. */
export interface MarketStatus {
  chainId: string;
  block: number;
  time: number;
  market: string;
  learningChain: { height: string; head: string; blocks: { height: string; taskId: string; winner: string; score: number; modelHash: string }[] };
  queue: { taskId: string; score: string; publisher: string; token: string; reward: string }[];
  queueBound: number;
  active: ActiveTask[];
  activeBound: number;
  recent: { taskId: string; phase: string; winner?: string; score?: number }[];
  account?: AccountStatus;
}

export interface ActiveTask {
  taskId: string;
  phase: string;
  publisher: string;
  token: string;
  reward: string;
  /** The deadline of the current phase (key unlock, commit, test keys/reveal), 0 when none applies. */
  deadline: number;
  committed: number;
  maxSubmissions: number;
  submissions: { miner: string; modelHash: string; modelCid?: string; commitSeq: number }[];
  /** Attestation round, once the committee is requested. */
  attestation?: { round: string; size: number; commits: number; reveals: number; commitDeadline: number; revealDeadline: number };
}

export interface AccountStatus {
  address: string;
  eth: string;
  rewardToken?: string;
  /** Market credits by token address (address(0) = ETH). */
  marketCredits: Record<string, string>;
  /** Posted payouts of settled tasks not yet claimed into credits, by token (`podl withdraw` claims them). */
  unclaimedPayouts: Record<string, string>;
  registry: { stakeToken: string; stake: string; bonded: boolean; unbondingAt: number; withdrawableAt: number; openCommittees: number; credit: string };
}

/** `podl status`: the market, the learning chain and an account, read from the chain (no state, no key needed). */
export const statusCommand: Command = {
  name: "status",
  summary: "show the queue, active tasks, the learning chain and an account's balances",
  description: [
    "Reads the market: the queue in start order with each task's DLBC ranking score (lowest starts first),",
    "the active tasks with their phase, deadline, submissions and attestation round, recently finished",
    "tasks, the learning chain's head and height, and an account's ETH, reward token, market credits and",
    "validator stake and credit (--account, or the configured key's address). --json prints one JSON object.",
  ].join("\n"),
  options: {
    ...configOptions(statusConfigSchema),
    json: { type: "boolean", description: "print one JSON object instead of text" },
  },
  async run({ values, io }) {
    const config = loadCommandConfig(statusConfigSchema, { values, io });
    const book = addressBook(config);
    const chain = await connectCommandChain(config, "status");
    try {
      const account = config.account ?? (await keyAddress(config, io.env));
      const contracts = await connectContracts(book, chain.provider);
      const status = await readStatus(chain.provider, contracts, { startBlock: book.startBlock, recent: config.recent, tokens: config.tokens ?? [], ...(account ? { account } : {}) });
      if (values.json === true) io.out(JSON.stringify(status));
      else for (const line of formatStatus(status)) io.out(line);
      return 0;
    } finally {
      chain.provider.destroy();
    }
  },
};

/** The configured key's address, or undefined when no key is configured (status needs none). */
export async function keyAddress(config: StatusConfig, env: Record<string, string | undefined>): Promise<string | undefined> {
  try {
    return (await loadWallet({ keystore: config.keystore, keystorePasswordFile: config.keystorePasswordFile, env })).address;
  } catch (e) {
    if (isAgentError(e, "KEY_MISSING")) return undefined;
    throw e;
  }
}

/** Everything `podl status` shows, read at one block. */
export async function readStatus(
  provider: JsonRpcProvider,
  c: PodlContracts,
  options: { startBlock: number; recent: number; tokens: string[]; account?: string },
): Promise<MarketStatus> {
  const block = (await provider.getBlock("latest"))!;
  const at = { blockTag: block.number };
  const { market } = c;
  const [params, height, head, taskCount, activeCount] = await Promise.all([
    market.params(at),
    market.chainHeight(at),
    market.chainHead(at),
    market.taskCount(at),
    market.activeCount(at),
  ]);
  const blocks = await market.queryFilter(market.filters.LearningBlock(), options.startBlock, block.number);
  const status: MarketStatus = {
    chainId: (await provider.getNetwork()).chainId.toString(),
    block: block.number,
    time: block.timestamp,
    market: await market.getAddress(),
    learningChain: {
      height: height.toString(),
      head,
      blocks: blocks.map((e) => ({ height: e.args.height.toString(), taskId: e.args.taskId.toString(), winner: e.args.winner, score: Number(e.args.score), modelHash: e.args.modelHash })),
    },
    queue: await readQueue(c, Number(params.maxQueue), at),
    queueBound: Number(params.maxQueue),
    active: [],
    activeBound: Number(params.maxActive),
    recent: [],
  };
  const winners = new Map(status.learningChain.blocks.map((b) => [b.taskId, b]));
  for (let id = taskCount; id >= 1n && taskCount - id < BigInt(SCAN_LIMIT); id--) {
    if (status.active.length >= Number(activeCount) && status.recent.length >= options.recent) break;
    const t = await market.getTask(id, at);
    const phase = PHASE_NAMES[Number(t.phase)]!;
    if (ACTIVE.has(phase)) {
      status.active.push(await readActive(c, id, t, options.startBlock, block.number));
    } else if (phase !== "queued" && status.recent.length < options.recent) {
      const won = winners.get(id.toString());
      status.recent.push({ taskId: id.toString(), phase, ...(won ? { winner: won.winner, score: won.score } : {}) });
    }
  }
  if (options.account !== undefined) status.account = await readAccount(provider, c, getAddress(options.account), options.tokens, at);
  return status;
}

async function readQueue(c: PodlContracts, maxQueue: number, at: { blockTag: number }): Promise<MarketStatus["queue"]> {
  let ranked: { taskId: bigint; score: bigint }[];
  if (c.queueLens !== undefined) {
    const [ids, scores] = await c.queueLens.queuePage(0, maxQueue, at);
    ranked = ids.map((taskId, i) => ({ taskId, score: scores[i]! }));
  } else {
    // Without the lens: the queue words carry the task id in their top 32 bits; order by rankOf.
    const words = await c.market.queueWords(at);
    ranked = await Promise.all(words.map(async (w) => ({ taskId: w >> 224n, score: await c.market.rankOf(w >> 224n, at) })));
    ranked.sort((a, b) => (a.score === b.score ? Number(a.taskId - b.taskId) : a.score < b.score ? -1 : 1));
  }
  return await Promise.all(
    ranked.map(async ({ taskId, score }) => {
      const t = await c.market.getTask(taskId, at);
      return { taskId: taskId.toString(), score: formatUnits(score, 18), publisher: t.publisher, token: t.token, reward: t.reward.toString() };
    }),
  );
}

async function readActive(
  c: PodlContracts,
  taskId: bigint,
  t: Awaited<ReturnType<PodlContracts["market"]["getTask"]>>,
  startBlock: number,
  block: number,
): Promise<ActiveTask> {
  const phase = PHASE_NAMES[Number(t.phase)]!;
  const deadline = phase === "started" ? t.deadline : phase === "committing" ? t.commitDeadline : phase === "revealing" ? (t.testUnlockedAt === 0n ? t.testKeyDeadline : t.revealDeadline) : 0n;
  const [revealed, cids] = await Promise.all([
    c.market.getRevealed(taskId, { blockTag: block }),
    c.market.queryFilter(c.market.filters.ModelRevealed(taskId), startBlock, block),
  ]);
  const cidOf = new Map(cids.map((e) => [getAddress(e.args.miner), e.args.modelCid]));
  const active: ActiveTask = {
    taskId: taskId.toString(),
    phase,
    publisher: t.publisher,
    token: t.token,
    reward: t.reward.toString(),
    deadline: Number(deadline),
    committed: Number(t.submissionCount),
    maxSubmissions: Number(t.maxSubmissions),
    submissions: revealed.map((s) => {
      const cid = cidOf.get(getAddress(s.miner));
      return { miner: s.miner, modelHash: s.modelHash, commitSeq: Number(s.commitSeq), ...(cid ? { modelCid: cid } : {}) };
    }),
  };
  if (c.settlement !== undefined && phase === "attesting") {
    const [state, round] = await c.settlement.statusOf(taskId, { blockTag: block });
    if (state !== 0n) {
      const r = await c.settlement.getRound(taskId, round, { blockTag: block });
      active.attestation = { round: round.toString(), size: Number(r.size), commits: Number(r.commits), reveals: Number(r.reveals), commitDeadline: Number(r.commitDeadline), revealDeadline: Number(r.revealDeadline) };
    }
  }
  return active;
}

async function readAccount(provider: JsonRpcProvider, c: PodlContracts, who: string, tokens: string[], at: { blockTag: number }): Promise<AccountStatus> {
  const creditTokens = [ZeroAddress, ...(c.rewardToken ? [await c.rewardToken.getAddress()] : []), ...tokens.map((t) => getAddress(t))];
  const marketCredits: Record<string, string> = {};
  for (const token of new Set(creditTokens)) marketCredits[token] = (await c.market.creditOf(who, token, at)).toString();
  const unclaimedPayouts = Object.fromEntries([...(await unclaimedByToken(c.market, who))].map(([token, wei]) => [token, wei.toString()]));
  const [v, params, credit, stakeToken, eth] = await Promise.all([
    c.registry.getValidator(who, at),
    c.registry.params(at),
    c.registry.creditOf(who, at),
    c.registry.stakeToken(at),
    provider.getBalance(who, at.blockTag),
  ]);
  const account: AccountStatus = {
    address: who,
    eth: eth.toString(),
    marketCredits,
    unclaimedPayouts,
    registry: {
      stakeToken,
      stake: v.stake.toString(),
      bonded: v.registered && v.unbondingAt === 0n && v.stake >= params.minStake,
      unbondingAt: Number(v.unbondingAt),
      withdrawableAt: v.unbondingAt === 0n ? 0 : Number(v.unbondingAt + params.unbondingPeriod),
      openCommittees: Number(v.openCommittees),
      credit: credit.toString(),
    },
  };
  if (c.rewardToken) account.rewardToken = (await c.rewardToken.balanceOf(who, at)).toString();
  return account;
}

const short = (a: string) => `${a.slice(0, 8)}…${a.slice(-4)}`;
const amount = (wei: string, token: string) => (token === ZeroAddress ? `${formatEther(wei)} ETH` : `${formatEther(wei)} of ${short(token)}`);
function until(deadline: number, now: number): string {
  if (deadline === 0) return "";
  return deadline >= now ? `, ends in ${deadline - now} s` : `, ended ${now - deadline} s ago`;
}

/** The status for people, one line per item. */
export function formatStatus(s: MarketStatus): string[] {
  const lines = [
    `chain ${s.chainId}, block ${s.block}; market ${s.market}`,
    `learning chain: height ${s.learningChain.height}, head ${s.learningChain.head}`,
    ...s.learningChain.blocks.slice(-5).map((b) => `  block ${b.height}: task ${b.taskId}, winner ${b.winner}, accuracy ${(b.score / 100).toFixed(2)} %, model ${b.modelHash}`),
    `queue: ${s.queue.length} of ${s.queueBound} (lowest score starts first)`,
    ...s.queue.map((q, i) => `  ${i + 1}. task ${q.taskId}: score ${q.score}, reward ${amount(q.reward, q.token)}, publisher ${short(q.publisher)}`),
    `active tasks: ${s.active.length} of ${s.activeBound}`,
  ];
  for (const t of s.active) {
    lines.push(`  task ${t.taskId}: ${t.phase}${until(t.deadline, s.time)}; ${t.committed} of ${t.maxSubmissions} committed, ${t.submissions.length} revealed; reward ${amount(t.reward, t.token)}`);
    for (const sub of t.submissions) lines.push(`    #${sub.commitSeq} ${sub.miner}: model ${sub.modelCid ?? sub.modelHash}`);
    const a = t.attestation;
    if (a) lines.push(`    attestation round ${a.round}: committee of ${a.size}, ${a.commits} committed, ${a.reveals} revealed scores`);
  }
  if (s.recent.length > 0) lines.push("recently finished:");
  for (const r of s.recent) lines.push(`  task ${r.taskId}: ${r.phase}${r.winner ? `, winner ${r.winner} at ${((r.score ?? 0) / 100).toFixed(2)} %` : ""}`);
  const a = s.account;
  if (a) {
    lines.push(`account ${a.address}: ${formatEther(a.eth)} ETH${a.rewardToken !== undefined ? `, ${formatEther(a.rewardToken)} reward token` : ""}`);
    lines.push(`  market credits: ${Object.entries(a.marketCredits).map(([token, wei]) => amount(wei, token)).join(", ")}`);
    const unclaimed = Object.entries(a.unclaimedPayouts);
    if (unclaimed.length > 0) lines.push(`  unclaimed payouts (podl withdraw claims them): ${unclaimed.map(([token, wei]) => amount(wei, token)).join(", ")}`);
    const r = a.registry;
    const stake = `${formatEther(r.stake)} ${r.stakeToken === ZeroAddress ? "ETH" : `of ${short(r.stakeToken)}`}`;
    const state = r.bonded ? "bonded" : r.unbondingAt !== 0 ? `unbonding, withdrawable ${r.withdrawableAt <= s.time ? "now" : `in ${r.withdrawableAt - s.time} s`}` : "not bonded";
    lines.push(`  validator: stake ${stake} (${state}${r.openCommittees ? `, on ${r.openCommittees} open committee(s)` : ""}), credit ${formatEther(r.credit)}`);
  } else {
    lines.push("account: none (use --account or configure a key)");
  }
  return lines;
}

