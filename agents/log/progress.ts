import type { Logger } from "pino";

export interface Progress {
  /** `done` units of `total` finished; `detail` is a short note ("loss 0.31"). */
  update(done: number, detail?: string): void;
  finish(detail?: string): void;
}

export interface ProgressOptions {
  /** What is progressing: "train task 7", "fetch shard 3". */
  label: string;
  total: number;
  unit?: string;
  log: Logger;
  /** Where the bar is drawn when it is a terminal; default standard error. */
  stream?: Pick<NodeJS.WriteStream, "write"> & { isTTY?: boolean; columns?: number };
}

const BAR_WIDTH = 24;

/**
 * A progress bar on a terminal (redrawn in place when the whole percentage changes) and, when
 * output is not a terminal, one log line per tenth, so JSON logs stay sparse.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const total = Math.max(1, options.total);
  const unit = options.unit ? ` ${options.unit}` : "";
  let shownPercent = -1;
  let loggedTenth = 0;
  let finished = false;

  const draw = (done: number, detail: string | undefined, force: boolean) => {
    const percent = Math.min(100, Math.floor((done / total) * 100));
    if (stream.isTTY === true) {
      if (percent === shownPercent && !force) return;
      shownPercent = percent;
      const filled = Math.round((percent / 100) * BAR_WIDTH);
      const bar = `${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}`;
      const line = `${options.label} [${bar}] ${String(percent).padStart(3)}% ${done}/${options.total}${unit}${detail ? ` ${detail}` : ""}`;
      stream.write(`\r${line.slice(0, (stream.columns ?? 120) - 1)}\x1b[K`);
      return;
    }
    // The 100 % line is finish()'s, so it is logged once, with the final detail.
    const tenth = Math.floor(percent / 10);
    if (!force && (tenth <= loggedTenth || tenth >= 10)) return;
    loggedTenth = tenth;
    options.log.info({ progress: options.label, done, total: options.total, percent, ...(detail ? { detail } : {}) }, `${options.label}: ${percent}%`);
  };

  return {
    update(done, detail) {
      if (!finished) draw(done, detail, false);
    },
    finish(detail) {
      if (finished) return;
      finished = true;
      draw(options.total, detail, true);
      if (stream.isTTY === true) stream.write("\n");
    },
  };
}
