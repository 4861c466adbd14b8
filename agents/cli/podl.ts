import { parseArgs } from "node:util";
import { isAgentError } from "../config/errors.js";
import { isPodlError } from "../errors/podl-error.js";
import { commandHelp, type Command, type CommandIO } from "./command.js";
import { checkCommand } from "./commands/check.js";
import { explorerCommand } from "./commands/explorer.js";
import { keystoreAddressCommand, keystoreCreateCommand } from "./commands/keystore.js";
import { modelGetCommand } from "./commands/model.js";
import { predictCommand } from "./commands/predict.js";
import { specCheckCommand, specInitCommand } from "./commands/spec.js";
import { statusCommand } from "./commands/status.js";
import { withdrawCommand } from "./commands/withdraw.js";
import { podlVersion } from "./version.js";
import { publishCommand } from "./commands/publish.js";
import { verifierCommand } from "./commands/verifier.js";
import { minerCommand } from "./commands/miner.js";
import { ipfsAddCommand, ipfsGetCommand, ipfsIdCommand } from "./commands/ipfs.js";

/** Every subcommand; the agents (publisher, miner, verifier, status, withdraw) join here as they land. */
export const COMMANDS: readonly Command[] = [checkCommand, keystoreCreateCommand, keystoreAddressCommand, publishCommand, minerCommand, verifierCommand, statusCommand, withdrawCommand, modelGetCommand, predictCommand, specInitCommand, specCheckCommand, ipfsAddCommand, ipfsGetCommand, ipfsIdCommand, explorerCommand];

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "podl: agents of the PoDL proof-of-deep-learning task market",
    "",
    "Usage: podl <command> [options]    (podl --version prints the version)",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `podl <command> --help` for a command's options. Configuration comes from flags, PODL_*",
    "environment variables and a JSON file (--config), in that order of precedence.",
  ].join("\n");
}

/** Runs the command line `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: CommandIO): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    const named = argv[0] === "help" ? findCommand(argv.slice(1)) : undefined;
    io.out(named ? commandHelp(named.command) : mainHelp());
    return 0;
  }
  if (argv[0] === "--version" || argv[0] === "-V") {
    io.out(podlVersion());
    return 0;
  }
  const found = findCommand(argv);
  if (found === undefined) {
    io.err(`podl: unknown command "${argv.filter((a) => !a.startsWith("-")).slice(0, 2).join(" ")}"\n\n${mainHelp()}`);
    return 2;
  }
  const { command, rest } = found;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    io.err(`podl ${command.name}: ${(e as Error).message}\n\n${commandHelp(command)}`);
    return 2;
  }
  if (parsed.values.help === true) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    return await command.run({ values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals, io });
  } catch (e) {
    if (isAgentError(e)) {
      io.err(`podl ${command.name}: ${e.message} [${e.code}]`);
      return isAgentError(e, "USAGE") ? 2 : 1;
    }
    // The other boundaries' errors (MlError, StorageError, ...) carry a code too: the user can act on them.
    if (isPodlError(e)) {
      io.err(`podl ${command.name}: ${e.message} [${e.code}]`);
      return 1;
    }
    throw e;
  }
}

function findCommand(argv: readonly string[]): { command: Command; rest: readonly string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(" ");
    const command = COMMANDS.find((c) => c.name === name);
    if (command) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

// Run when executed as a program (not when imported by tests).
if (import.meta.filename === process.argv[1]) {
  const io: CommandIO = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
  };
  main(process.argv.slice(2), io).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`podl: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
