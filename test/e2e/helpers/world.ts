/**
 * A whole local PoDL for the end-to-end test: a `hardhat node` child with interval mining, the
 * contracts with windows of seconds, agents as real `podl` processes (devnet/'s supervisor),
 * an optional unreliable RPC endpoint in front of the node for the agents (FlakyRpcDouble, the
 * named test double of the RPC boundary), and a time keeper that moves the chain clock past a
 * window once everyone expected to act in it has acted, so a test waits for work, not for windows.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonRpcProvider } from "ethers";
import { deployPodl, defaults, localWindows, withOverrides, type DeployParams, type DeploymentRecord } from "../../../devnet/deployment.js";
import { ROLES, account, agentEnv, prepareAgent, type AgentSetup } from "../../../devnet/network.js";
import { startHardhatNode, type LocalNode } from "../../../devnet/node.js";
import { contractsOf, type Contracts } from "../../../devnet/report.js";
import { Supervisor, type AgentProcess, type AgentSpec } from "../../../devnet/supervisor.js";
import { FlakyRpcDouble, seededRandom, type Failure } from "../../agents/helpers/flaky-rpc.js";

export interface World {
  node: LocalNode;
  provider: JsonRpcProvider;
  params: DeployParams;
  deployment: DeploymentRecord;
  deploymentFile: string;
  c: Contracts;
  folder: string;
  supervisor: Supervisor;
  /** What the agents print, for a failing test's message. */
  output: string[];
  /** The agents' endpoint: a double in front of the node that fails `share` of the requests. */
  flaky: FlakyRpcDouble;
  setRpcFailureShare(share: number): void;
  agent(name: string, role: AgentSetup["role"], accountIndex: number): Promise<AgentSetup>;
  spawn(setup: AgentSetup, args: string[]): AgentProcess;
  /** Waits until `done` holds, failing early when an agent crashed. */
  until(what: string, done: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

const FAILURES: Failure[] = ["http-503", "rate-limited", "reset-before", "lost-answer"];

export async function startWorld(options: { seed: number; verbose: boolean }): Promise<World> {
  const folder = await mkdtemp(join(tmpdir(), "podl-e2e-"));
  const node = await startHardhatNode({ cwd: process.cwd(), intervalMs: 1000 });
  let flaky: FlakyRpcDouble | undefined;
  try {
    return await assemble(node, folder, options, (f) => (flaky = f));
  } catch (e) {
    // Nothing may outlive a failed start: the node child would keep the test run alive.
    await flaky?.close();
    await node.stop();
    await rm(folder, { recursive: true, force: true });
    throw e;
  }
}

async function assemble(node: LocalNode, folder: string, options: { seed: number; verbose: boolean }, opened: (f: FlakyRpcDouble) => void): Promise<World> {
  const output: string[] = [];
  const random = seededRandom(options.seed);
  let share = 0;
  const { double: flaky, url: agentUrl } = await FlakyRpcDouble.start(node.url, () =>
    share > 0 && random() < share ? FAILURES[Math.floor(random() * FAILURES.length)] : undefined,
  );
  opened(flaky);
  const params = withOverrides(defaults, localWindows);
  const deployment = await deployPodl(account(ROLES.deployer).connect(node.provider), params, "e2e");
  const deploymentFile = join(folder, "deployment.json");
  await writeFile(deploymentFile, JSON.stringify(deployment));
  const supervisor = new Supervisor({
    root: process.cwd(),
    logDir: join(folder, "logs"),
    print: (line) => {
      output.push(line);
      if (options.verbose) process.stdout.write(`${line}\n`);
    },
  });
  const crashed = () => supervisor.processes.find((p) => p.child.exitCode !== null && p.child.exitCode !== 0);
  return {
    node,
    provider: node.provider,
    params,
    deployment,
    deploymentFile,
    c: contractsOf(deployment, node.provider),
    folder,
    supervisor,
    output,
    flaky,
    setRpcFailureShare: (x) => {
      share = x;
    },
    agent: (name, role, index) => prepareAgent(folder, name, role, account(index)),
    spawn: (setup, args) => {
      // Quick polls and retries: windows are seconds long.
      const env = { ...agentEnv(agentUrl, setup, 300), PODL_RPC_BACKOFF_MS: "50", PODL_RPC_BACKOFF_MAX_MS: "1000", PODL_RPC_RETRIES: "8" };
      const spec: AgentSpec = { name: setup.name, args, env };
      return supervisor.spawn(spec);
    },
    until: async (what, done, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const dead = crashed();
        if (dead !== undefined) throw new Error(`${dead.name} exited with code ${dead.child.exitCode} while ${what}:\n${dead.tail.slice(-10).join("\n")}`);
        if (await done()) return;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms ${what}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    },
    close: async () => {
      await supervisor.stopAll(5_000);
      await flaky.close();
      await node.stop();
      await rm(folder, { recursive: true, force: true });
    },
  };
}

/** Moves the chain clock to `timestamp` (one block at that time; interval mining carries on from there). */
export async function jumpTo(provider: JsonRpcProvider, timestamp: bigint): Promise<void> {
  const latest = BigInt((await provider.getBlock("latest"))!.timestamp);
  if (timestamp <= latest) return;
  await provider.send("evm_setNextBlockTimestamp", [`0x${timestamp.toString(16)}`]);
  await provider.send("evm_mine", []);
}

export interface TaskExpectation {
  taskId: bigint;
  /** Miners expected to commit and to reveal. */
  committers: number;
  revealers: number;
  /** Committee members who will act (the rest are silent). */
  actingMembers: number;
  /** The publisher will not unlock the test keys: skip to the timeout once all revealed. */
  noTestKeys?: boolean;
}

/**
 * Closes a window early once everyone expected to act in it has acted: the commit window when
 * all committed, the reveal window when all revealed, the attestation windows when every acting
 * member committed (revealed). Only what a silent party would leave open is skipped.
 */
export class TimeKeeper {
  readonly jumps: string[] = [];
  #tasks: TaskExpectation[] = [];
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #w: World;

  constructor(world: World) {
    this.#w = world;
  }

  watch(task: TaskExpectation): void {
    this.#tasks.push(task);
  }

  start(): void {
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        for (const t of this.#tasks) await this.#tick(t);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  async #tick(x: TaskExpectation): Promise<void> {
    const { market, settlement } = this.#w.c;
    const t = await market.getTask(x.taskId);
    const now = BigInt((await this.#w.provider.getBlock("latest"))!.timestamp);
    const jump = async (to: bigint, why: string) => {
      this.jumps.push(`task ${x.taskId}: ${why}`);
      await jumpTo(this.#w.provider, to);
    };
    if (t.commitDeadline === 0n) return;
    if (now <= t.commitDeadline) {
      if (Number(t.submissionCount) >= x.committers) await jump(t.commitDeadline + 1n, "all committed");
      return;
    }
    if (x.noTestKeys === true) {
      const opens = t.testKeyDeadline > t.revealDeadline ? t.testKeyDeadline : t.revealDeadline;
      if (t.testUnlockedAt === 0n && now <= opens && Number(t.revealedCount) >= x.revealers) await jump(opens + 1n, "all revealed, no test keys");
      return;
    }
    if (now <= t.revealDeadline) {
      if (t.testUnlockedAt !== 0n && Number(t.revealedCount) >= x.revealers) await jump(t.revealDeadline + 1n, "all revealed");
      return;
    }
    const [status, round] = await settlement.statusOf(x.taskId);
    if (status !== 1n) return;
    const r = await settlement.getRound(x.taskId, round);
    if (r.size === 0n) return;
    if (now <= r.commitDeadline && r.commits < r.size && Number(r.commits) >= x.actingMembers) await jump(r.commitDeadline + 1n, "acting members committed scores");
    else if (now > r.commitDeadline && now <= r.revealDeadline && r.reveals < r.size && Number(r.reveals) >= x.actingMembers) {
      await jump(r.revealDeadline + 1n, "acting members revealed scores");
    }
  }
}
