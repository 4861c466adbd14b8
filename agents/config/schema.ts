import { z } from "zod";
import { LOG_LEVELS } from "../log/logger.js";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * What every agent needs. Role-specific schemas extend it (`agentConfigSchema.extend({...})`).
 * Numbers are coerced because flags and environment variables arrive as strings.
 */
export const agentConfigSchema = z
  .object({
    /** JSON-RPC endpoint (http or https). */
    rpcUrl: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), "must be an http(s) URL"),
    /** Expected chain id; the agent refuses an endpoint that serves another chain. */
    chainId: int(1, Number.MAX_SAFE_INTEGER).optional(),
    /** Folder for the agent's SQLite state (and, later, its IPFS blocks). */
    dataDir: z.string().min(1).default(".data"),
    /** Blocks an event must be buried under before the agent acts; default 0 on chain 31337, else 3. */
    confirmations: int(0, 256).optional(),
    pollIntervalMs: int(50, 600_000).default(1_000),
    /** Blocks per eth_getLogs request (halved automatically when an endpoint refuses a range). */
    logChunkBlocks: int(1, 100_000).default(2_000),
    /** How far back the event cursor may rewind on a reorganisation. */
    maxReorgDepth: int(1, 10_000).default(64),
    /** Gas limit = estimate × (100 + this) / 100. */
    gasHeadroomPercent: int(0, 500).default(20),
    rpcRetries: int(0, 20).default(5),
    rpcBackoffMs: int(1, 60_000).default(250),
    rpcBackoffMaxMs: int(1, 600_000).default(8_000),
    /** How long to wait for a receipt before giving up with TX_TIMEOUT. */
    txTimeoutMs: int(1_000, 3_600_000).default(180_000),
    /** Encrypted JSON keystore (its password comes from PODL_KEYSTORE_PASSWORD or keystorePasswordFile). */
    keystore: z.string().min(1).optional(),
    keystorePasswordFile: z.string().min(1).optional(),
    logLevel: z.enum(LOG_LEVELS).default("info"),
  })
  .strict();

export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** Confirmations to wait for on `chainId` when the configuration does not say. */
export function defaultConfirmations(chainId: bigint): number {
  return chainId === 31337n ? 0 : 3;
}
