/**
 * Resident memory of a local run's agents, read from /proc (Linux): every process whose environment
 * has PODL_DATA_DIR under the run's folder belongs to the agent named by that folder's last part
 * (a launcher and its child, or a torch worker, add up to their agent). VmRSS is what is resident
 * now; VmHWM the process's own peak since it started.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";

export interface AgentMemory {
  /** Processes seen for the agent (at the last sample). */
  processes: number;
  /** Resident now (the processes' sum), kB. */
  rssKb: number;
  /** Of which anonymous memory (JavaScript heaps, wasm memories, native allocations), kB; the rest maps files (the node binary, libraries). */
  anonKb: number;
  /** The largest sum of the processes' VmHWM seen, kB: the agent's peak. */
  peakKb: number;
}

function statusKb(pid: string, field: "VmRSS" | "VmHWM" | "RssAnon"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? 0 : Number(m[1]);
}

/** The agent (folder name) each live process of the run belongs to. */
function agentsOf(folder: string): Map<string, string[]> {
  const root = resolve(folder);
  const byAgent = new Map<string, string[]>();
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    } catch {
      continue; // gone, or not ours
    }
    const dir = environ.split("\0").find((kv) => kv.startsWith("PODL_DATA_DIR="))?.slice("PODL_DATA_DIR=".length);
    if (dir === undefined || dirname(resolve(dir)) !== root) continue;
    const agent = basename(dir);
    byAgent.set(agent, [...(byAgent.get(agent) ?? []), pid]);
  }
  return byAgent;
}

/** Samples the run's agents every `intervalMs` until stopped; `now()` reads them at once. */
export class RssTracker {
  readonly #folder: string;
  readonly #memory = new Map<string, AgentMemory>();
  #timer: NodeJS.Timeout | undefined;

  constructor(folder: string) {
    this.#folder = folder;
  }

  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => this.now(), intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Reads every agent's memory now, folds it into the peaks, and returns it. */
  now(): Map<string, AgentMemory> {
    const current = new Map<string, AgentMemory>();
    for (const [agent, pids] of agentsOf(this.#folder)) {
      let rssKb = 0;
      let anonKb = 0;
      let hwmKb = 0;
      for (const pid of pids) {
        try {
          rssKb += statusKb(pid, "VmRSS");
          anonKb += statusKb(pid, "RssAnon");
          hwmKb += statusKb(pid, "VmHWM");
        } catch {
          // exited between the scan and the read
        }
      }
      const seen = { processes: pids.length, rssKb, anonKb, peakKb: Math.max(hwmKb, this.#memory.get(agent)?.peakKb ?? 0) };
      this.#memory.set(agent, seen);
      current.set(agent, seen);
    }
    return current;
  }

  /** Every agent seen: its last sample and its peak. */
  get memory(): ReadonlyMap<string, AgentMemory> {
    return this.#memory;
  }
}
