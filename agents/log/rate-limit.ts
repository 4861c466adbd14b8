import type { Logger } from "pino";

/** Identical lines within this window after the first are counted instead of written. */
export const REPEAT_WINDOW_MS = 10_000;

interface Seen {
  at: number;
  suppressed: number;
}

const seenByLogger = new WeakMap<Logger, Map<string, Seen>>();

/**
 * Writes `msg` at `level` unless a line with the same `key` was written less than
 * REPEAT_WINDOW_MS ago; the next line written for that key carries `suppressed`, the number of
 * identical lines left out since. Under a lossy endpoint the same retry warning would otherwise
 * fill a terminal (566 of them in one faulted Iris run).
 */
export function logLimited(log: Logger, level: "info" | "warn", key: string, fields: Record<string, unknown>, msg: string, now = Date.now()): boolean {
  let seen = seenByLogger.get(log);
  if (seen === undefined) seenByLogger.set(log, (seen = new Map()));
  const last = seen.get(key);
  if (last !== undefined && now - last.at < REPEAT_WINDOW_MS) {
    last.suppressed++;
    return false;
  }
  const suppressed = last?.suppressed ?? 0;
  seen.set(key, { at: now, suppressed: 0 });
  log[level](suppressed > 0 ? { ...fields, suppressed } : fields, suppressed > 0 ? `${msg} (${suppressed} identical line(s) left out since the last one)` : msg);
  return true;
}
