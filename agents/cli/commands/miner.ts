import { parseEther } from "ethers";
import { z } from "zod";
import { sleep } from "../../chain/retry.js";
import { configFlags, configOptions, type Command, type CommandIO } from "../command.js";
import { chooseBackend, dialAll, openAgentStore } from "../agent-setup.js";
import { openRuntime } from "../../core/runtime.js";
import { addressBook, deploymentConfigShape } from "../../config/deployment.js";
import { loadConfig } from "../../config/load.js";
import { flag, int } from "../../config/fields.js";
import { agentConfigSchema } from "../../config/schema.js";
import { BACKEND_NAMES } from "../../ml/backend.js";
import { buildEngine, chooseEngine, ENGINE_NAMES } from "../../miner/engine.js";
import { EmbeddedStore, type ContentStore } from "../../storage/index.js";
import { TaskMarket__factory } from "../../../types/index.js";
import { Miner, isRetryable } from "../../miner/agent.js";

/** Folder of the miner's embedded IPFS node under --data-dir. */
export const MINER_IPFS_DIR = "ipfs-miner";

export const minerConfigSchema = agentConfigSchema
  .extend({
    ...deploymentConfigShape,
    strategy: z.enum(["dlbc", "pole"]).default("dlbc").describe("which task to train first: dlbc (the market's ranking) or pole (reward per expected second, from a probe of a few batches, at most 8); default dlbc"),
    backend: z.enum(BACKEND_NAMES).optional().describe("TensorFlow.js backend: tensorflow, webgpu, wasm or cpu (default: the first that works)"),
    engine: z.enum(ENGINE_NAMES).optional().describe("training engine: torch (PyTorch in a Python worker) or tfjs (default: torch when a CUDA-enabled PyTorch is importable, else tfjs)"),
    python: z.string().min(1).optional().describe("the Python the torch engine runs (default: $PODL_PYTHON, python3, /usr/bin/python3, the first that imports torch)"),
    maxParams: int(1, Number.MAX_SAFE_INTEGER).optional().describe("skip tasks whose model has more parameters"),
    maxFlops: int(1, Number.MAX_SAFE_INTEGER).optional().describe("skip tasks whose model needs more forward FLOPs per sample"),
    maxBond: z.string().regex(/^\d+(\.\d+)?$/, "must be a decimal amount").optional().describe("skip tasks whose miner bond is higher, in ETH or whole tokens (e.g. 0.05)"),
    maxEpochs: int(1, 1_000_000).optional().describe("train at most this many epochs (the spec's epochs.max and the time left also cap them); training goes on past them, up to the spec's epochs.max and while time is left, only while the model's watermark does not read yet"),
    jobs: int(1, 64).default(1).describe("tasks trained at once, each in its own worker thread (default 1; more only when the cores allow)"),
    commitMargin: int(0, 86_400).default(30).describe("seconds before the commit deadline by which the commitment is sent (default 30)"),
    fetchTimeoutMs: int(100, 600_000).default(30_000).describe("longest wait for the next block of a fetch, ms (default 30000)"),
    startTasks: flag.default(true).describe("call startNext when a task it wants is queued and the market has room (default true)"),
    maxTasks: int(1, 1_000_000).optional().describe("exit 0 after following this many tasks to their end (mined, skipped or missed)"),
    exitWhenIdle: flag.default(false).describe("exit 0 once the market has no queued or running task and every task followed has ended"),
    ipfsApi: z.string().url().optional().describe(`Kubo RPC URL; default: an embedded IPFS node in <data-dir>/${MINER_IPFS_DIR}`),
    ipfsListen: z.string().min(1).optional().describe("embedded node's libp2p listen addresses, comma-separated (default loopback)"),
    ipfsPeers: z.string().min(1).optional().describe("multiaddrs to dial at start (the publisher's node), comma-separated"),
  })
  .strict();

export type MinerConfig = z.infer<typeof minerConfigSchema>;

const options = configOptions(minerConfigSchema);
// Switches need no value on the command line (`--exit-when-idle`); files and PODL_* take true/false.
options["exit-when-idle"] = { type: "boolean", description: minerConfigSchema.shape.exitWhenIdle.description! };

/** `podl miner`: follow tasks, train, commit, reveal, withdraw. */
export const minerCommand: Command = {
  name: "miner",
  summary: "mine: train models for posted tasks, commit, reveal, withdraw the rewards",
  description: [
    "Follows the market: fetches each posted task's document and skips, saying why, a task it cannot do",
    "(invalid spec, over --max-params/--max-flops, a backend lacking an operation, a bond it cannot pay);",
    "prefetches the encrypted shards; when the training keys are out it trains (the task chosen by",
    "--strategy), uploads checkpoints and artifact to IPFS, stores the commitment's opening and commits",
    "with the bond before the deadline, reveals when the reveal window opens, and withdraws its credit",
    "once the task ends. Restart it with the same --data-dir to carry on (a commitment is still revealed).",
  ].join("\n"),
  options,
  async run({ values, io }) {
    const config = loadConfig(minerConfigSchema, {
      flags: configFlags(minerConfigSchema, values),
      env: io.env,
      ...(typeof values.config === "string" ? { file: values.config } : {}),
    });
    return await runMiner(config, io);
  },
};

/** The miner as a program. Returns the exit code: 0 done (idle, --max-tasks, or SIGINT/SIGTERM). */
export async function runMiner(config: MinerConfig, io: CommandIO): Promise<number> {
  const book = addressBook(config);
  const market = TaskMarket__factory.createInterface();
  const rt = await openRuntime({ agent: "miner", config, env: io.env, errorInterfaces: [market] });
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let store: ContentStore | undefined;
  let running: Miner | undefined;
  try {
    const backend = await chooseBackend(config.backend, rt);
    const { engine: choice, note } = await chooseEngine(config.engine, config.python);
    rt.log.info({ engine: choice.name }, note);
    const engine = buildEngine(choice, backend, (reason) => rt.log.warn({ engine: "tfjs" }, `training with tfjs instead of torch: ${reason}`));
    store = await openAgentStore(config, MINER_IPFS_DIR, rt, book.bootstrap);
    const peers = config.ipfsPeers?.split(",").map((p) => p.trim()) ?? [];
    const miner = new Miner(rt, {
      market: book.market,
      ...(book.rewardToken === undefined ? {} : { rewardToken: book.rewardToken }),
      startBlock: book.startBlock,
      store,
      backend,
      ...(engine === undefined ? {} : { engine }),
      strategy: config.strategy,
      ...(config.maxParams === undefined ? {} : { maxParams: config.maxParams }),
      ...(config.maxFlops === undefined ? {} : { maxFlops: config.maxFlops }),
      // Bonds are in the task's token; ETH and 18-decimal tokens share the unit.
      ...(config.maxBond === undefined ? {} : { maxBond: parseEther(config.maxBond) }),
      ...(config.maxEpochs === undefined ? {} : { maxEpochs: config.maxEpochs }),
      commitMarginSeconds: config.commitMargin,
      fetchTimeoutMs: config.fetchTimeoutMs,
      startTasks: config.startTasks,
      jobs: config.jobs,
      background: true,
      dial: async (addresses) => {
        if (store instanceof EmbeddedStore) await dialAll(store, [...new Set([...peers, ...addresses])], rt);
      },
    });
    running = miner;
    const ipfs = store instanceof EmbeddedStore ? `; IPFS ${store.addresses().join(",")}` : "";
    io.out(`miner ${miner.address} on ${backend}, strategy ${config.strategy}; following market ${book.market}${ipfs}`);

    const marketContract = TaskMarket__factory.connect(book.market, rt.chain.provider);
    /** One step and the exit checks; true when the miner is done. */
    const round = async (): Promise<boolean> => {
      const report = await miner.step();
      for (const line of report.events) io.out(line);
      if (config.maxTasks !== undefined && report.ended >= config.maxTasks) {
        io.out(`followed ${report.ended} task(s) to their end (--max-tasks ${config.maxTasks}); exiting`);
        return true;
      }
      if (!config.exitWhenIdle || report.open > 0 || report.ended === 0) return false;
      const [queued, active] = await Promise.all([marketContract.queueLength(), marketContract.activeCount()]);
      if (queued !== 0n || active !== 0n) return false;
      io.out(`no queued or running task left and ${report.ended} task(s) ended; exiting`);
      return true;
    };
    while (!controller.signal.aborted) {
      try {
        if (await round()) return 0;
      } catch (e) {
        // The network failed past its retries: wait and carry on from the state.
        if (!isRetryable(e)) throw e;
        rt.log.warn({ err: (e as Error).message }, "the network failed; retrying");
      }
      await sleep(config.pollIntervalMs, controller.signal);
    }
    io.out("stopped; run `podl miner` again with the same --data-dir to carry on");
    return 0;
  } finally {
    await running?.close();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await store?.close();
    rt.close();
  }
}

