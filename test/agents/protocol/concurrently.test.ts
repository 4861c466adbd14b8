import { expect } from "chai";
import { mapConcurrently } from "../../../agents/protocol/concurrently.js";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("protocol/concurrently: bounded parallel fetches (checkpoints, shards)", () => {
  it("keeps the items' order and never has more than `concurrency` in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapConcurrently([5, 1, 4, 2, 3, 0, 6, 1], 3, async (ms, k) => {
      most = Math.max(most, ++inFlight);
      await tick(ms * 3);
      inFlight--;
      return `${k}:${ms}`;
    });
    expect(out).to.deep.equal(["0:5", "1:1", "2:4", "3:2", "4:3", "5:0", "6:6", "7:1"]);
    expect(most).to.equal(3);
    expect(await mapConcurrently([], 4, async () => 1)).to.deep.equal([]);
  });

  it("on a failure starts nothing new and throws only after the items in flight have finished", async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const run = mapConcurrently([0, 1, 2, 3, 4, 5], 2, async (k) => {
      started.push(k);
      if (k === 1) throw new Error("checkpoint 1 unreachable");
      await tick(20);
      finished.push(k);
      return k;
    });
    const error = await run.then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).to.equal("checkpoint 1 unreachable");
    // item 0 was in flight when 1 failed: it finished before the error surfaced; 2.. never began
    expect(finished).to.deep.equal([0]);
    expect(started).to.deep.equal([0, 1]);
  });
});
