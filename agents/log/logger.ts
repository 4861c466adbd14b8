import { pino } from "pino";
import type { DestinationStream, Logger, LevelWithSilent } from "pino";
import { PinoPretty } from "pino-pretty";

export type { Logger } from "pino";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * Fields whose values never reach a log line, at the top level or one object down: keys, keystore
 * passwords and commitment salts (a salt leaked before its reveal lets anyone front-run the reveal).
 */
export const REDACTED_FIELDS = ["privateKey", "password", "mnemonic", "keystorePassword", "salt", "raw"] as const;

export interface LoggerOptions {
  /** The agent's role and name (publisher, miner-1, …); every line carries it. */
  agent: string;
  level?: LevelWithSilent;
  /** Human-readable output; default: when the destination is a terminal. */
  pretty?: boolean;
  /** Where lines go; default: standard error, so standard output stays for what the CLI prints. */
  destination?: DestinationStream;
}

/**
 * The one logger factory of the agents: pino, JSON lines unless writing to a terminal. Child
 * loggers add `taskId`, `block` and `txHash` (`log.child({ taskId })`).
 */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? (options.destination === undefined && process.stderr.isTTY === true);
  const paths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]);
  const base: pino.LoggerOptions = {
    level: options.level ?? "info",
    base: { agent: options.agent },
    redact: { paths, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    // On-chain amounts are bigint; as JSON numbers they would lose digits, so they go out as strings.
    formatters: { log: bigintsToStrings },
  };
  if (pretty) {
    const stream = PinoPretty({
      colorize: options.destination === undefined && process.stderr.isTTY === true,
      sync: true,
      translateTime: "HH:MM:ss.l",
      ignore: "pid,hostname",
      destination: options.destination ?? 2,
    });
    return pino(base, stream);
  }
  // Synchronous writes: a line logged just before a crash or SIGKILL is still on disk.
  return pino(base, options.destination ?? pino.destination({ fd: 2, sync: true }));
}

function bigintsToStrings(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = toLoggable(v, 3);
  return out;
}

function toLoggable(v: unknown, depth: number): unknown {
  if (typeof v === "bigint") return v.toString();
  if (depth === 0 || v === null || typeof v !== "object" || v instanceof Error) return v;
  if (Array.isArray(v)) return v.map((x) => toLoggable(x, depth - 1));
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = toLoggable(x, depth - 1);
  return out;
}
