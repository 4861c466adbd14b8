import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { PACKAGE_ROOT } from "../../package-root.js";
import { MlError } from "../errors.js";

/**
 * Finding a Python that imports torch, and talking to the worker in engines/torch/ (JSON lines over
 * stdin/stdout; docs/torch.md). The candidates, in order: `--python` (opts.python), PODL_PYTHON,
 * `python3`, `/usr/bin/python3` (Debian's python3-torch lives under the system interpreter, which
 * need not be the first python3 on PATH). The first whose `python -m podl_torch --check` answers wins.
 */

export const TORCH_ENGINE_DIR = join(PACKAGE_ROOT, "engines", "torch");
const CHECK_TIMEOUT_MS = 60_000;

export type TorchCheck = {
  torch: string;
  python: string;
  executable: string;
  device: string;
  cuda: boolean;
  gpu: string | null;
  threads: number;
  deterministic: Record<string, boolean>;
};

export type PythonChoice = { python: string; check: TorchCheck; tried: { python: string; reason: string }[] };

export type PythonOptions = { python?: string; device?: "cpu" | "cuda" };

export function pythonCandidates(opts: PythonOptions = {}): string[] {
  const list = [opts.python, process.env.PODL_PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => p !== undefined && p !== "");
  return [...new Set(list)];
}

function workerEnv(opts: PythonOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: [TORCH_ENGINE_DIR, process.env.PYTHONPATH].filter(Boolean).join(":"), PYTHONUNBUFFERED: "1" };
  if (opts.device !== undefined) env.PODL_TORCH_DEVICE = opts.device;
  return env;
}

/** Runs `--check` with one interpreter: the report, or why it is unusable. */
export function checkPython(python: string, opts: PythonOptions = {}): Promise<{ check: TorchCheck } | { reason: string }> {
  return new Promise((done) => {
    const child = spawn(python, ["-m", "podl_torch", "--check"], { env: workerEnv(opts), stdio: ["ignore", "pipe", "pipe"], timeout: CHECK_TIMEOUT_MS });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", (e) => done({ reason: `cannot start: ${e.message}` }));
    child.on("close", (code) => {
      if (code !== 0) {
        const last = err.trim().split("\n").at(-1) ?? "";
        return done({ reason: /No module named 'torch'/.test(err) ? "torch is not installed for it" : `--check exited ${code}: ${last.slice(0, 300)}` });
      }
      try {
        done({ check: JSON.parse(out.trim().split("\n").at(-1)!) as TorchCheck });
      } catch {
        done({ reason: `--check printed no report: ${out.slice(0, 200)}` });
      }
    });
  });
}

const found = new Map<string, Promise<PythonChoice>>();

/**
 * The first candidate whose torch answers; MlError ENGINE_UNAVAILABLE listing every reason otherwise.
 * Remembered per process and options: importing torch takes seconds, once per run is enough.
 */
export function findPython(opts: PythonOptions = {}): Promise<PythonChoice> {
  const key = JSON.stringify([pythonCandidates(opts), opts.device ?? null]);
  let choice = found.get(key);
  if (choice === undefined) {
    choice = probeCandidates(opts);
    found.set(key, choice);
    choice.catch(() => found.delete(key));
  }
  return choice;
}

async function probeCandidates(opts: PythonOptions): Promise<PythonChoice> {
  const tried: { python: string; reason: string }[] = [];
  for (const python of pythonCandidates(opts)) {
    const r = await checkPython(python, opts);
    if ("check" in r) return { python, check: r.check, tried };
    tried.push({ python, reason: r.reason });
  }
  throw new MlError("ENGINE_UNAVAILABLE", `torch engine: no Python with PyTorch (${tried.map((t) => `${t.python}: ${t.reason}`).join("; ")}); install python3-torch or pass --python`, {
    context: { tried },
  });
}

export type WorkerMessage = { type: string; [k: string]: unknown };

/** One worker process: send a command, read its messages in order. */
export class TorchWorker {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #queue: WorkerMessage[] = [];
  #waiting: ((m: WorkerMessage | undefined) => void) | undefined;
  #closed = false;
  #stderr = "";

  constructor(python: string, opts: PythonOptions = {}) {
    this.#child = spawn(python, ["-m", "podl_torch"], { env: workerEnv(opts), stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stderr.on("data", (b: Buffer) => (this.#stderr = (this.#stderr + b.toString()).slice(-4000)));
    this.#child.on("error", () => this.#close());
    this.#child.on("close", () => this.#close());
    createInterface({ input: this.#child.stdout }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const m = JSON.parse(line) as WorkerMessage;
      if (this.#waiting !== undefined) {
        const w = this.#waiting;
        this.#waiting = undefined;
        w(m);
      } else this.#queue.push(m);
    });
  }

  send(cmd: Record<string, unknown>): void {
    this.#child.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  /** The next message; MlError ENGINE_FAILED for an error message or a worker that exited. */
  async next(): Promise<WorkerMessage> {
    const m = this.#queue.shift() ?? (this.#closed ? undefined : await new Promise<WorkerMessage | undefined>((r) => (this.#waiting = r)));
    if (m === undefined) throw new MlError("ENGINE_FAILED", `torch worker exited: ${this.#stderr.trim().split("\n").slice(-3).join(" | ")}`);
    if (m.type === "error") {
      const code = m.code === "UNSUPPORTED" ? "ENGINE_UNAVAILABLE" : "ENGINE_FAILED";
      throw new MlError(code, `torch worker: ${String(m.message)}`, { context: { trace: m.trace } });
    }
    return m;
  }

  close(): void {
    this.#child.stdin.end();
    if (!this.#closed) this.#child.kill();
  }

  #close(): void {
    this.#closed = true;
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.(undefined);
  }
}

