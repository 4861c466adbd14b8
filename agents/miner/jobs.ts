/**
 * The miner's training jobs: up to `capacity` tasks train at once (`--jobs`), each in its own engine
 * worker, while the miner's loop goes on following the chain, serving IPFS and sending other tasks'
 * transactions. A job's failure that the next step may not meet (the network) is logged by
 * `onRetryable` and the task is tried again; any other failure is kept and thrown by the next
 * `check()`, so a bug still ends the agent. Closing aborts every job and waits for it to unwind.
 */
export class TrainingJobs {
  readonly capacity: number;
  readonly #running = new Map<bigint, Promise<void>>();
  readonly #controller = new AbortController();
  readonly #isRetryable: (e: unknown) => boolean;
  readonly #onRetryable: (taskId: bigint, e: Error) => void;
  #failure: { error: unknown } | undefined;

  constructor(capacity: number, isRetryable: (e: unknown) => boolean, onRetryable: (taskId: bigint, e: Error) => void) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`jobs must be a whole number ≥ 1, got ${capacity}`);
    this.capacity = capacity;
    this.#isRetryable = isRetryable;
    this.#onRetryable = onRetryable;
  }

  has(taskId: bigint): boolean {
    return this.#running.has(taskId);
  }

  get running(): number {
    return this.#running.size;
  }

  get free(): number {
    return this.#controller.signal.aborted ? 0 : this.capacity - this.#running.size;
  }

  /** Runs `work` for `taskId` in the background; the promise settles when it ends (never rejects). */
  start(taskId: bigint, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
    if (this.free < 1) throw new RangeError(`no free job slot for task ${taskId} (${this.capacity} running)`);
    if (this.#running.has(taskId)) throw new RangeError(`task ${taskId} is already training`);
    const signal = this.#controller.signal;
    const job = work(signal)
      .catch((e: unknown) => {
        if (signal.aborted) return;
        if (this.#isRetryable(e)) this.#onRetryable(taskId, e as Error);
        else this.#failure ??= { error: e };
      })
      .finally(() => this.#running.delete(taskId));
    this.#running.set(taskId, job);
    return job;
  }

  /** Throws the first non-retryable failure of a job, once. */
  check(): void {
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure !== undefined) throw failure.error;
  }

  /** Aborts every job and waits until all have ended. */
  async close(): Promise<void> {
    this.#controller.abort(new Error("the miner is stopping"));
    await Promise.all(this.#running.values());
  }
}

/**
 * Fills the free slots with the best candidates, choosing again after each start (the choice skips
 * tasks in training). A task is started at most once per call, so one that fails at once is not
 * retried in a loop. Returns the started jobs.
 */
export async function startJobs<C extends { taskId: bigint }>(
  jobs: TrainingJobs,
  choose: () => Promise<C | undefined>,
  work: (candidate: C, signal: AbortSignal) => Promise<void>,
): Promise<Promise<void>[]> {
  const started = new Map<bigint, Promise<void>>();
  while (jobs.free > 0) {
    const candidate = await choose();
    if (candidate === undefined || started.has(candidate.taskId) || jobs.has(candidate.taskId)) break;
    started.set(candidate.taskId, jobs.start(candidate.taskId, (signal) => work(candidate, signal)));
  }
  return [...started.values()];
}
