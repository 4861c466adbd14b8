import { formatEther } from "ethers";
import { redactUrl } from "../../chain/provider.js";
import { addressBook, deploymentConfigShape } from "../../config/deployment.js";
import { isAgentError } from "../../config/errors.js";
import { loadWallet } from "../../config/keys.js";
import { agentConfigSchema } from "../../config/schema.js";
import { connectCommandChain, loadCommandConfig } from "../command-chain.js";
import { configOptions, type Command } from "../command.js";

/** `check` takes the agents' deployment flags too, so it checks the contracts they would talk to. */
const checkConfigSchema = agentConfigSchema.extend(deploymentConfigShape).strict();

/** Validates what an agent would start with: configuration, RPC endpoint, contracts, signing key and its balance. */
export const checkCommand: Command = {
  name: "check",
  summary: "check the configuration, the RPC endpoint and the signing key",
  description:
    "Validates the configuration an agent would start with, reaches the RPC endpoint (checking the chain id), checks that the deployment's contracts (--deployment or --market) have code there, and loads the signing key, printing its address and balance, never the key.",
  options: { ...configOptions(checkConfigSchema), json: { type: "boolean", description: "print one JSON object instead of text" } },
  async run({ values, io: terminal }) {
    // --json: the same facts as one object (what the text lines say, keyed by their first word).
    const report: Record<string, unknown> = {};
    const json = values.json === true;
    const io = json ? { ...terminal, out: () => undefined, err: (line: string) => { report.problem = line; terminal.err(line); } } : terminal;
    const config = loadCommandConfig(checkConfigSchema, { values, io: terminal });
    const chain = await connectCommandChain(config, "check");
    try {
      return await checkAll();
    } finally {
      chain.provider.destroy();
      if (json) terminal.out(JSON.stringify(report));
    }
    async function checkAll(): Promise<number> {
      const head = await chain.provider.getBlockNumber();
      io.out(`rpc     ${redactUrl(config.rpcUrl)}: chain ${chain.chainId}, head block ${head}, acting after ${chain.confirmations} confirmation(s)`);
      io.out(`state   ${config.dataDir}`);
      Object.assign(report, { rpc: redactUrl(config.rpcUrl), chainId: chain.chainId.toString(), head, confirmations: chain.confirmations, state: config.dataDir, ok: false });
      if (config.deployment !== undefined || config.market !== undefined) {
        const book = addressBook(config);
        const named = { market: book.market, registry: book.registry, settlement: book.settlement };
        for (const [name, address] of Object.entries(named)) {
          if (address === undefined) continue;
          const code = await chain.provider.getCode(address);
          if (code === "0x") {
            io.err(`${name} ${address} has no code on chain ${chain.chainId}: wrong --deployment, --${name} or --rpc-url?`);
            return 1;
          }
          io.out(`${name.padEnd(7)} ${address} (${(code.length - 2) / 2} bytes of code)`);
          report[name] = { address, codeBytes: (code.length - 2) / 2 };
        }
      }
      try {
        const wallet = await loadWallet({ keystore: config.keystore, keystorePasswordFile: config.keystorePasswordFile, env: io.env });
        const balance = await chain.provider.getBalance(wallet.address);
        io.out(`key     ${wallet.address} (${config.keystore ? `keystore ${config.keystore}` : "PODL_PRIVATE_KEY"}), balance ${formatEther(balance)} ETH`);
        report.key = { address: wallet.address, source: config.keystore ? `keystore ${config.keystore}` : "PODL_PRIVATE_KEY", balanceEth: formatEther(balance) };
      } catch (e) {
        if (!isAgentError(e, "KEY_MISSING")) throw e;
        io.out(`key     none: ${e.message}`);
        report.problem = `key: ${e.message}`;
        return 1;
      }
      report.ok = true;
      return 0;
    }
  },
};
