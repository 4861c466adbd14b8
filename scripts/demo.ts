/**
 * The PoDL demo (`npm run demo`): a local Hardhat node, the contracts, one publisher, three miners
 * and four validators as separate `podl` processes with their own state and embedded IPFS nodes,
 * two tasks (Iris MLP and MNIST MLP) taken from posting to settlement. Prints what happens, then
 * the leaderboard, the payouts and the learning chain, and as its last line one JSON summary
 * (`{"demo":"ok",...}`, or `{"demo":"failed","error":...}` with exit code 1). Every child process
 * is stopped on the way out, whatever happened.
 *
 * Time: the node mines a block every second as well as on every transaction, so block timestamps
 * follow the wall clock and every agent sees deadlines pass as it would on a real chain; the task
 * windows are seconds long (deploy parameters `localWindows`, the publisher's --train-window).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CNN_DEMO_TASKS, runDemo, type DemoOptions } from "../devnet/run.js";

const USAGE = `Usage: npm run demo [-- options]

  --mnist-examples N   MNIST images the publisher shards (default 2000)
  --cnn                the MNIST task uses the mnistCnn preset (convolutional SML, conv layers) on wasm
  --timeout S          give up after S seconds (default 900)
  --no-explorer        do not serve the web explorer (default: on a free loopback port)
  --explorer-port N    serve the explorer on this port
  --engine torch|tfjs  the miners' training engine (default: theirs, tfjs without CUDA; docs/torch.md)
  --keep               keep the run's folder (agent states, IPFS blocks, JSON logs)
  --verbose            also print the agents' debug and timing lines
  -h, --help           this text`;

const { values } = parseArgs({
  options: {
    "mnist-examples": { type: "string" },
    cnn: { type: "boolean" },
    timeout: { type: "string" },
    engine: { type: "string" },
    keep: { type: "boolean" },
    "no-explorer": { type: "boolean" },
    "explorer-port": { type: "string" },
    verbose: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});
if (values.help === true) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

if (values.engine !== undefined && values.engine !== "torch" && values.engine !== "tfjs") {
  process.stderr.write(`--engine ${values.engine}: expected torch or tfjs\n`);
  process.exit(2);
}
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const folder = await mkdtemp(join(tmpdir(), "podl-demo-"));
const options: DemoOptions = {
  repoRoot,
  folder,
  mnistExamples: Number(values["mnist-examples"] ?? 2000),
  timeoutMs: Number(values.timeout ?? 900) * 1000,
  verbose: values.verbose === true,
  ...(values["no-explorer"] === true ? {} : { explorer: { port: values["explorer-port"] === undefined ? undefined : Number(values["explorer-port"]) } }),
  ...(values.engine === undefined ? {} : { engine: values.engine }),
  print: (line) => process.stdout.write(`${line}\n`),
  ...(values.cnn === true ? { tasks: CNN_DEMO_TASKS } : {}),
};

const controller = new AbortController();
const interrupt = () => controller.abort(new Error("interrupted"));
process.once("SIGINT", interrupt);
process.once("SIGTERM", interrupt);

const summary = await runDemo({ ...options, signal: controller.signal });
if (values.keep === true) process.stdout.write(`run folder kept: ${folder}\n`);
else await rm(folder, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode = summary.demo === "ok" ? 0 : 1;
