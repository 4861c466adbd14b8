import { formatEther } from "ethers";
import { connectChain, redactUrl } from "../../chain/provider.js";
import { isAgentError } from "../../config/errors.js";
import { loadWallet } from "../../config/keys.js";
import { loadConfig } from "../../config/load.js";
import { agentConfigSchema } from "../../config/schema.js";
import { createLogger } from "../../log/logger.js";
import { configFlags, configOptions, type Command } from "../command.js";

/** Validates what an agent would start with: configuration, RPC endpoint, signing key and its balance. */
export const checkCommand: Command = {
  name: "check",
  summary: "check the configuration, the RPC endpoint and the signing key",
  description:
    "Validates the configuration an agent would start with, reaches the RPC endpoint (checking the chain id) and loads the signing key, printing its address and balance, never the key.",
  options: configOptions(agentConfigSchema),
  async run({ values, io }) {
    const config = loadConfig(agentConfigSchema, {
      flags: configFlags(agentConfigSchema, values),
      env: io.env,
      ...(typeof values.config === "string" ? { file: values.config } : {}),
    });
    const log = createLogger({ agent: "check", level: config.logLevel });
    const retry = { retries: config.rpcRetries, baseMs: config.rpcBackoffMs, maxMs: config.rpcBackoffMaxMs };
    const chain = await connectChain({
      rpcUrl: config.rpcUrl,
      chainId: config.chainId,
      confirmations: config.confirmations,
      pollIntervalMs: config.pollIntervalMs,
      retry,
      log,
    });
    try {
      const head = await chain.provider.getBlockNumber();
      io.out(`rpc     ${redactUrl(config.rpcUrl)}: chain ${chain.chainId}, head block ${head}, acting after ${chain.confirmations} confirmation(s)`);
      io.out(`state   ${config.dataDir}`);
      try {
        const wallet = await loadWallet({ keystore: config.keystore, keystorePasswordFile: config.keystorePasswordFile, env: io.env });
        const balance = await chain.provider.getBalance(wallet.address);
        io.out(`key     ${wallet.address} (${config.keystore ? `keystore ${config.keystore}` : "PODL_PRIVATE_KEY"}), balance ${formatEther(balance)} ETH`);
      } catch (e) {
        if (!isAgentError(e, "KEY_MISSING")) throw e;
        io.out(`key     none: ${e.message}`);
        return 1;
      }
      return 0;
    } finally {
      chain.provider.destroy();
    }
  },
};
