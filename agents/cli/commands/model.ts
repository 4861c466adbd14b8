import { join, resolve } from "node:path";
import { z } from "zod";
import { connectContracts } from "../../chain/contracts.js";
import { addressBook, deploymentConfigShape } from "../../config/deployment.js";
import { AgentError } from "../../config/errors.js";
import { agentConfigSchema } from "../../config/schema.js";
import { createLogger, type Logger } from "../../log/logger.js";
import { selectBackend } from "../../ml/backend.js";
import { exportArtifact, writeModelExport } from "../../ml/export.js";
import { fetchWinningModel, findWinningSubmission } from "../../publisher/winner.js";
import { EmbeddedStore, openContentStore, type ContentStore } from "../../storage/index.js";
import { connectCommandChain, loadCommandConfig } from "../command-chain.js";
import { configOptions, type Command } from "../command.js";

/** Where `podl model get` keeps its embedded IPFS node, under --data-dir. */
export const MODEL_IPFS_DIR = "ipfs-model";

export const modelGetConfigSchema = agentConfigSchema
  .extend({
    ...deploymentConfigShape,
    ipfsApi: z.string().url().optional().describe(`Kubo RPC URL; default: an embedded IPFS node in <data-dir>/${MODEL_IPFS_DIR}`),
    ipfsListen: z.string().min(1).optional().describe("embedded node's libp2p listen addresses, comma-separated (default loopback)"),
    ipfsPeers: z.string().min(1).optional().describe("multiaddrs to dial first (the winning miner's, a validator's or the publisher's node), comma-separated"),
    fetchTimeoutMs: z.coerce.number().int().min(100).max(3_600_000).default(60_000).describe("give up when no block arrives for this long (default 60000)"),
  })
  .strict();

/** `podl model get <taskId>`: the winning model of a settled task, checked against the chain, as a TensorFlow.js model folder. */
export const modelGetCommand: Command = {
  name: "model get",
  summary: "fetch a settled task's winning model and export it as a TensorFlow.js model",
  description: [
    "Finds the winner of a settled task on chain (its learning block and revealed model CID), fetches the",
    "artifact from IPFS (any peer that has it), refuses it unless it hashes to the model hash on chain, and",
    "writes a TensorFlow.js LayersModel to --out: model.json and weights.bin (loadable with",
    "tf.loadLayersModel; the Secure Mapping Layer is its fixed first layer), labels.json (class names in",
    "class-index order, from the task document) and preprocessing.json (how the task's data was prepared).",
    "Use it with `podl predict --model DIR`.",
  ].join("\n"),
  args: "<taskId>",
  options: {
    ...configOptions(modelGetConfigSchema),
    out: { type: "string", description: "folder to write the model into (default ./model-<taskId>)", value: "dir" },
    json: { type: "boolean", description: "print one JSON object instead of text" },
  },
  async run({ values, positionals, io }) {
    if (positionals.length !== 1) throw new AgentError("USAGE", `expected one <taskId>, got ${positionals.length} arguments`);
    const taskId = parseTaskId(positionals[0]!);
    const out = resolve(parseOut(values.out) ?? `model-${taskId}`);
    const config = loadCommandConfig(modelGetConfigSchema, { values, io });
    const book = addressBook(config);
    const log = createLogger({ agent: "model", level: config.logLevel });
    const chain = await connectCommandChain(config, "model");
    let store: ContentStore | undefined;
    try {
      const { market } = await connectContracts(book, chain.provider);
      const win = await findWinningSubmission(market, taskId, book.startBlock);
      const peers = config.ipfsPeers?.split(",").map((p) => p.trim()).filter((p) => p !== "") ?? [];
      store = await openContentStore({
        dataDir: join(config.dataDir, MODEL_IPFS_DIR),
        ...(config.ipfsApi !== undefined ? { ipfsApi: config.ipfsApi } : {}),
        ...(config.ipfsListen !== undefined ? { listen: config.ipfsListen.split(",") } : {}),
        peers,
        bootstrap: book.bootstrap,
      });
      const { bytes, artifact, document } = await fetchWinningModel(store, win, { timeoutMs: config.fetchTimeoutMs, onDocument: async (doc) => dialProviders(store!, doc.providers, log) });
      await selectBackend({ force: "cpu" });
      const exported = await exportArtifact(artifact, win.modelHash, document.dataset);
      const files = await writeModelExport(out, exported);
      const summary = { taskId: taskId.toString(), winner: win.winner, score: win.score, modelHash: win.modelHash, modelCid: win.modelCid, bytes: bytes.length, out, files, labels: exported.labels, preprocessing: exported.preprocessing ?? null };
      if (values.json === true) {
        io.out(JSON.stringify(summary));
      } else {
        io.out(`task ${taskId}: winner ${win.winner}, accuracy ${(win.score / 100).toFixed(2)} % (median of the validators)`);
        io.out(`artifact ${win.modelCid} matches the model hash on chain ${win.modelHash}`);
        io.out(`wrote ${out}: ${files.map((f) => f.slice(out.length + 1)).join(", ")}`);
        io.out(`classes: ${exported.labels.join(", ")}`);
        if (exported.preprocessing === undefined) io.out("preprocessing: not recorded (the task document predates it); feed the model what the task trained on");
        io.out(`predict with: podl predict --model ${out} --input <file or folder>`);
      }
      return 0;
    } finally {
      await store?.close();
      chain.provider.destroy();
    }
  },
};

/** A task id as typed: a positive decimal integer; USAGE otherwise. */
export function parseTaskId(value: string): bigint {
  if (!/^[1-9][0-9]{0,76}$/.test(value)) throw new AgentError("USAGE", `<taskId>: must be a positive integer, got ${JSON.stringify(value)}`);
  return BigInt(value);
}

function parseOut(value: string | boolean | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") throw new AgentError("USAGE", "--out: must name a folder");
  return value;
}

/** The publisher's nodes named in the task document; one that does not answer is a warning. */
async function dialProviders(store: ContentStore, providers: readonly string[], log: Logger): Promise<void> {
  if (!(store instanceof EmbeddedStore)) return;
  for (const address of providers) {
    try {
      await store.dial(address);
    } catch (e) {
      log.warn({ address, err: (e as Error).message }, "could not dial a provider named in the task document");
    }
  }
}
