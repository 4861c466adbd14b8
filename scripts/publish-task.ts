/**
 * `podl publish` for Hardhat users: `hardhat run --network localhost scripts/publish-task.ts`.
 * `hardhat run` passes no arguments, so the task comes from PODL_* variables, the same keys as the
 * command's flags (`podl publish --help`):
 *
 *   PODL_PRIVATE_KEY=0x… PODL_DATASET=iris PODL_SPEC=irisMlp PODL_REWARD=1 PODL_TRAIN_WINDOW=120 \
 *     npx hardhat run --network localhost scripts/publish-task.ts
 *
 * The RPC URL defaults to the network's, the address book to deployments/<network>.json.
 * PODL_EXIT_WHEN_DONE=1 or PODL_POST_ONLY=1 choose how the run ends, as the flags of the same names.
 */
import { existsSync } from "node:fs";
import { network } from "hardhat";
import { isAgentError } from "../agents/config/errors.js";
import { loadConfig } from "../agents/config/load.js";
import { publisherConfigSchema, runPublish } from "../agents/cli/commands/publish.js";

const conn = await network.getOrCreate();
const env: Record<string, string | undefined> = { ...process.env };
if (!env.PODL_RPC_URL) {
  if (conn.networkConfig.type !== "http") {
    throw new Error(`network ${conn.networkName} runs inside this process; publish to a node others can reach (--network localhost) or set PODL_RPC_URL`);
  }
  env.PODL_RPC_URL = await conn.networkConfig.url.getUrl();
}
const book = `deployments/${conn.networkName}.json`;
if (!env.PODL_DEPLOYMENT && !env.PODL_MARKET && existsSync(book)) env.PODL_DEPLOYMENT = book;

const io = { out: (line: string) => console.log(line), err: (line: string) => console.error(line), env };
const flag = (name: string) => env[name] === "1" || env[name] === "true";
try {
  const config = loadConfig(publisherConfigSchema, { env, ...(env.PODL_CONFIG ? { file: env.PODL_CONFIG } : {}) });
  process.exitCode = await runPublish(config, io, { exitWhenDone: flag("PODL_EXIT_WHEN_DONE"), postOnly: flag("PODL_POST_ONLY") });
} catch (e) {
  if (!isAgentError(e)) throw e;
  io.err(`publish-task: ${e.message} [${e.code}]`);
  process.exitCode = 1;
}
