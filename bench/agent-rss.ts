/**
 * Agent memory bench (`npm run bench:rss`): how much an agent holds resident while it waits. A local
 * Hardhat node with a fresh deployment and no task; a publisher (serving), a miner and a verifier
 * (staked), each started two ways side by side: `bin/podl` on the compiled build (dist/) and the
 * TypeScript through tsx (`node --import tsx agents/cli/podl.ts`, what the launcher before the build
 * ran as its child; the launcher itself held another ~50 MB). It samples every agent's VmRSS once a
 * second (/proc; bench/rss.ts) in two windows of --sample-s seconds, from 1 and from 2 minutes after
 * the start (V8 gives start-up memory back only after a while of quiet; the miner ends its idle
 * training thread after a minute), reports the medians, and each agent's VmHWM (its peak since start,
 * start-up included). Writes bench/results/agent-rss.json and .md with the load average.
 *
 * Options: --sample-s 20
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { deployPodl, defaults, localWindows, withOverrides } from "../devnet/deployment.js";
import { account, agentEnv, fund, minerArgs, prepareAgent, serveArgs, verifierArgs, type AgentSetup } from "../devnet/network.js";
import { startHardhatNode } from "../devnet/node.js";
import { RssTracker } from "./rss.js";

const { values } = parseArgs({ options: { "sample-s": { type: "string" } } });
const SAMPLE_S = Number(values["sample-s"] ?? 20);
/** Where the sample windows start, seconds after the agents. */
const WINDOWS = [60, 120] as const;

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const pinnedNode = join(repoRoot, "node_modules", "node", "bin", "node");
const WAYS = {
  compiled: (args: string[]) => [join(repoRoot, "bin", "podl"), args] as const,
  tsx: (args: string[]) => [pinnedNode, ["--import", join(repoRoot, "node_modules", "tsx", "dist", "loader.mjs"), join(repoRoot, "agents", "cli", "podl.ts"), ...args]] as const,
};
type Way = keyof typeof WAYS;
const ROLES = [
  { role: "publisher", accounts: { compiled: 1, tsx: 9 } },
  { role: "miner", accounts: { compiled: 2, tsx: 3 } },
  { role: "verifier", accounts: { compiled: 5, tsx: 6 } },
] as const;

const folder = await mkdtemp(join(tmpdir(), "podl-bench-rss-"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loadAtStart = loadavg();
const started = new Date();
const node = await startHardhatNode({ cwd: repoRoot, intervalMs: 1000 });
const children: ChildProcess[] = [];
type Sample = { rssKb: number; anonKb: number; processes: number };
const samples: Map<string, Sample[]>[] = WINDOWS.map(() => new Map());
const tracker = new RssTracker(folder);
try {
  const deployment = await deployPodl(account(0).connect(node.provider), withOverrides(defaults, localWindows), "bench-rss");
  const deploymentFile = join(folder, "deployment.json");
  await writeFile(deploymentFile, `${JSON.stringify(deployment, null, 2)}\n`);
  const agents: { name: string; way: Way; role: string; setup: AgentSetup }[] = [];
  for (const { role, accounts } of ROLES) {
    for (const way of Object.keys(WAYS) as Way[]) {
      const name = `${role}-${way}`;
      agents.push({ name, way, role, setup: await prepareAgent(folder, name, role, account(accounts[way])) });
    }
  }
  await fund(node.provider, account(0), agents.map((a) => a.setup.wallet));
  for (const a of agents) {
    const args = a.role === "publisher" ? serveArgs(a.setup, deploymentFile) : a.role === "miner" ? minerArgs(a.setup, deploymentFile, []) : verifierArgs(a.setup, deploymentFile, []);
    const [command, argv] = WAYS[a.way](args);
    const child = spawn(command, argv, { env: { ...process.env, ...agentEnv(node.url, a.setup, 500), PODL_LOG_LEVEL: "warn" }, stdio: ["ignore", "ignore", "inherit"], detached: true });
    children.push(child);
  }
  const t0 = performance.now();
  for (const [w, from] of WINDOWS.entries()) {
    await sleep(Math.max(0, from * 1000 - (performance.now() - t0)));
    for (let i = 0; i < SAMPLE_S; i++) {
      for (const [agent, m] of tracker.now()) samples[w]!.set(agent, [...(samples[w]!.get(agent) ?? []), m]);
      await sleep(1000);
    }
  }
  const exited = agents.filter((_, i) => children[i]!.exitCode !== null).map((a) => a.name);
  if (exited.length > 0) throw new Error(`exited before the samples: ${exited.join(", ")}`);
} finally {
  for (const c of children) if (c.pid !== undefined) try { process.kill(-c.pid, "SIGTERM"); } catch { /* gone */ }
  await sleep(3000);
  for (const c of children) if (c.pid !== undefined) try { process.kill(-c.pid, "SIGKILL"); } catch { /* gone */ }
  await node.stop();
  await rm(folder, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (kb: number) => Math.round(kb / 1024);
const rows = ROLES.map(({ role }) => {
  const of = (way: Way) => {
    const windows = samples.map((byAgent) => byAgent.get(`${role}-${way}`)!);
    return {
      waitingMb: windows.map((seen) => mb(median(seen.map((m) => m.rssKb)))),
      anonMb: windows.map((seen) => mb(median(seen.map((m) => m.anonKb)))),
      processes: Math.max(...windows.flat().map((m) => m.processes)),
      peakMb: mb(tracker.memory.get(`${role}-${way}`)!.peakKb),
    };
  };
  const compiled = of("compiled");
  const tsx = of("tsx");
  return { role, compiled, tsx, waitingRatio: compiled.waitingMb.map((c, w) => Math.round((c / tsx.waitingMb[w]!) * 100) / 100) };
});
const result = {
  measuredAt: started.toISOString(),
  command: "npm run bench:rss",
  machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version },
  loadAverage: { start: loadAtStart.map((x) => Math.round(x * 100) / 100), end: loadavg().map((x) => Math.round(x * 100) / 100) },
  setup: { windowsFromSeconds: WINDOWS, sampleSeconds: SAMPLE_S, chain: "hardhat node, a block per second, a fresh deployment, no task" },
  agents: rows,
};
const outDir = fileURLToPath(new URL("results/", import.meta.url));
await writeFile(join(outDir, "agent-rss.json"), `${JSON.stringify(result, null, 2)}\n`);
const md = [
  "# bench:rss results",
  "",
  `Measured ${result.measuredAt} with \`${result.command}\` on ${result.machine.cores} × ${result.machine.cpu}, Node ${result.machine.node}; load average (1, 5, 15 min) ${result.loadAverage.start.join(", ")} at the start, ${result.loadAverage.end.join(", ")} at the end. ${result.setup.chain}; each agent sampled for ${SAMPLE_S} s from ${WINDOWS.join(" s and from ")} s after the start.`,
  "",
  "Waiting at 1 and 2 min: the median of the agent's VmRSS over each window's samples (in brackets its anonymous part, RssAnon: heaps and wasm memory; the rest is mapped files, the node binary first). Peak: its VmHWM (start-up included). Processes: the most seen at once.",
  "",
  "| agent | compiled, waiting at 1 / 2 min (MB) | compiled, peak (MB) | tsx, waiting at 1 / 2 min (MB) | tsx, peak (MB) | waiting, compiled / tsx | processes (compiled, tsx) |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map((r) => {
    const waiting = (m: { waitingMb: number[]; anonMb: number[] }) => m.waitingMb.map((x, w) => `${x} (${m.anonMb[w]})`).join(" / ");
    return `| ${r.role} | ${waiting(r.compiled)} | ${r.compiled.peakMb} | ${waiting(r.tsx)} | ${r.tsx.peakMb} | ${r.waitingRatio.join(" / ")} | ${r.compiled.processes}, ${r.tsx.processes} |`;
  }),
];
await writeFile(join(outDir, "agent-rss.md"), `${md.join("\n")}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
