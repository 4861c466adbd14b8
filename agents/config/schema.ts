import envPaths from "env-paths";
import { z } from "zod";
import { LOG_LEVELS } from "../log/logger.js";
import { int } from "./fields.js";

/**
 * The platform's data folder (`$XDG_DATA_HOME/podl` or `~/.local/share/podl` on Linux, the
 * Application Support and LocalAppData folders elsewhere). Never relative to the current directory:
 * an agent started from another folder must find the salts it stored, or it forfeits its bonds.
 */
export const DEFAULT_DATA_DIR = envPaths("podl", { suffix: "" }).data;

/**
 * What every agent needs. Role-specific schemas extend it (`agentConfigSchema.extend({...})`).
 * Numbers are coerced because flags and environment variables arrive as strings. The
 * descriptions are the CLI's help text.
 */
export const agentConfigSchema = z
  .object({
    rpcUrl: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), "must be an http(s) URL")
      .describe("JSON-RPC endpoint (http or https)"),
    chainId: int(1, Number.MAX_SAFE_INTEGER).optional().describe("expected chain id; another chain is refused"),
    dataDir: z
      .string()
      .min(1)
      .default(DEFAULT_DATA_DIR)
      .describe(`folder for the agent's state: salts, openings, artifacts (default ${DEFAULT_DATA_DIR})`),
    confirmations: int(0, 256).optional().describe("blocks an event must be buried under (default 0 on chain 31337, else 3)"),
    pollIntervalMs: int(50, 600_000).default(1_000).describe("how often to look for new blocks (default 1000)"),
    logChunkBlocks: int(1, 100_000).default(2_000).describe("blocks per eth_getLogs request (default 2000)"),
    maxReorgDepth: int(1, 10_000).default(64).describe("how far the event cursor may rewind on a reorg (default 64)"),
    gasHeadroomPercent: int(0, 500).default(20).describe("gas limit = estimate + this percentage (default 20)"),
    rpcRetries: int(0, 20).default(5).describe("retries of a failing RPC call (default 5)"),
    rpcBackoffMs: int(1, 60_000).default(250).describe("first retry delay, doubled per retry (default 250)"),
    rpcBackoffMaxMs: int(1, 600_000).default(8_000).describe("longest retry delay (default 8000)"),
    rpcRetryBudgetMs: int(0, 86_400_000).default(180_000).describe("how long a one-shot command (publish, withdraw) retries a failing RPC call, ms, instead of --rpc-retries times; 0 counts (default 180000)"),
    rpcStartupWaitMs: int(0, 86_400_000).default(300_000).describe("how long an agent waits at start for an RPC endpoint that does not answer, ms (default 300000)"),
    txTimeoutMs: int(1_000, 3_600_000).default(180_000).describe("how long to wait for a receipt (default 180000)"),
    keystore: z.string().min(1).optional().describe("encrypted JSON keystore (password: PODL_KEYSTORE_PASSWORD)"),
    keystorePasswordFile: z.string().min(1).optional().describe("file whose first line is the keystore password"),
    logLevel: z.enum(LOG_LEVELS).default("info").describe("fatal, error, warn, info, debug, trace or silent"),
  })
  .strict();

export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** Confirmations to wait for on `chainId` when the configuration does not say. */
export function defaultConfirmations(chainId: bigint): number {
  return chainId === 31337n ? 0 : 3;
}
