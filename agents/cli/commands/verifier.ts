import { Interface, ZeroAddress, parseUnits } from "ethers";
import { z } from "zod";
import { backoffMs, sleep } from "../../chain/retry.js";
import { retryStep } from "../../chain/retry-budget.js";
import { configFlags, configOptions, type Command, type CommandIO } from "../command.js";
import { chooseBackend, dialAll, openAgentStore } from "../agent-setup.js";
import { openRuntime, type AgentRuntime } from "../../core/runtime.js";
import { addressBook, deploymentConfigShape } from "../../config/deployment.js";
import { AgentError, isAgentError } from "../../config/errors.js";
import { loadConfig } from "../../config/load.js";
import { flag, int } from "../../config/fields.js";
import { agentConfigSchema } from "../../config/schema.js";
import { BACKEND_NAMES } from "../../ml/backend.js";
import { DEFAULT_REPLAY_SEGMENTS } from "../../ml/replay.js";
import { EmbeddedStore, type ContentStore } from "../../storage/index.js";
import { pinTaskModels } from "../../protocol/pin-settled.js";
import { Settlement__factory, TaskMarket__factory, ValidatorRegistry__factory } from "../../../types/index.js";
import { Verifier } from "../../verifier/agent.js";
import { createPrefetcher, createScorer } from "../../verifier/evaluate.js";

/** Folder of the verifier's embedded IPFS node under --data-dir. */
export const VERIFIER_IPFS_DIR = "ipfs-verifier";

export const verifierConfigSchema = agentConfigSchema
  .extend({
    ...deploymentConfigShape,
    stake: z.string().regex(/^\d+(\.\d+)?$/, "must be a decimal amount").optional().describe("stake to deposit when not bonded, in ETH or whole stake tokens (e.g. 1.5)"),
    keeper: flag.default(true).describe("send the permissionless calls that are due: draw, finalize, timeouts (default true)"),
    keeperGraceMs: int(0, 3_600_000).default(10_000).describe("ms a keeper call must be due before a validator other than the task's designated keeper sends it (default 10000)"),
    prefetch: flag.default(true).describe("fetch each task's shard ciphertexts while miners train, before any committee is drawn (default true)"),
    backend: z.enum(BACKEND_NAMES).optional().describe("TensorFlow.js backend: tensorflow, webgpu, wasm or cpu (default: the first that works)"),
    replaySegments: int(0, 16).default(DEFAULT_REPLAY_SEGMENTS).describe(`checkpoint segments replayed per submission; 0 turns replay off (default ${DEFAULT_REPLAY_SEGMENTS})`),
    replayTolerance: z.coerce.number().positive().max(1).optional().describe("largest normalised replay distance accepted (default: the ML core's calibrated value)"),
    maxArtifactBytes: int(1_024, 2 ** 31).default(64 << 20).describe("largest artifact fetched, bytes (default 64 MiB; the spec's bound applies too)"),
    fetchTimeoutMs: int(100, 600_000).default(30_000).describe("longest wait for the next block of a fetch, ms (default 30000)"),
    maxTasks: int(1, 1_000_000).optional().describe("exit 0 after following this many tasks to their end"),
    exitWhenIdle: flag.default(false).describe("exit 0 once the market has no queued or running task and every task followed has ended"),
    ipfsApi: z.string().url().optional().describe(`Kubo RPC URL; default: an embedded IPFS node in <data-dir>/${VERIFIER_IPFS_DIR}`),
    ipfsListen: z.string().min(1).optional().describe("embedded node's libp2p listen addresses, comma-separated (default loopback)"),
    ipfsPeers: z.string().min(1).optional().describe("multiaddrs to dial at start (miners' and the publisher's nodes), comma-separated"),
  })
  .strict();

export type VerifierConfig = z.infer<typeof verifierConfigSchema>;

const options = configOptions(verifierConfigSchema);
// Switches need no value on the command line (`--exit-when-idle`); files and PODL_* take true/false.
options["exit-when-idle"] = { type: "boolean", description: verifierConfigSchema.shape.exitWhenIdle.description! };

/** `podl verifier`: stake, keep, score, attest, withdraw. */
export const verifierCommand: Command = {
  name: "verifier",
  summary: "validate: stake, score revealed models on committees, attest, withdraw",
  description: [
    "Stakes in the validator registry unless already bonded (--stake), then follows the market: sends the",
    "permissionless calls that are due (committee draw, finalize, timeouts) unless --keeper false; when drawn",
    "onto a committee it fetches every revealed model, checks it (hash, spec, SML, seeded init, watermark,",
    "checkpoint replay) and scores its test accuracy, commits and reveals the scores, and withdraws its",
    "credits once the task ends. Restart it with the same --data-dir to carry on.",
  ].join("\n"),
  options,
  async run({ values, io }) {
    const config = loadConfig(verifierConfigSchema, {
      flags: configFlags(verifierConfigSchema, values),
      env: io.env,
      ...(typeof values.config === "string" ? { file: values.config } : {}),
    });
    return await runVerifier(config, io);
  },
};

/** The verifier as a program. Returns the exit code: 0 done (idle, --max-tasks, or SIGINT/SIGTERM). */
export async function runVerifier(config: VerifierConfig, io: CommandIO): Promise<number> {
  const book = addressBook(config);
  const rt = await openRuntime({
    agent: "verifier",
    config,
    env: io.env,
    errorInterfaces: [TaskMarket__factory.createInterface(), Settlement__factory.createInterface(), ValidatorRegistry__factory.createInterface()],
  });
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let store: ContentStore | undefined;
  let pinning: Promise<void> = Promise.resolve();
  try {
    const market = TaskMarket__factory.connect(book.market, rt.chain.provider);
    // Start-up is one-shot: its calls ride out a lossy endpoint for the retry budget, like `podl publish`.
    const startup = { budgetMs: config.rpcRetryBudgetMs, pauseMs: config.rpcBackoffMaxMs, log: rt.log, before: () => rt.sender.resumePending() };
    const registry = book.registry ?? (await retryStep("reading the market's registry", () => market.registry(), startup));
    const settlement = book.settlement ?? (await retryStep("reading the market's settlement", () => market.settlement(), startup));
    if (settlement === ZeroAddress) throw new AgentError("CONFIG_INVALID", `market ${book.market} has no settlement module yet`);

    const backend = await chooseBackend(config.backend, rt);
    store = await openAgentStore(config, VERIFIER_IPFS_DIR, rt, book.bootstrap);
    const fetching = {
      store,
      fetchTimeoutMs: config.fetchTimeoutMs,
      // The task document names the publisher's node; the configured peers (miners) are dialled
      // again too, in case a connection dropped since the start.
      dial: async (addresses: readonly string[]) => {
        if (store instanceof EmbeddedStore) await dialAll(store, [...addresses, ...(config.ipfsPeers?.split(",") ?? [])], rt);
      },
      log: rt.log,
    };
    const scorer = createScorer({
      ...fetching,
      replaySegments: config.replaySegments,
      ...(config.replayTolerance === undefined ? {} : { replayTolerance: config.replayTolerance }),
      maxArtifactBytes: config.maxArtifactBytes,
    });
    const verifier = new Verifier(rt, {
      market: book.market,
      settlement,
      registry,
      startBlock: book.startBlock,
      scorer,
      ...(config.prefetch ? { prefetch: createPrefetcher(fetching) } : {}),
      keeper: config.keeper,
      keeperGraceMs: config.keeperGraceMs,
    });
    await retryStep("staking", async () => verifier.ensureStake(config.stake === undefined ? 0n : await stakeUnits(config.stake, registry, rt)), startup);
    io.out(`verifier ${verifier.address} bonded; backend ${backend}; following market ${book.market}${config.keeper ? " (keeper on)" : ""}`);

    let outages = 0;
    while (!controller.signal.aborted) {
      let report: Awaited<ReturnType<Verifier["step"]>>;
      try {
        report = await verifier.step();
        outages = 0;
      } catch (e) {
        // The endpoint kept failing through every retry: wait longer and try again; windows are minutes.
        if (!isAgentError(e, "RPC_UNAVAILABLE")) throw e;
        const delayMs = backoffMs(rt.retry, outages++);
        rt.log.error({ err: e.message, outages, delayMs }, "RPC unavailable; will retry");
        await sleep(delayMs, controller.signal);
        continue;
      }
      for (const taskId of report.ended) {
        io.out(`task ${taskId} ended; credits withdrawn`);
        // A validator that scored the task keeps its settled models (already in its blockstore), so
        // they outlive the miners' nodes; in the background, finished before exit. Scores are
        // filed as `scores:<round>` (agent.ts), round 1 after a redraw.
        const scored = [0, 1].some((round) => rt.store.getSalt(taskId, `scores:${round}`) !== undefined);
        if (!scored) continue;
        const pinStore = store;
        pinning = pinning.then(() => pinTaskModels({ market: verifier.market, settlement: verifier.settlement, fromBlock: book.startBlock }, pinStore, taskId, { timeoutMs: config.fetchTimeoutMs, log: rt.log }))
          .then(() => undefined, (e: unknown) => rt.log.warn({ taskId, err: (e as Error).message }, `could not pin the models of task ${taskId}`));
      }
      const ended = verifier.endedTasks().length;
      if (config.maxTasks !== undefined && ended >= config.maxTasks) {
        io.out(`followed ${ended} task(s) to their end (--max-tasks ${config.maxTasks}); exiting`);
        return 0;
      }
      if (config.exitWhenIdle && report.open === 0 && ended > 0 && (await idleMarket(market))) {
        io.out(`no queued or running task left and ${ended} task(s) ended; exiting`);
        return 0;
      }
      await sleep(config.pollIntervalMs, controller.signal);
    }
    io.out("stopped; run `podl verifier` again with the same --data-dir to carry on");
    return 0;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await pinning;
    await store?.close();
    rt.close();
  }
}

async function idleMarket(market: ReturnType<typeof TaskMarket__factory.connect>): Promise<boolean> {
  const [queued, active] = await Promise.all([market.queueLength(), market.activeCount()]);
  return queued === 0n && active === 0n;
}

/**
 * `--stake` in base units of the registry's stake token (ETH or its decimals). Without --stake the
 * agent only goes on when the key is already bonded (`ensureStake` says so otherwise).
 */
async function stakeUnits(amount: string, registryAddress: string, rt: AgentRuntime): Promise<bigint> {
  const token = await ValidatorRegistry__factory.connect(registryAddress, rt.chain.provider).stakeToken();
  if (token === ZeroAddress) return parseUnits(amount, 18);
  const erc20 = new Interface(["function decimals() view returns (uint8)"]);
  const decimals = Number(erc20.decodeFunctionResult("decimals", await rt.chain.provider.call({ to: token, data: erc20.encodeFunctionData("decimals") }))[0]);
  return parseUnits(amount, decimals);
}

