import { join } from "node:path";
import { freePort } from "./node.js";
import type { AgentProcess, Supervisor } from "./supervisor.js";

/**
 * The demo's explorer: `podl explorer` on the demo's deployment, a free port on loopback (or
 * `port`), its index in the run folder. It holds no key and never exits by itself: the demo stops it
 * with the agents.
 */
export async function startDemoExplorer(supervisor: Supervisor, o: { rpcUrl: string; deploymentFile: string; folder: string; port?: number | undefined; pollIntervalMs: number }): Promise<{ url: string; process: AgentProcess }> {
  const port = o.port ?? (await freePort());
  const process = supervisor.spawn({
    name: "explorer",
    args: ["explorer", "--deployment", o.deploymentFile, "--host", "127.0.0.1", "--port", String(port), "--db", join(o.folder, "explorer.sqlite")],
    env: { PODL_RPC_URL: o.rpcUrl, PODL_CHAIN_ID: "31337", PODL_DATA_DIR: join(o.folder, "explorer"), PODL_POLL_INTERVAL_MS: String(o.pollIntervalMs) },
  });
  return { url: `http://127.0.0.1:${port}/`, process };
}
