import { expect } from "chai";
import { Network } from "ethers";
import { pino } from "pino";
import { RetryingProvider } from "../../../agents/chain/provider.js";
import { URGENT_BACKOFF_MAX_MS, whileUrgent, type DeadlineRuntime } from "../../../agents/core/deadline.js";

describe("core/deadline: RPC retries stay short while a deadline-bound send runs", () => {
  it("caps the back-off for the whole of overlapping jobs (two tasks' reveals), and lifts it after the last, even one that threw", async () => {
    const retry = { retries: 6, baseMs: 250, maxMs: 8_000 };
    // never contacted: the jobs below only read and set the cap
    const provider = new RetryingProvider("http://127.0.0.1:1", { staticNetwork: Network.from(31337) }, retry);
    const rt = { chain: { provider }, retry, log: pino({ level: "silent" }) } as unknown as DeadlineRuntime;
    let release!: () => void;
    const first = whileUrgent(rt, () => new Promise<void>((r) => (release = r)));
    expect(provider.backoffCapMs).to.equal(URGENT_BACKOFF_MAX_MS);
    const second = whileUrgent(rt, async () => {
      throw new Error("revealModel reverted");
    });
    await second.then(() => expect.fail("should throw"), (e: Error) => expect(e.message).to.equal("revealModel reverted"));
    expect(provider.backoffCapMs, "the first job still runs").to.equal(URGENT_BACKOFF_MAX_MS);
    release();
    await first;
    expect(provider.backoffCapMs).to.equal(undefined);
    provider.destroy();
  });
});
