/**
 * Fault bench (`npm run bench:faults`): the demo's Iris task (publisher, three miners, four
 * validators as processes) with the agents reaching the node through the JSON-RPC fault proxy
 * (test/faults/fault-proxy.ts) at 0 %, 10 %, 30 % and 50 % request loss (split evenly between a
 * request dropped before the node, an answer lost after it, a 503 and a closed socket), each loss
 * rate with 10 % of the requests delayed 2–5 s (0 %: no faults at all, the baseline). Per run: the
 * seconds from the start to settlement, the transactions the agents sent per task, the windows they
 * missed (a miner's commit or reveal, a validator's commit or reveal of scores), the transactions
 * that reverted on chain (gas wasted), and the proxy's counters. Writes bench/results/faults.json.
 *
 * The demo gives Iris 30 s from the key unlock to the commit deadline; on the shared bench machine
 * (load average 20–33 while eight engineers build) the fault-free baseline already missed that
 * window, so the bench gives the task 90 s (--train-window) to measure the faults, not the load.
 *
 * Options: --loss 0,0.1,0.3,0.5  --seed 15  --delay 0.1  --train-window 90  --timeout-s 480
 * With --loss naming only some rates (e.g. `--loss 0,0.5`), the rows of the others are kept from
 * the previous results file, each with the date of the run that measured it (`measured`).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { JsonRpcProvider } from "ethers";
import { DEMO_TASKS, runDemo } from "../devnet/run.js";
import type { LogLine } from "../devnet/supervisor.js";
import { FaultProxy, lossPlan, type FaultCounters } from "../test/faults/fault-proxy.js";

const { values } = parseArgs({
  options: { loss: { type: "string" }, seed: { type: "string" }, delay: { type: "string" }, "train-window": { type: "string" }, "timeout-s": { type: "string" } },
});
const LOSSES = (values.loss ?? "0,0.1,0.3,0.5").split(",").map(Number);
const SEED = Number(values.seed ?? 15);
const DELAY = Number(values.delay ?? 0.1);
const TIMEOUT_MS = Number(values["timeout-s"] ?? 480) * 1000;
const TRAIN_WINDOW = Number(values["train-window"] ?? 90);
for (const loss of LOSSES) if (!(loss >= 0 && loss + DELAY <= 1)) throw new Error(`--loss ${loss}: each loss rate must be in [0, ${1 - DELAY}] (with --delay ${DELAY})`);

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const IRIS = { ...DEMO_TASKS.find((t) => t.label === "iris")!, trainWindow: TRAIN_WINDOW };
const RUN_DATE = new Date().toISOString();

/** Rows of the previous results at loss rates this run does not measure, each dated by its run. */
const FILE = join(repoRoot, "bench/results/faults.json");
const kept: Record<string, unknown>[] = await readFile(FILE, "utf8").then(
  (text) => {
    const old = JSON.parse(text) as { date: string; runs: (Record<string, unknown> & { loss: number })[] };
    return old.runs.filter((r) => !LOSSES.includes(r.loss)).map((r) => ({ measured: old.date, ...r }));
  },
  () => [],
);


interface RunResult {
  loss: number;
  delay: number;
  demo: string;
  error?: string;
  phase: string;
  settleSeconds: number | null;
  demoSeconds: number;
  transactionsSent: number;
  transactionsPerTask: number;
  revertedOnChain: number;
  missedWindows: { miners: number; validators: number; lines: string[] };
  retryWarnings: number;
  recoveries: number;
  lostAnswersRecognised: number;
  /** Null when the run failed before the proxy started (a node that did not come up). */
  proxy: FaultCounters | null;
  loadBefore: number[];
  loadAfter: number[];
}

/** Counts failed receipts in new blocks while the run goes on (the node stops with the demo). */
function watchReverts(nodeUrl: string): { stop: () => Promise<number> } {
  const provider = new JsonRpcProvider(nodeUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  let next = 0;
  let reverted = 0;
  let running = true;
  const scan = async () => {
    const head = await provider.getBlockNumber();
    for (; next <= head; next++) {
      const receipts = (await provider.send("eth_getBlockReceipts", [`0x${next.toString(16)}`])) as { status: string }[] | null;
      reverted += (receipts ?? []).filter((r) => r.status === "0x0").length;
    }
  };
  const loop = (async () => {
    while (running) {
      await scan().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      provider.destroy();
      return reverted;
    },
  };
}

async function runAt(loss: number): Promise<RunResult> {
  const delay = loss === 0 ? 0 : DELAY;
  const folder = await mkdtemp(join(tmpdir(), `podl-faults-${loss}-`));
  let proxy: FaultProxy | undefined;
  let reverts: ReturnType<typeof watchReverts> | undefined;
  let sent = 0;
  let retryWarnings = 0;
  let recoveries = 0;
  let recognised = 0;
  const missed: { miners: number; validators: number; lines: string[] } = { miners: 0, validators: 0, lines: [] };
  const loadBefore = loadavg();
  const onLog = (agent: string, line: LogLine) => {
    const msg = String(line.msg ?? "");
    if (msg === "transaction sent") sent++;
    if (/: attempt \d+ of \d+ failed/.test(msg)) retryWarnings += 1 + (typeof line.suppressed === "number" ? line.suppressed : 0);
    if (/: recovered at attempt/.test(msg)) recoveries += 1 + (typeof line.suppressed === "number" ? line.suppressed : 0);
    if (msg.includes("not sending it again")) recognised++;
    if (agent.startsWith("miner") && msg.startsWith("missed task")) {
      missed.miners++;
      missed.lines.push(`${agent}: ${msg}`);
    }
    if (agent.startsWith("validator") && msg.includes("will be slashed for not revealing")) {
      missed.validators++;
      missed.lines.push(`${agent}: ${msg}`);
    }
  };
  const summary = await runDemo({
    repoRoot,
    folder,
    mnistExamples: 0,
    timeoutMs: TIMEOUT_MS,
    verbose: false,
    print: (line) => process.stdout.write(`[loss ${loss}] ${line}\n`),
    onLog,
    tasks: [IRIS],
    agentRpc: async (nodeUrl) => {
      reverts = watchReverts(nodeUrl);
      proxy = await FaultProxy.start(nodeUrl, lossPlan(SEED, loss, delay));
      return proxy.url;
    },
  });
  const revertedOnChain = (await reverts?.stop()) ?? 0;
  await proxy?.close();
  await rm(folder, { recursive: true, force: true });
  const task = summary.tasks[0];
  const settled = task?.phaseTimes.settled;
  return {
    loss,
    delay,
    demo: summary.demo,
    ...(summary.demo === "failed" ? { error: summary.error } : {}),
    phase: task?.phase ?? "none",
    settleSeconds: settled ?? null,
    demoSeconds: summary.seconds,
    transactionsSent: sent,
    transactionsPerTask: sent / Math.max(1, summary.tasks.length),
    revertedOnChain,
    missedWindows: missed,
    retryWarnings,
    recoveries,
    lostAnswersRecognised: recognised,
    proxy: proxy?.counters ?? null,
    loadBefore,
    loadAfter: loadavg(),
  };
}

const runs: RunResult[] = [];
for (const loss of LOSSES) {
  const r = await runAt(loss);
  runs.push(r);
  process.stdout.write(
    `loss ${loss * 100} %: ${r.phase} in ${r.settleSeconds ?? "-"} s, ${r.transactionsSent} transactions, ${r.revertedOnChain} reverted, ` +
      `${r.missedWindows.miners + r.missedWindows.validators} missed windows, ${r.proxy?.requests ?? 0} requests (${Object.entries(r.proxy?.faults ?? {}).map(([k, v]) => `${k} ${v}`).join(", ")})\n`,
  );
  // Written after every run: a bench cut short keeps what it measured.
  await write();
}

async function write(): Promise<void> {
  const baseline = runs.find((r) => r.loss === 0 && r.settleSeconds !== null) ?? (kept.find((r) => r.loss === 0 && r.settleSeconds !== null) as { settleSeconds: number } | undefined);
  const out = {
    bench: "faults",
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model },
    seed: SEED,
    task: IRIS,
    plan: "loss split evenly: drop-request, drop-answer, http-503, closed-socket; plus delay of 2-5 s on `delay` of the requests (none at loss 0)",
    runs: [
      ...runs.map((r) => ({ measured: RUN_DATE, ...r, settleVsBaseline: baseline && r.settleSeconds !== null ? Math.round((r.settleSeconds / baseline.settleSeconds!) * 100) / 100 : null })),
      ...kept,
    ].sort((a, b) => (a.loss as number) - (b.loss as number)),
  };
  await writeFile(FILE, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`wrote bench/results/faults.json\n`);
}
