import type { z } from "zod";
import { flagName } from "../config/load.js";

/** One option of a subcommand, as node:util parseArgs takes it, plus its help line. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  description: string;
  /** Shown in help instead of `<value>`. */
  value?: string;
}

export interface CommandIO {
  /** What the command prints for people (results); logs go to standard error. */
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
}

export interface CommandInput {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  io: CommandIO;
}

export interface Command {
  /** One or two words: "check", "keystore create". */
  name: string;
  /** One line for `podl --help`. */
  summary: string;
  /** What `podl <command> --help` says above the options. */
  description: string;
  /** Positional arguments in help, e.g. "<file>". */
  args?: string;
  /** Options by their long name (kebab-case, no dashes); `help` is added to every command. */
  options: Record<string, OptionSpec>;
  /** Returns the exit code. Throws AgentError for failures the user can fix. */
  run(input: CommandInput): Promise<number>;
}

/** Options for every key of a config schema (`rpcUrl` → `--rpc-url <value>`), plus `--config`. */
export function configOptions(schema: z.AnyZodObject): Record<string, OptionSpec> {
  const options: Record<string, OptionSpec> = {
    config: { type: "string", description: "JSON config file; flags and PODL_* variables override it", value: "file" },
  };
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
    options[flagName(key).slice(2)] = { type: "string", description: field.description ?? key };
  }
  return options;
}

/** Parsed flag values keyed by the schema's camelCase names, for loadConfig. */
export function configFlags(schema: z.AnyZodObject, values: CommandInput["values"]): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = values[flagName(key).slice(2)];
    if (value !== undefined) flags[key] = value;
  }
  return flags;
}

export function commandHelp(command: Command): string {
  const lines = [`Usage: podl ${command.name}${command.args ? ` ${command.args}` : ""} [options]`, "", command.description, "", "Options:"];
  const all: [string, OptionSpec][] = [...Object.entries(command.options), ["help", { type: "boolean", short: "h", description: "show this help" }]];
  const left = all.map(([name, spec]) => `${spec.short ? `-${spec.short}, ` : "    "}--${name}${spec.type === "string" ? ` <${spec.value ?? "value"}>` : ""}`);
  const width = Math.max(...left.map((l) => l.length));
  all.forEach(([, spec], i) => lines.push(`  ${left[i]!.padEnd(width)}  ${spec.description}`));
  return lines.join("\n");
}
