import { isIP } from "node:net";
import { join } from "node:path";
import { z } from "zod";
import { connectChain, redactUrl } from "../../chain/provider.js";
import { connectContracts } from "../../chain/contracts.js";
import { addressBook, deploymentConfigShape } from "../../config/deployment.js";
import { agentConfigSchema } from "../../config/schema.js";
import { createLogger } from "../../log/logger.js";
import { startExplorer } from "../../explorer/service.js";
import { loadCommandConfig } from "../command-chain.js";
import { configOptions, type Command } from "../command.js";

/** The explorer signs nothing: the agents' key and transaction settings do not apply. */
export const explorerConfigSchema = agentConfigSchema
  .omit({ keystore: true, keystorePasswordFile: true, gasHeadroomPercent: true, txTimeoutMs: true })
  .extend({
    ...deploymentConfigShape,
    host: z
      .string()
      .refine((h) => isIP(h) !== 0 || /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/.test(h), "must be an IP address or a host name")
      .default("127.0.0.1").describe("address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 serves the network)"),
    port: z.coerce.number().int().min(0).max(65_535).default(8800).describe("TCP port (default 8800; 0 picks a free one)"),
    db: z.string().min(1).optional().describe("SQLite file of the index (default <data-dir>/explorer.sqlite)"),
  })
  .strict();

/** `podl explorer`: index the market's events and serve the web page and the JSON API. */
export const explorerCommand: Command = {
  name: "explorer",
  summary: "index the market and serve a web explorer (queue, tasks, scores, validators, learning chain)",
  description: [
    "Follows the market, settlement and registry events from the deployment's block (with the agents'",
    "confirmations rule and reorg-safe cursor) into a SQLite index, then serves a web page with plots and",
    "a read-only JSON API (docs/explorer.md) on --host:--port, updating open pages as blocks arrive.",
    "Holds no key. Restart it with the same --db to carry on where it stopped.",
  ].join("\n"),
  options: configOptions(explorerConfigSchema),
  async run({ values, io }) {
    const config = loadCommandConfig(explorerConfigSchema, { values, io });
    const book = addressBook(config);
    const log = createLogger({ agent: "explorer", level: config.logLevel });
    const retry = { retries: config.rpcRetries, baseMs: config.rpcBackoffMs, maxMs: config.rpcBackoffMaxMs };
    const chain = await connectChain({ rpcUrl: config.rpcUrl, chainId: config.chainId, confirmations: config.confirmations, pollIntervalMs: config.pollIntervalMs, retry, log });
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      const c = await connectContracts(book, chain.provider);
      const explorer = await startExplorer({
        provider: chain.provider,
        contracts: { market: book.market, registry: await c.registry.getAddress(), settlement: await c.settlement?.getAddress(), queueLens: book.queueLens },
        startBlock: book.startBlock,
        confirmations: chain.confirmations,
        chunkBlocks: config.logChunkBlocks,
        maxReorgDepth: config.maxReorgDepth,
        pollIntervalMs: config.pollIntervalMs,
        retry,
        log,
        dbPath: config.db ?? join(config.dataDir, "explorer.sqlite"),
        host: config.host,
        port: config.port,
      });
      io.out(`explorer: ${explorer.url} (chain ${chain.chainId} at ${redactUrl(config.rpcUrl)}, market ${book.market})`);
      try {
        await Promise.race([explorer.done, new Promise((resolve) => controller.signal.addEventListener("abort", resolve, { once: true }))]);
      } finally {
        await explorer.stop();
      }
      return 0;
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      chain.provider.destroy();
    }
  },
};
