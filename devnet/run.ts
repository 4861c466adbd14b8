/**
 * One demo run, as a function the demo script and the end-to-end bench share: node, deployment,
 * funding, agents, two tasks to their end, the report. Never throws; a failure is a summary with
 * `demo: "failed"` and the children are stopped either way.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getAddress } from "ethers";
import { deployPodl, defaults, localWindows, withOverrides, type DeploymentRecord, type ParamOverrides } from "./deployment.js";
import { nameBootstrapPeers } from "./bootstrap.js";
import { ROLES, account, agentEnv, eth, fund, minerArgs, postArgs, prepareAgent, serveArgs, verifierArgs, type AgentSetup } from "./network.js";
import { startHardhatNode, waitForPort, type LocalNode } from "./node.js";
import { TERMINAL_PHASES, contractsOf, phaseOf, readLearningChain, readTask, type LearningChain, type TaskReport } from "./report.js";
import { startDemoExplorer } from "./explorer.js";
import { Supervisor, shortHex, type AgentProcess, type LogLine } from "./supervisor.js";

export interface DemoOptions {
  repoRoot: string;
  /** Run folder: deployment, agents' states and IPFS repos, logs/<agent>.jsonl. */
  folder: string;
  mnistExamples: number;
  timeoutMs: number;
  verbose: boolean;
  print: (line: string) => void;
  /** Serve the explorer while the demo runs (`--no-explorer` leaves this out); port 0 or absent picks a free one. */
  explorer?: { port?: number | undefined };
  signal?: AbortSignal;
  /** Every JSON log line of every agent (the bench collects timings here). */
  onLog?: (agent: string, line: LogLine) => void;
  /** The tasks to post (default DEMO_TASKS). */
  tasks?: readonly DemoTask[];
  /** Deploy parameters on top of `localWindows`. */
  params?: ParamOverrides;
  /** Where the agents reach the node, given its URL (the fault bench puts a proxy in between); default the node itself. */
  agentRpc?: (nodeUrl: string) => Promise<string>;
  /** The miners' training engine (`podl miner --engine`); their own choice when absent. */
  engine?: "torch" | "tfjs";
  /** How many of the demo's miners and validators to start (default all: 3 and 4); a shorter run starts fewer. */
  cast?: { miners?: number; validators?: number };
}

export interface DemoTask {
  label: string;
  dataset: string;
  spec: string;
  reward: string;
  /** Minimum accuracy, bps. */
  threshold: number;
  /** Seconds from the training-key unlock to the commit deadline. */
  trainWindow: number;
}

/** The two tasks of the demo: what the publisher is asked to post. */
export const DEMO_TASKS: readonly DemoTask[] = [
  { label: "iris", dataset: "iris", spec: "irisMlp", reward: "1", threshold: 7000, trainWindow: 30 },
  { label: "mnist", dataset: "mnist", spec: "mnistMlp", reward: "2", threshold: 6000, trainWindow: 60 },
];

/**
 * `npm run demo -- --cnn`: the MNIST task with the mnistCnn preset (convolutional SML, conv and
 * pooling layers), which trains on wasm with the registered convolution gradients; a CNN epoch costs
 * several MLP epochs, so its window is longer.
 */
export const CNN_DEMO_TASKS: readonly DemoTask[] = [DEMO_TASKS[0]!, { label: "mnist-cnn", dataset: "mnist", spec: "mnistCnn", reward: "2", threshold: 6000, trainWindow: 240 }];

const POLL_MS = 500;

export interface TaskSummary {
  taskId: string;
  dataset: string;
  phase: string;
  outcome?: string;
  winner?: string;
  winnerName?: string;
  scoreBps?: number;
  modelCid?: string;
  submissions: { miner: string; name: string; medianBps?: number; scores: Record<string, number>; modelCid: string }[];
  payouts: { account: string; name: string; wei: string }[];
  slashed: { validator: string; name: string; wei: string }[];
  /** Seconds from the demo's start to each phase the demo saw. */
  phaseTimes: Record<string, number>;
}

export type DemoSummary =
  | { demo: "ok"; seconds: number; chainId: string; tasks: TaskSummary[]; learningChain: { height: number; head: string; blocks: number } }
  | { demo: "failed"; seconds: number; error: string; tasks: TaskSummary[] };

class DemoError extends Error {}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const t0 = performance.now();
  const elapsed = () => Math.round((performance.now() - t0) / 100) / 10;
  const say = (text: string) => supervisor.say("demo", text);
  const supervisor = new Supervisor({
    root: options.repoRoot,
    logDir: join(options.folder, "logs"),
    print: options.print,
    verbose: options.verbose,
    ...(options.onLog !== undefined ? { onLog: options.onLog } : {}),
  });
  let node: LocalNode | undefined;
  let contracts: ReturnType<typeof contractsOf> | undefined;
  const tasks: { label: string; taskId: bigint; phaseTimes: Record<string, number> }[] = [];
  let names = new Map<string, string>();
  const nameOf = (a: string) => names.get(getAddress(a)) ?? shortHex(a);

  const guard = (what: string) => {
    if (options.signal?.aborted === true) throw new DemoError(`interrupted while ${what}`);
    if (elapsed() * 1000 > options.timeoutMs) throw new DemoError(`timed out after ${options.timeoutMs / 1000} s while ${what}`);
    const crashed = supervisor.processes.find((p) => p.child.exitCode !== null && p.child.exitCode !== 0);
    if (crashed !== undefined) throw new DemoError(`${crashed.name} exited with code ${crashed.child.exitCode} while ${what}: ${reasonOf(crashed)}`);
  };
  const waitFor = async (what: string, done: () => Promise<boolean> | boolean) => {
    for (;;) {
      guard(what);
      if (await done()) return;
      await sleep(POLL_MS);
    }
  };
  const runToEnd = async (p: AgentProcess, what: string) => {
    const { code, signal } = await p.exited;
    if (code !== 0) throw new DemoError(`${p.name} failed (${signal ?? `exit code ${code}`}) while ${what}: ${reasonOf(p)}`);
  };

  try {
    say("starting a local Hardhat node (a block every second, and one per transaction)");
    node = await startHardhatNode({ cwd: options.repoRoot, intervalMs: 1000 });
    const provider = node.provider;
    say(`node up at ${node.url}; deploying PoDL with windows of seconds`);

    const params = withOverrides(defaults, localWindows, options.params ?? {});
    const deployment: DeploymentRecord = await deployPodl(account(ROLES.deployer).connect(provider), params, "demo");
    const deploymentFile = join(options.folder, "deployment.json");
    await writeFile(deploymentFile, `${JSON.stringify(deployment, null, 2)}\n`);
    for (const [label, address] of Object.entries(deployment.contracts)) say(`  ${label.padEnd(18)} ${address}`);
    const c = contractsOf(deployment, provider);
    contracts = c;
    const explorer = options.explorer && (await startDemoExplorer(supervisor, { rpcUrl: node.url, deploymentFile, folder: options.folder, port: options.explorer.port, pollIntervalMs: POLL_MS }));
    if (explorer) say(`explorer: ${explorer.url} (live while the demo runs)`);

    // The cast, with their state folders and IPFS identities.
    const publisher = await prepareAgent(options.folder, "publisher", "publisher", account(ROLES.publisher));
    // the publisher's node introduces the others: no agent is given another's address
    await nameBootstrapPeers(deploymentFile, [publisher.ipfsAddress]);
    const miners: AgentSetup[] = [];
    for (const [i, index] of ROLES.miners.slice(0, options.cast?.miners).entries()) miners.push(await prepareAgent(options.folder, `miner-${i + 1}`, "miner", account(index)));
    const validators: AgentSetup[] = [];
    for (const [i, index] of ROLES.validators.slice(0, options.cast?.validators).entries()) validators.push(await prepareAgent(options.folder, `validator-${i + 1}`, "verifier", account(index)));
    const cast = [publisher, ...miners, ...validators];
    names = new Map(cast.map((a) => [a.wallet.address, a.name]));
    const balances = await fund(provider, account(ROLES.deployer), cast.map((a) => a.wallet));
    say(`funded ${cast.length} accounts: ${cast.map((a) => `${a.name} ${eth(balances.get(a.wallet.address)!)} ETH`).join(", ")}`);

    const agentUrl = options.agentRpc === undefined ? node.url : await options.agentRpc(node.url);
    const env = (a: AgentSetup) => agentEnv(agentUrl, a, POLL_MS);

    // 1. The publisher posts both tasks (they wait in the queue), then one publisher process serves
    //    the shards and unlocks the keys for both.
    for (const t of options.tasks ?? DEMO_TASKS) {
      say(`publisher posts the ${t.label} task: ${t.spec}, reward ${t.reward} ETH, accuracy ≥ ${t.threshold / 100} %, ${t.trainWindow} s to train`);
      const extra = t.dataset === "mnist" ? ["--mnist-examples", String(options.mnistExamples)] : [];
      const before = await c.market.taskCount();
      await runToEnd(supervisor.spawn({ name: "publisher", args: postArgs(publisher, deploymentFile, t, extra), env: env(publisher) }), `posting the ${t.label} task`);
      const taskId = before + 1n;
      if ((await c.market.taskCount()) < taskId) throw new DemoError(`the publisher exited without posting the ${t.label} task`);
      tasks.push({ label: t.label, taskId, phaseTimes: { queued: elapsed() } });
    }
    supervisor.spawn({ name: "publisher", args: serveArgs(publisher, deploymentFile, ["--exit-when-done"]), env: env(publisher) });
    // Miners join through the publisher's node (the address book's bootstrap): it must be listening by then.
    await waitForNode(publisher, guard);

    // 2. Miners first (they prefetch while the tasks wait), then the validators, whose stakes let
    //    the tasks start.
    for (const m of miners) supervisor.spawn({ name: m.name, args: minerArgs(m, deploymentFile, [], ["--exit-when-idle", ...(options.engine === undefined ? [] : ["--engine", options.engine])]), env: env(m) });
    // Validators find the miners' models through the DHT; the miners' nodes listen before the validators start.
    for (const m of miners) await waitForNode(m, guard);
    for (const v of validators) supervisor.spawn({ name: v.name, args: verifierArgs(v, deploymentFile, [], ["--exit-when-idle"]), env: env(v) });

    // 3. Follow both tasks to their end, narrating phase changes.
    const last = new Map<bigint, string>();
    await waitFor("waiting for both tasks to settle", async () => {
      let open = 0;
      for (const t of tasks) {
        const phase = await phaseOf(c, t.taskId);
        if (last.get(t.taskId) !== phase) {
          last.set(t.taskId, phase);
          t.phaseTimes[phase] ??= elapsed();
          say(`task ${t.taskId} (${t.label}) is ${phase}`);
        }
        if (!TERMINAL_PHASES.has(phase)) open++;
      }
      return open === 0;
    });

    // 4. The agents withdraw their credits and exit by themselves; stragglers are stopped.
    say("both tasks ended; waiting for the agents to withdraw and exit");
    const deadline = performance.now() + 90_000;
    await waitFor("waiting for the agents to exit", () => performance.now() > deadline || supervisor.processes.every((p) => p === explorer?.process || p.child.exitCode !== null));
    const still = supervisor.processes.filter((p) => p !== explorer?.process && p.child.exitCode === null).map((p) => p.name);
    if (still.length > 0) say(`stopping ${still.join(", ")} (still running 90 s after the end)`);
    await supervisor.stopAll();

    // 5. The report.
    const reports: TaskReport[] = [];
    for (const t of tasks) reports.push(await readTask(c, t.taskId));
    const chain = await readLearningChain(c);
    printReport(options.print, reports, tasks, chain, nameOf);
    const summaries = reports.map((r, i) => summarise(r, tasks[i]!.label, tasks[i]!.phaseTimes, nameOf));
    const failed = summaries.filter((s) => s.phase !== "settled");
    if (failed.length > 0) throw new DemoError(`task(s) ${failed.map((s) => `${s.taskId} (${s.dataset}) ended ${s.phase}`).join(", ")} instead of settled`);
    return {
      demo: "ok",
      seconds: elapsed(),
      chainId: deployment.chainId,
      tasks: summaries,
      learningChain: { height: chain.height, head: chain.head, blocks: chain.blocks.length },
    };
  } catch (e) {
    const message = describeError(e);
    options.print(`demo failed: ${message}`);
    // What the chain says about the tasks so far, for whoever reads the summary.
    const partial: TaskSummary[] = [];
    for (const t of tasks) {
      const r = contracts === undefined ? undefined : await readTask(contracts, t.taskId).catch(() => undefined);
      partial.push(r === undefined ? { taskId: t.taskId.toString(), dataset: t.label, phase: "unknown", submissions: [], payouts: [], slashed: [], phaseTimes: t.phaseTimes } : summarise(r, t.label, t.phaseTimes, nameOf));
    }
    return { demo: "failed", seconds: elapsed(), error: message.split("\n")[0]!, tasks: partial };
  } finally {
    await supervisor.stopAll();
    await node?.stop();
  }
}

async function waitForNode(agent: AgentSetup, guard: (what: string) => void): Promise<void> {
  const port = Number(agent.ipfsListen.split("/").at(-1));
  for (;;) {
    guard(`waiting for ${agent.name}'s IPFS node`);
    try {
      await waitForPort(port, 1_000);
      return;
    } catch {
      // not listening yet
    }
  }
}

function summarise(r: TaskReport, dataset: string, phaseTimes: Record<string, number>, nameOf: (a: string) => string): TaskSummary {
  const winner = r.submissions.find((s) => s.winner);
  const out: TaskSummary = {
    taskId: r.taskId.toString(),
    dataset,
    phase: r.phase,
    submissions: r.submissions.map((s) => ({
      miner: s.miner,
      name: nameOf(s.miner),
      ...(s.median !== undefined ? { medianBps: s.median } : {}),
      scores: Object.fromEntries(Object.entries(s.scores).map(([v, score]) => [nameOf(v), score])),
      modelCid: s.modelCid,
    })),
    payouts: r.payouts.map((p) => ({ account: p.account, name: nameOf(p.account), wei: p.amount.toString() })),
    slashed: r.slashes.map((s) => ({ validator: s.validator, name: nameOf(s.validator), wei: s.amount.toString() })),
    phaseTimes,
  };
  if (r.outcome !== undefined) out.outcome = r.outcome;
  if (winner !== undefined) {
    out.winner = winner.miner;
    out.winnerName = nameOf(winner.miner);
    if (winner.median !== undefined) out.scoreBps = winner.median;
    out.modelCid = winner.modelCid;
  }
  return out;
}

function printReport(
  print: (line: string) => void,
  reports: TaskReport[],
  tasks: { label: string }[],
  chain: LearningChain,
  nameOf: (a: string) => string,
): void {
  const pct = (bps: number | undefined) => (bps === undefined ? "   -   " : `${(bps / 100).toFixed(2).padStart(6)}%`);
  print("");
  print("Leaderboard (test accuracy each validator measured; the median decides)");
  reports.forEach((r, i) => {
    print(`  task ${r.taskId} (${tasks[i]!.label}): ${r.phase}${r.outcome !== undefined ? `, ${r.outcome}` : ""}`);
    const validators = [...new Set(r.submissions.flatMap((s) => Object.keys(s.scores)))];
    const ranked = [...r.submissions].sort((a, b) => (b.median ?? -1) - (a.median ?? -1) || a.commitSeq - b.commitSeq);
    for (const s of ranked) {
      const scores = validators.map((v) => `${nameOf(v)} ${pct(s.scores[v])}`).join("  ");
      print(`    ${s.winner ? "winner " : "       "}${nameOf(s.miner).padEnd(12)} median ${pct(s.median)}   ${scores}   model ${s.modelCid}`);
    }
    if (r.submissions.length === 0) print("    no revealed submission");
  });
  print("");
  print("Payouts (credits in ETH when each task ended)");
  for (const r of reports) {
    print(`  task ${r.taskId}: pool ${r.pool === undefined ? "-" : eth(r.pool)} ETH`);
    for (const p of r.payouts) print(`    ${nameOf(p.account).padEnd(12)} ${eth(p.amount).padStart(22)} ETH`);
    for (const s of r.slashes) print(`    ${nameOf(s.validator).padEnd(12)} slashed ${eth(s.amount)} ETH of stake`);
    if (r.blockReward !== undefined) {
      print(`    block reward: publisher ${eth(r.blockReward.publisher)} PODL, winner ${eth(r.blockReward.winner)} PODL, ommers ${eth(r.blockReward.ommer)} PODL each`);
    }
  }
  print("");
  print(`Learning chain: height ${chain.height}, head ${chain.head}`);
  for (const b of chain.blocks) {
    print(`  block ${b.height}: task ${b.taskId}, winner ${nameOf(b.winner)}, accuracy ${(b.score / 100).toFixed(2)} %, model hash ${shortHex(b.modelHash)}, head ${shortHex(b.head)}`);
  }
}

/** The line that says why an agent stopped: the CLI's `podl <command>: message [CODE]`, else its last line. */
function reasonOf(p: AgentProcess): string {
  return [...p.tail].reverse().find((l) => /^podl[ :]/.test(l)) ?? p.tail.at(-1) ?? "(no output)";
}

/** One readable message: ethers errors carry the signed transaction in `message`, so use their short form. */
function describeError(e: unknown): string {
  if (e instanceof DemoError) return e.message;
  if (e instanceof Error) {
    const short = (e as { shortMessage?: unknown }).shortMessage;
    return typeof short === "string" ? short : e.message;
  }
  return String(e);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
