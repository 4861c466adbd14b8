#!/usr/bin/env node
// Launcher for `podl`: the CLI is TypeScript and needs Node >= 22.13 (node:sqlite), while the
// system Node may be older. Re-run it on the Node pinned in node_modules (the `node` package),
// with tsx loaded, forwarding arguments, standard streams, signals and the exit status. Plain
// JavaScript that any Node >= 18 can start.
import { spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(realpathSync(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);

function pinnedNode() {
  try {
    const bin = join(dirname(require.resolve("node/package.json")), "bin", "node");
    if (existsSync(bin)) return bin;
  } catch {
    // no pinned runtime installed: use the one running us
  }
  return process.execPath;
}

const tsx = import.meta.resolve("tsx");
const child = spawn(pinnedNode(), ["--import", tsx, join(here, "podl.ts"), ...process.argv.slice(2)], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal); // die of the same signal, so callers see what happened
  }
  else process.exit(code ?? 1);
});
