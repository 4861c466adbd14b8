import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Interface, ZeroAddress, isAddress, parseUnits } from "ethers";
import { z } from "zod";
import { configFlags, configOptions, type Command, type CommandIO } from "../command.js";
import { openRuntime, type AgentRuntime } from "../../core/runtime.js";
import { connectContracts } from "../../chain/contracts.js";
import { AgentError } from "../../config/errors.js";
import { loadConfig } from "../../config/load.js";
import { addressBook, deploymentConfigShape } from "../../config/deployment.js";
import { int } from "../../config/fields.js";
import { agentConfigSchema } from "../../config/schema.js";
import { createProgress } from "../../log/progress.js";
import { isMlError } from "../../ml/errors.js";
import { EmbeddedStore, openContentStore, type ContentStore } from "../../storage/index.js";
import { afterTaskEnded, type TaskEndedContext } from "../../publisher/task-ended.js";
import { Publisher, type PublishTerms, type TaskReport } from "../../publisher/agent.js";
import { checkDatasetForSpec, draftOf, loadDataset, parseDatasetSource, preparePublication, resolveSpec } from "../../publisher/prepare.js";

const address = z.string().refine((a) => isAddress(a), "must be a 0x address");

export const publisherConfigSchema = agentConfigSchema
  .extend({
    deployment: deploymentConfigShape.deployment,
    market: deploymentConfigShape.market,
    startBlock: deploymentConfigShape.startBlock,
    dataset: z.string().min(1).optional().describe("iris, mnist, a .csv file or an image folder (root/<class>/*.png|jpg); omit to resume the tasks in the state"),
    spec: z.string().min(1).optional().describe("preset (irisMlp, mnistMlp, mnistCnn) or a task spec JSON file"),
    labelColumn: z.string().min(1).optional().describe("CSV: the header name of the column holding the class (default: the last column)"),
    featureScaling: z.enum(["none", "standard"]).default("none").describe("CSV: standard = each feature to mean 0, deviation 1, recorded in the task document (default none)"),
    mnistExamples: int(20, 10_000).default(2_000).describe("MNIST images to publish (default 2000)"),
    shardCount: int(10, 256).default(10).describe("shards (10..256, default 10)"),
    testShards: int(1, 255).default(3).describe("test shards (default 3)"),
    reward: z.string().regex(/^\d+(\.\d+)?$/, "must be a decimal amount").optional().describe("reward in ETH or whole tokens (e.g. 1.5)"),
    token: address.optional().describe("ERC20 reward token (default: ETH)"),
    threshold: int(1, 10_000).default(8_000).describe("minimum accuracy, basis points (default 8000)"),
    maxSubmissions: int(1, 64).default(8).describe("miners that may commit (default 8)"),
    trainWindow: int(1, 2 ** 32 - 1).default(600).describe("seconds of training after the key unlock (default 600)"),
    ipfsApi: z.string().url().optional().describe("Kubo RPC URL; default: an embedded IPFS node in <data-dir>/ipfs-publisher"),
    ipfsListen: z.string().min(1).optional().describe("embedded node's libp2p listen addresses, comma-separated (default: where it listened for its unfinished tasks, else a random loopback port)"),
  })
  .strict();

export type PublisherConfig = z.infer<typeof publisherConfigSchema>;

/** How a run ends; flags only (a run mode, not configuration). */
export interface PublishMode {
  /** Exit once every task in the state has ended (the demo waits on this). */
  exitWhenDone: boolean;
  /** Post and exit; a later `podl publish` unlocks the keys. */
  postOnly: boolean;
  /** Leave credits in the market when tasks end (default: withdraw). */
  keepCredits?: boolean;
  /** Pin the settled models on the embedded node (default: true). */
  pin?: boolean;
  signal?: AbortSignal;
}

/** `podl publish`: prepare, upload, post, then unlock the keys on time and report the outcome. */
export const publishCommand: Command = {
  name: "publish",
  summary: "publish a training task and unlock its keys on time",
  description: [
    "Shards, encrypts and uploads a dataset, posts the task (reward in ETH or an ERC20), then stays up: it",
    "calls startNext while its task is queued and the market has room, unlocks the training keys once the",
    "started task's seed is known and the test keys after the commit deadline, and prints each task's outcome (winner, model",
    "CID, accuracy). It follows every unfinished task in its state, so without --dataset it resumes after a",
    "restart. Exit codes: 0 done or stopped by SIGINT/SIGTERM (nothing is lost; run it again to carry on),",
    "1 an error (printed with its code), 2 a usage error.",
  ].join("\n"),
  options: {
    ...configOptions(publisherConfigSchema),
    "exit-when-done": { type: "boolean", description: "exit once every task in the state has ended" },
    "keep-credits": { type: "boolean", description: "leave the returned bond and refunds as market credit (default: withdraw them when each task ends)" },
    "no-pin": { type: "boolean", description: "do not pin the winner's and ommers' models on this node after settlement" },
    "post-only": { type: "boolean", description: "post the task and exit; run `podl publish` again soon: once the task starts, its training keys are due within the market's key window" },
  },
  async run({ values, io }) {
    const config = loadConfig(publisherConfigSchema, {
      flags: configFlags(publisherConfigSchema, values),
      env: io.env,
      ...(typeof values.config === "string" ? { file: values.config } : {}),
    });
    const mode = { exitWhenDone: values["exit-when-done"] === true, postOnly: values["post-only"] === true, keepCredits: values["keep-credits"] === true, pin: values["no-pin"] !== true };
    if (mode.postOnly && config.dataset === undefined) throw new AgentError("USAGE", "--post-only needs --dataset (there is nothing to post)");
    return await runPublish(config, io, mode);
  },
};

/**
 * The publisher as a program; `scripts/publish-task.ts` calls it too. Returns the exit code.
 * SIGINT and SIGTERM stop it between rounds (the state is consistent at every point anyway).
 */
export async function runPublish(config: PublisherConfig, io: CommandIO, mode: PublishMode): Promise<number> {
  const { market, startBlock } = addressBook(config);
  // Everything that can be checked offline is checked before a node, a key or a byte is touched.
  const prepared = config.dataset === undefined ? undefined : await loadInputs(config);

  const rt = await openRuntime({ agent: "publisher", config, env: io.env , oneShot: true });
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  mode.signal?.addEventListener("abort", stop, { once: true });
  let store: Awaited<ReturnType<typeof openContentStore>> | undefined;
  try {
    const publisher = new Publisher(rt, { market, startBlock });
    if (prepared !== undefined) {
      const terms = await termsOf(config, rt.chain.provider);
      await publisher.checkTerms(terms, draftOf(prepared.spec, prepared.dataset, config.shardCount, config.testShards));
      store = await openStore(config, io, publisher);
      const providers = store instanceof EmbeddedStore ? store.addresses() : [];
      const progress = createProgress({ label: "encrypt and upload shards", total: config.shardCount, unit: "shards", log: rt.log });
      const onShard = (done: number) => progress.update(done);
      const pub = await preparePublication({ ...prepared, shardCount: config.shardCount, testShards: config.testShards, store, providers, onShard });
      progress.finish();
      // Timing lines for bench/e2e.ts (SEAM "Timings"); the task id is not known yet.
      for (const phase of ["prepare", "upload"] as const) rt.log.info({ phase, seconds: pub.seconds[phase], specCid: pub.specCid }, "timing");
      io.out(`prepared ${pub.shardCount} shards of "${pub.spec.name}"; task document ${pub.specCid}`);
      const taskId = await publisher.publish(pub, terms);
      io.out(`posted task ${taskId}: reward ${config.reward} ${terms.token === undefined ? "ETH" : `of token ${terms.token}`}, dataset root ${pub.datasetRoot}`);
      if (mode.postOnly) return 0;
    } else {
      // Miners fetch shards from the publisher's node: keep serving them while tasks run.
      if (config.ipfsApi === undefined) store = await openStore(config, io, publisher);
      await publisher.step();
      const unfinished = publisher.unfinished();
      io.out(unfinished.length === 0 ? "no unfinished task in the state" : `resuming task(s) ${unfinished.join(", ")}`);
    }
    const ended = await taskEndedContext(config, mode, rt, publisher, store, io);
    let after = Promise.resolve();
    const onReport = (r: TaskReport) => {
      io.out(describe(r));
      after = after.then(() => afterTaskEnded(ended, r.taskId)).catch((e: unknown) => rt.log.warn({ taskId: r.taskId, err: (e as Error).message }, `after task ${r.taskId}: ${(e as Error).message}`));
    };
    await publisher.serve({ signal: controller.signal, intervalMs: config.pollIntervalMs, exitWhenDone: mode.exitWhenDone, onReport });
    await after;
    if (controller.signal.aborted) {
      const unfinished = publisher.unfinished();
      io.out(unfinished.length === 0 ? "stopped" : `stopped with task(s) ${unfinished.join(", ")} unfinished; run \`podl publish\` again to carry on`);
    }
    return 0;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    mode.signal?.removeEventListener("abort", stop);
    await store?.close();
    rt.close();
  }
}

/**
 * The publisher's content store. The embedded node listens on --ipfs-listen, else where it
 * listened for the unfinished tasks (their documents name that address), else on a random
 * loopback port.
 */
async function openStore(config: PublisherConfig, io: CommandIO, publisher: Publisher) {
  const dataDir = join(config.dataDir, "ipfs-publisher");
  if (config.ipfsApi !== undefined) return await openContentStore({ dataDir, ipfsApi: config.ipfsApi });
  const listen = config.ipfsListen?.split(",") ?? publisher.previousListen();
  const store = await EmbeddedStore.open({ dataDir, ...(listen.length > 0 ? { listen } : {}), bootstrap: addressBook(config).bootstrap });
  // Miners dial one of these to fetch the task document and the shards.
  io.out(`IPFS node: ${store.addresses().join(" ")}`);
  return store;
}

export function describe(r: TaskReport): string {
  if (r.winner === undefined) return `task ${r.taskId} ended: ${r.phase}${r.outcome ? ` (${r.outcome})` : ""}`;
  return `task ${r.taskId} settled: winner ${r.winner}, model ${r.modelCid ?? "(CID not seen)"}, accuracy ${((r.score ?? 0) / 100).toFixed(2)} %`;
}
async function taskEndedContext(config: PublisherConfig, mode: PublishMode, rt: AgentRuntime, publisher: Publisher, store: ContentStore | undefined, io: CommandIO): Promise<TaskEndedContext> {
  const { settlement, rewardToken } = await connectContracts(addressBook(config), rt.chain.provider);
  return {
    market: publisher.market,
    settlement,
    ...(rewardToken === undefined ? {} : { rewardToken }),
    startBlock: addressBook(config).startBlock,
    sender: rt.sender,
    me: rt.wallet.address,
    log: rt.log,
    out: io.out,
    ...(mode.pin !== false && store !== undefined ? { store } : {}),
    pinTimeoutMs: 60_000,
    keepCredits: mode.keepCredits === true,
  };
}

/** Spec and dataset, checked against each other; a bad one is CONFIG_INVALID carrying the ML error's code. */
async function loadInputs(config: PublisherConfig) {
  if (config.spec === undefined) throw new AgentError("CONFIG_INVALID", "--spec is required with --dataset (a preset name or a spec JSON file)");
  if (config.reward === undefined) throw new AgentError("CONFIG_INVALID", "--reward is required with --dataset");
  if (config.testShards >= config.shardCount) {
    throw new AgentError("CONFIG_INVALID", `--test-shards ${config.testShards} must be below --shard-count ${config.shardCount}`);
  }
  const specInput = config.spec.endsWith(".json") ? readSpecFile(config.spec) : config.spec;
  try {
    const spec = resolveSpec(specInput);
    const dataset = await loadDataset(parseDatasetSource(config.dataset!, config.mnistExamples, { label: config.labelColumn, standardize: config.featureScaling === "standard" }), spec);
    checkDatasetForSpec(dataset, spec, config.shardCount);
    return { spec, dataset };
  } catch (e) {
    if (!isMlError(e)) throw e;
    throw new AgentError("CONFIG_INVALID", `${e.message} [${e.code}]`, { cause: e, context: { mlCode: e.code } });
  }
}

function readSpecFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new AgentError("CONFIG_INVALID", `cannot read spec file ${path}: ${(cause as Error).message}`, { cause });
  }
}

async function termsOf(config: PublisherConfig, provider: { call(tx: { to: string; data: string }): Promise<string> }): Promise<PublishTerms> {
  let decimals = 18;
  if (config.token !== undefined && config.token !== ZeroAddress) {
    const erc20 = new Interface(["function decimals() view returns (uint8)"]);
    decimals = Number(erc20.decodeFunctionResult("decimals", await provider.call({ to: config.token, data: erc20.encodeFunctionData("decimals") }))[0]);
  }
  return {
    ...(config.token !== undefined ? { token: config.token } : {}),
    reward: parseUnits(config.reward!, decimals),
    decimals,
    accuracyThreshold: config.threshold,
    maxSubmissions: config.maxSubmissions,
    trainWindow: config.trainWindow,
  };
}
