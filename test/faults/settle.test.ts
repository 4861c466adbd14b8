import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { DEMO_TASKS, runDemo } from "../../devnet/run.js";
import { FaultProxy, lossPlan } from "./fault-proxy.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Minutes, not seconds: behind PODL_FAULTS_E2E=1 (`npm run test:faults-e2e`), like the other long runs. */
const RUN = process.env.PODL_FAULTS_E2E === "1";

(RUN ? describe : describe.skip)("faults: a task settles end to end through a lossy endpoint (PODL_FAULTS_E2E=1)", function () {
  this.timeout(600_000);

  it("the Iris task settles with every agent behind a proxy that fails 30 % of the requests and delays 10 % by 2–5 s (seed 15)", async () => {
    const folder = await mkdtemp(join(tmpdir(), "podl-fault-settle-"));
    let proxy: FaultProxy | undefined;
    const sent: string[] = [];
    const crashes: string[] = [];
    try {
      const summary = await runDemo({
        repoRoot,
        folder,
        mnistExamples: 0,
        timeoutMs: 480_000,
        verbose: false,
        print: () => undefined,
        // 60 s to train instead of the demo's 30: the test is about the faults, not a loaded machine's speed.
        tasks: DEMO_TASKS.filter((t) => t.label === "iris").map((t) => ({ ...t, trainWindow: 60 })),
        onLog: (agent, line) => {
          if (line.msg === "transaction sent") sent.push(String(line.txHash));
          if (line.level === 60) crashes.push(`${agent}: ${String(line.msg)}`);
        },
        agentRpc: async (nodeUrl) => (proxy = await FaultProxy.start(nodeUrl, lossPlan(15, 0.3, 0.1))).url,
      });
      expect(summary.demo, summary.demo === "failed" ? summary.error : "").to.equal("ok");
      expect(summary.tasks.map((t) => t.phase)).to.deep.equal(["settled"]);
      expect(summary.tasks[0]!.winner).to.be.a("string");
      expect(crashes).to.deep.equal([]);
      // The faults happened: about 30 % of the requests, lost answers to broadcasts among them.
      const c = proxy!.counters;
      const failed = c.faults["drop-request"] + c.faults["drop-answer"] + c.faults["http-503"] + c.faults["closed-socket"];
      expect(failed / c.requests).to.be.within(0.25, 0.35);
      expect(c.faults.delay).to.be.greaterThan(0);
      // No transaction was sent twice: each "transaction sent" names a different hash.
      expect(new Set(sent).size).to.equal(sent.length);
    } finally {
      await proxy?.close();
      await rm(folder, { recursive: true, force: true });
    }
  });
});
