import { Worker } from "node:worker_threads";
import type { BackendName } from "../backend.js";
import type { EngineEvent, EngineResult, Throughput, TrainingEngine, TrainJob } from "../engine.js";
import { MlError } from "../errors.js";
import type { Checkpoint } from "../checkpoints.js";
import type { TaskSpec } from "../spec.js";
import type { Reply, Request, WorkerError } from "./tfjs-protocol.js";

type Unnumbered = Request extends infer R ? (R extends Request ? Omit<R, "id"> : never) : never;

// Compiled (dist/, .js), the worker runs its compiled module; from source (.ts), it first registers tsx.
const BOOT = import.meta.url.endsWith(".ts") ? new URL("./tfjs-worker-boot.mjs", import.meta.url) : new URL("./tfjs-worker-main.js", import.meta.url);

/**
 * TensorFlow.js in worker threads (node:worker_threads): the agent's event loop stays free while a
 * model trains. One worker per concurrent job, kept for the next (starting one loads tsx,
 * TensorFlow.js and the backend: about a second); idle workers do not keep the process alive.
 * Cancelling terminates that job's worker at once: a training step cannot be interrupted midway,
 * and a dead worker holds no memory. A worker idle for `idleMs` is ended too: its own TensorFlow.js
 * and wasm memory (76 MB resident for a warmed wasm worker) is more than a waiting agent should hold,
 * and starting the next one costs a second.
 */
export class TfjsWorkerEngine implements TrainingEngine {
  readonly name: string;
  readonly #backend: BackendName;
  readonly #idle: Worker[] = [];
  readonly #all = new Set<Worker>();
  readonly #retire = new Map<Worker, NodeJS.Timeout>();
  readonly #idleMs: number;
  #ids = 0;

  constructor(backend: BackendName, options: { idleMs?: number } = {}) {
    this.#backend = backend;
    this.#idleMs = options.idleMs ?? 60_000;
    this.name = `tfjs-worker (${backend})`;
  }

  /** Workers alive now (busy and idle). */
  get workers(): number {
    return this.#all.size;
  }

  async train(job: TrainJob, options: { signal?: AbortSignal; onEvent?: (e: EngineEvent) => void } = {}): Promise<EngineResult> {
    const checkpoints: Checkpoint[] = [];
    const value = await this.#run({ type: "train", backend: this.#backend, job }, options.signal, (e) => {
      if (e.type === "checkpoint") checkpoints.push(e.checkpoint);
      options.onEvent?.(e);
    });
    return { ...(value as Omit<EngineResult, "checkpoints">), checkpoints };
  }

  async throughput(spec: TaskSpec, batches: number, options: { signal?: AbortSignal } = {}): Promise<Throughput> {
    return (await this.#run({ type: "throughput", backend: this.#backend, spec, batches }, options.signal, () => {})) as Throughput;
  }

  /**
   * Starts workers until `count` are alive, each with its backend loaded (in the background: the
   * promise is for callers that want to wait). A miner warms its job slots at start-up, so that
   * neither its first probe nor its first training pays for starting a thread.
   */
  async warm(count: number): Promise<void> {
    const missing = Math.max(0, count - this.#all.size);
    await Promise.all(Array.from({ length: missing }, () => this.#run({ type: "warm", backend: this.#backend }, undefined, () => {})));
  }

  async close(): Promise<void> {
    for (const timer of this.#retire.values()) clearTimeout(timer);
    this.#retire.clear();
    const all = [...this.#all];
    this.#all.clear();
    this.#idle.length = 0;
    await Promise.all(all.map((w) => w.terminate()));
  }

  #run(request: Unnumbered, signal: AbortSignal | undefined, onEvent: (e: EngineEvent) => void): Promise<unknown> {
    signal?.throwIfAborted();
    const id = ++this.#ids;
    const worker = this.#unpark() ?? this.#spawn();
    worker.ref();
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        signal?.removeEventListener("abort", onAbort);
      };
      const fail = (e: unknown) => {
        cleanup();
        this.#all.delete(worker);
        void worker.terminate();
        reject(e);
      };
      const onMessage = (reply: Reply) => {
        if (reply.id !== id) return;
        if (reply.type === "event") return onEvent(reply.event);
        cleanup();
        worker.unref();
        this.#park(worker);
        if (reply.type === "done") resolve(reply.value);
        else reject(rebuild(reply.error));
      };
      const onError = (e: Error) => fail(new MlError("ENGINE_FAILED", `training worker failed: ${e.message}`, { cause: e }));
      const onExit = (code: number) => fail(new MlError("ENGINE_FAILED", `training worker exited (code ${code}) during a ${request.type} request`));
      const onAbort = () => fail(signal!.reason);
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      signal?.addEventListener("abort", onAbort, { once: true });
      worker.postMessage({ ...request, id } as Request);
    });
  }

  /** Keeps a worker for the next job, and ends it if none comes within idleMs. */
  #park(worker: Worker): void {
    this.#idle.push(worker);
    const timer = setTimeout(() => {
      this.#retire.delete(worker);
      const at = this.#idle.indexOf(worker);
      if (at >= 0) this.#idle.splice(at, 1);
      this.#all.delete(worker);
      void worker.terminate();
    }, this.#idleMs);
    timer.unref();
    this.#retire.set(worker, timer);
  }

  #unpark(): Worker | undefined {
    const worker = this.#idle.pop();
    if (worker !== undefined) {
      clearTimeout(this.#retire.get(worker));
      this.#retire.delete(worker);
    }
    return worker;
  }

  #spawn(): Worker {
    const worker = new Worker(BOOT);
    this.#all.add(worker);
    worker.once("exit", () => this.#all.delete(worker));
    return worker;
  }
}

/** The worker's error as an Error here: an MlError keeps its code. */
function rebuild(e: WorkerError): Error {
  const error = e.name === "MlError" && e.code !== undefined ? new MlError(e.code as MlError["code"], e.message) : Object.assign(new Error(e.message), { name: e.name });
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
}
