import { readFileSync } from "node:fs";
import { z } from "zod";
import { AgentError } from "./errors.js";

/** Where configuration comes from; earlier sources win: flags, then environment, then file, then defaults. */
export interface ConfigSources {
  /** Parsed command-line options, keyed by the schema's camelCase names. */
  flags?: Record<string, unknown>;
  /** Usually `process.env`; variables are `PODL_` + the key in SCREAMING_SNAKE_CASE. */
  env?: Record<string, string | undefined>;
  /** A JSON file holding an object with the schema's keys. */
  file?: string;
}

export const ENV_PREFIX = "PODL_";

/** `rpcUrl` → `PODL_RPC_URL`. */
export function envName(key: string): string {
  return ENV_PREFIX + key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** `rpcUrl` → `--rpc-url`. */
export function flagName(key: string): string {
  return "--" + key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

/**
 * Reads configuration once at start-up and validates it against `schema`. Fails with a
 * CONFIG_INVALID error naming every key that is missing or invalid and where it can be set.
 */
export function loadConfig<S extends z.AnyZodObject>(schema: S, sources: ConfigSources): z.infer<S> {
  const fromFile = sources.file === undefined ? {} : readConfigFile(sources.file);
  const keys = Object.keys(schema.shape);
  const unknown = Object.keys(fromFile).filter((k) => !keys.includes(k));
  if (unknown.length > 0) {
    throw new AgentError("CONFIG_INVALID", `config file ${sources.file}: unknown key(s) ${unknown.join(", ")}`, {
      context: { file: sources.file, unknown },
    });
  }
  const merged: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  for (const key of keys) {
    const flag = sources.flags?.[key];
    const env = sources.env?.[envName(key)];
    if (flag !== undefined) [merged[key], origin[key]] = [flag, flagName(key)];
    else if (env !== undefined && env !== "") [merged[key], origin[key]] = [env, envName(key)];
    else if (fromFile[key] !== undefined) [merged[key], origin[key]] = [fromFile[key], `"${key}" in ${sources.file}`];
  }
  const parsed = schema.safeParse(merged);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? "");
    const where = origin[key] ?? `not set: use ${flagName(key)}, ${envName(key)} or "${key}" in a config file`;
    return `${key}: ${issue.message} (${where})`;
  });
  throw new AgentError("CONFIG_INVALID", `invalid configuration: ${problems.join("; ")}`, {
    context: { keys: parsed.error.issues.map((i) => String(i.path[0] ?? "")) },
  });
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new AgentError("CONFIG_INVALID", `config file ${path} cannot be read`, { cause, context: { file: path } });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new AgentError("CONFIG_INVALID", `config file ${path} is not valid JSON`, { cause, context: { file: path } });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new AgentError("CONFIG_INVALID", `config file ${path} must hold a JSON object`, { context: { file: path } });
  }
  return value as Record<string, unknown>;
}
