import { createLogger, type Logger } from "../../../agents/log/logger.js";

/** A real agent logger whose JSON lines are kept in memory for assertions. */
export function captureLogger(agent = "test"): { log: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const raw: string[] = [];
  const log = createLogger({ agent, level: "debug", destination: { write: (line: string) => void raw.push(line) } });
  return {
    log,
    lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => raw.join(""),
  };
}
