import { expect } from "chai";
import { withRetry, type RetryPolicy } from "../../agents/chain/retry.js";
import { isAgentError } from "../../agents/config/errors.js";
import { logLimited, REPEAT_WINDOW_MS } from "../../agents/log/rate-limit.js";
import { captureLogger } from "../agents/helpers/log.js";

const POLICY: RetryPolicy = { retries: 3, baseMs: 1, maxMs: 4 };
const reset = () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });

describe("faults: retry logs an operator can read", function () {
  it("names the call, says attempt k of n and the delay, and says once when the call recovered", async () => {
    const { log, lines } = captureLogger();
    let calls = 0;
    const value = await withRetry("eth_getTransactionReceipt of commitModel task 7", async () => (++calls < 3 ? Promise.reject(reset()) : 42), POLICY, log);
    expect(value).to.equal(42);
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings.map((l) => [l.what, l.attempt, l.of])).to.deep.equal([
      ["eth_getTransactionReceipt of commitModel task 7", 1, 4],
      ["eth_getTransactionReceipt of commitModel task 7", 2, 4],
    ]);
    expect(warnings[0]!.msg).to.match(/^eth_getTransactionReceipt of commitModel task 7: attempt 1 of 4 failed \(socket hang up\); retrying in \d+ ms$/);
    expect(warnings[0]!.delayMs).to.be.a("number");
    const recovered = lines().filter((l) => l.level === 30);
    expect(recovered).to.have.length(1);
    expect(recovered[0]!.msg).to.match(/^eth_getTransactionReceipt of commitModel task 7: recovered at attempt 3 of 4/);
  });

  it("gives up with RPC_UNAVAILABLE after n attempts, and logs no recovery", async () => {
    const { log, lines } = captureLogger();
    const failure = await withRetry("eth_call", () => Promise.reject(reset()), POLICY, log).catch((e: unknown) => e);
    expect(isAgentError(failure, "RPC_UNAVAILABLE")).to.equal(true);
    expect((failure as Error).message).to.equal("eth_call: the RPC endpoint failed 4 times");
    expect(lines().filter((l) => l.level === 40).map((l) => l.attempt)).to.deep.equal([1, 2, 3]);
    expect(lines().filter((l) => l.level === 30)).to.have.length(0);
  });

  it("writes an identical warning once, however many calls fail the same way at the same attempt", async () => {
    const { log, lines } = captureLogger();
    // Twenty calls of one method, each failing once with the same error, as under a lossy endpoint.
    const failOnce = () => {
      let failed = false;
      return async () => (failed ? 1 : ((failed = true), Promise.reject(reset())));
    };
    await Promise.all(Array.from({ length: 20 }, () => withRetry("eth_call", failOnce(), POLICY, log)));
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings).to.have.length(1);
    expect(warnings[0]!.msg).to.match(/^eth_call: attempt 1 of 4 failed \(socket hang up\); retrying in \d+ ms$/);
  });

  it("writes an identical line once per window and counts what it left out", () => {
    const { log, lines } = captureLogger();
    const t0 = 1_000_000;
    for (let i = 0; i < 50; i++) logLimited(log, "warn", "same", { what: "eth_call" }, "eth_call: attempt 1 of 6 failed", t0 + i);
    logLimited(log, "warn", "other", { what: "eth_getLogs" }, "eth_getLogs: attempt 1 of 6 failed", t0 + 60);
    logLimited(log, "warn", "same", { what: "eth_call" }, "eth_call: attempt 1 of 6 failed", t0 + REPEAT_WINDOW_MS + 1);
    const out = lines();
    expect(out.map((l) => l.msg)).to.deep.equal([
      "eth_call: attempt 1 of 6 failed",
      "eth_getLogs: attempt 1 of 6 failed",
      "eth_call: attempt 1 of 6 failed (49 identical line(s) left out since the last one)",
    ]);
    expect(out[2]!.suppressed).to.equal(49);
  });
});
