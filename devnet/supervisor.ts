/**
 * Runs agents as separate processes through the `podl` bin (bin/podl: one Node process per agent) and
 * keeps them on a short leash: each in its own process group, its output turned
 * into prefixed plain-words lines, its JSON log lines kept in `<logDir>/<name>.jsonl` and handed to
 * listeners (timings, progress), and every one of them killed on `stopAll` whatever happened.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** One JSON log line of an agent (pino): `msg`, `level`, `time`, `agent` and the fields it logged. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number; time?: string };

export interface AgentSpec {
  /** Prefix of its lines and name of its log file: publisher-iris, miner-1, validator-2, … */
  name: string;
  /** `podl` arguments: subcommand and flags. */
  args: string[];
  env: Record<string, string>;
}

export interface AgentProcess {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited and its output is drained. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines of its output, for error messages. */
  tail: string[];
  /** Signals its whole process group (the agent and any process it started). */
  kill(signal: NodeJS.Signals): void;
}

export interface SupervisorOptions {
  /** Repository root: where `bin/podl` lives. */
  root: string;
  logDir: string;
  /** Where plain-words lines go (stdout in the demo). */
  print: (line: string) => void;
  /** Every JSON log line of every agent. */
  onLog?: (name: string, line: LogLine) => void;
  /** Every plain (non-JSON) output line of every agent, e.g. what the CLI prints for people. */
  onText?: (name: string, line: string) => void;
  /** Print debug lines and timing lines too. */
  verbose?: boolean;
}

const LEVEL_WORDS: Record<number, string> = { 10: "trace", 20: "debug", 30: "", 40: "warning: ", 50: "error: ", 60: "fatal: " };
/** Info lines shown only with --verbose: timings and the first half of every transaction's pair. */
const QUIET_MESSAGES = new Set(["timing", "transaction sent"]);
/** Fields worth showing after a message, in this order. */
const SHOWN = ["taskId", "tx", "txHash", "reason", "code", "score", "seconds", "phase", "epoch", "accuracy", "modelCid", "members", "error", "err"];

export function shortHex(v: string): string {
  return /^0x[0-9a-fA-F]{16,}$/.test(v) ? `${v.slice(0, 8)}…${v.slice(-4)}` : v;
}

/** One pino line as words: `task 3: committed (txHash 0x12ab34…cdef)`. */
export function describeLog(line: LogLine): string {
  const level = LEVEL_WORDS[line.level ?? 30] ?? "";
  const parts: string[] = [];
  for (const key of SHOWN) {
    const v = line[key];
    if (v === undefined || v === null || key === "agent") continue;
    if (typeof v === "object") {
      const message = (v as { message?: unknown }).message;
      parts.push(`${key} ${typeof message === "string" ? message : JSON.stringify(v).slice(0, 160)}`);
    } else parts.push(`${key} ${shortHex(String(v))}`);
  }
  return `${level}${line.msg ?? ""}${parts.length > 0 ? ` (${parts.join(", ")})` : ""}`;
}

export class Supervisor {
  readonly processes: AgentProcess[] = [];
  readonly #options: SupervisorOptions;
  readonly #files: WriteStream[] = [];
  readonly #width = 14;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    mkdirSync(options.logDir, { recursive: true });
  }

  /** Prints `[name] text` with the name padded so the columns line up. */
  say(name: string, text: string): void {
    const stamp = new Date().toISOString().slice(11, 19);
    this.#options.print(`${stamp} [${name}]${" ".repeat(Math.max(1, this.#width - name.length))}${text}`);
  }

  spawn(spec: AgentSpec): AgentProcess {
    const child = spawn(join(this.#options.root, "bin", "podl"), spec.args, {
      cwd: this.#options.root,
      env: { ...process.env, ...spec.env, FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: a group kill also reaches what the agent started (a torch worker).
      detached: true,
    });
    const file = createWriteStream(join(this.#options.logDir, `${spec.name}.jsonl`));
    this.#files.push(file);
    const tail: string[] = [];
    // Agents print some messages for people (stdout) and log them too (stderr): show each once.
    const recent: string[] = [];
    const handle = (raw: string) => {
      const text = raw.trimEnd();
      if (text === "") return;
      tail.push(text);
      tail.splice(0, Math.max(0, tail.length - 30));
      if (text.startsWith("{")) {
        let line: LogLine | undefined;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          line = undefined;
        }
        if (line !== undefined) {
          file.write(`${text}\n`);
          this.#options.onLog?.(spec.name, line);
          recent.push(String(line.msg ?? ""));
          recent.splice(0, Math.max(0, recent.length - 20));
          const quiet = (line.level ?? 30) < 30 || QUIET_MESSAGES.has(line.msg ?? "");
          if (!quiet || this.#options.verbose === true) this.say(spec.name, describeLog(line));
          return;
        }
      }
      this.#options.onText?.(spec.name, text);
      if (!recent.includes(text)) this.say(spec.name, text);
    };
    const streams = [child.stdout!, child.stderr!].map((s) => {
      const rl = createInterface({ input: s, crlfDelay: Infinity });
      rl.on("line", handle);
      return new Promise<void>((resolve) => rl.once("close", () => resolve()));
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("exit", (code, signal) => {
        void Promise.all(streams).then(() => resolve({ code, signal }));
      });
      child.once("error", (e) => {
        handle(`could not start: ${e.message}`);
        resolve({ code: 127, signal: null });
      });
    });
    const agent: AgentProcess = { name: spec.name, child, exited, tail, kill: (signal) => signalGroup(child, signal) };
    this.processes.push(agent);
    return agent;
  }

  /** SIGTERM to every running agent's process group, SIGKILL after `graceMs`; waits for all. */
  async stopAll(graceMs = 10_000): Promise<void> {
    const running = this.processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    for (const p of running) signalGroup(p.child, "SIGTERM");
    const timer = setTimeout(() => {
      for (const p of running) signalGroup(p.child, "SIGKILL");
    }, graceMs);
    await Promise.all(running.map((p) => p.exited));
    clearTimeout(timer);
    // An agent that exited first may leave a child behind (a torch worker): make sure the groups are gone.
    for (const p of this.processes) signalGroup(p.child, "SIGKILL");
    await Promise.all(this.#files.map((f) => new Promise<void>((resolve) => f.end(() => resolve()))));
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone (ESRCH): nothing left to stop
  }
}
