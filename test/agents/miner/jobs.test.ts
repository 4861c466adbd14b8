import { expect } from "chai";
import { TrainingJobs, startJobs } from "../../../agents/miner/jobs.js";

class Transient extends Error {}
const retryable = (e: unknown) => e instanceof Transient;

describe("miner/jobs: background training jobs", () => {
  it("fills the free slots with the best candidates, each task once, and frees a slot when a job ends", async () => {
    const heard: bigint[] = [];
    const jobs = new TrainingJobs(2, retryable, (id) => heard.push(id));
    const queue = [{ taskId: 1n }, { taskId: 2n }, { taskId: 3n }];
    const release: (() => void)[] = [];
    const started = await startJobs(jobs, async () => queue.find((c) => !jobs.has(c.taskId)), () => new Promise<void>((r) => release.push(r)));
    expect(started).to.have.length(2);
    expect([jobs.has(1n), jobs.has(2n), jobs.has(3n), jobs.free]).to.deep.equal([true, true, false, 0]);
    release[0]!();
    await started[0];
    expect([jobs.has(1n), jobs.free]).to.deep.equal([false, 1]);
    release[1]!();
    await Promise.all(started);
  });

  it("does not start a task twice in one call when it fails at once", async () => {
    const jobs = new TrainingJobs(3, retryable, () => {});
    let calls = 0;
    const started = await startJobs(jobs, async () => ({ taskId: 7n }), async () => {
      calls++;
      throw new Transient("no peer");
    });
    await Promise.all(started);
    expect(calls).to.equal(1);
  });

  it("logs a retryable failure, keeps any other for the next check(), and close() aborts the jobs", async () => {
    const heard: string[] = [];
    const jobs = new TrainingJobs(2, retryable, (id, e) => heard.push(`${id}: ${e.message}`));
    await jobs.start(1n, async () => {
      throw new Transient("rpc down");
    });
    expect(heard).to.deep.equal(["1: rpc down"]);
    expect(() => jobs.check()).to.not.throw();
    await jobs.start(2n, async () => {
      throw new RangeError("a bug");
    });
    expect(() => jobs.check()).to.throw(RangeError, "a bug");
    expect(() => jobs.check(), "thrown once").to.not.throw();
    let aborted = false;
    const job = jobs.start(3n, (signal) => new Promise<void>((_, reject) => signal.addEventListener("abort", () => ((aborted = true), reject(signal.reason)))));
    await jobs.close();
    await job;
    expect(aborted).to.equal(true);
    expect(() => jobs.check(), "an aborted job is not a failure").to.not.throw();
    expect(jobs.free).to.equal(0);
  });

  it("refuses a capacity that is not a whole number ≥ 1", () => {
    expect(() => new TrainingJobs(0, retryable, () => {})).to.throw(/jobs must be a whole number ≥ 1, got 0/);
  });
});
