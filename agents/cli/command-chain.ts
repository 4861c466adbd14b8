import type { z } from "zod";
import { connectChain, type ChainConnection } from "../chain/provider.js";
import { loadConfig } from "../config/load.js";
import type { AgentConfig } from "../config/schema.js";
import { createLogger } from "../log/logger.js";
import { configFlags, type CommandInput } from "./command.js";

/** A one-shot command's configuration: its flags, then PODL_* variables, then `--config`, validated. */
export function loadCommandConfig<S extends z.AnyZodObject>(schema: S, { values, io }: Pick<CommandInput, "values" | "io">): z.infer<S> {
  return loadConfig(schema, {
    flags: configFlags(schema, values),
    env: io.env,
    ...(typeof values.config === "string" ? { file: values.config } : {}),
  });
}

/** Reaches the configured RPC endpoint (chain id checked, retries as configured) with a logger named `agent`. */
export async function connectCommandChain(config: AgentConfig, agent: string): Promise<ChainConnection> {
  return connectChain({
    rpcUrl: config.rpcUrl,
    chainId: config.chainId,
    confirmations: config.confirmations,
    pollIntervalMs: config.pollIntervalMs,
    retry: { retries: config.rpcRetries, baseMs: config.rpcBackoffMs, maxMs: config.rpcBackoffMaxMs },
    log: createLogger({ agent, level: config.logLevel }),
  });
}
