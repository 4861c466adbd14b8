import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const helper = fileURLToPath(new URL("./train-step.ts", import.meta.url));

/** Runs train-step.ts in a fresh Node process (its own TensorFlow.js backend) and parses its JSON line. */
export async function trainStepChild<T>(...args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", helper, ...args], { maxBuffer: 16 << 20 });
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (line === undefined) throw new Error(`train-step.ts ${args.join(" ")} printed no JSON:\n${stdout}`);
  return JSON.parse(line) as T;
}
