/**
 * Where `finalize` (5 validators × 16 submissions, the gas harness's scenario) spends its gas, by call
 * frame: `npx hardhat run bench/gas-frames.ts`. Traces the transaction with `debug_traceTransaction`
 * and charges each external call (its gas including the call's own cost) to the callee and function
 * selector; the rest is Settlement's own work, including the 21k transaction base.
 */
import { network } from "hardhat";
import { measureFinalize } from "./gas-validators.js";

interface StructLog {
  depth: number;
  gas: number;
  gasCost: number;
  op: string;
  stack?: string[];
  memory?: string[];
}

const conn = await network.create();
const { hash, names } = await measureFinalize(conn, { validators: 5, submissions: 16 });
const trace = (await conn.ethers.provider.send("debug_traceTransaction", [hash, { disableStorage: true, enableMemory: true }])) as {
  gas: number;
  structLogs: StructLog[];
};
const logs = trace.structLogs;
const frames = new Map<string, { gas: number; calls: number }>();
for (let i = 0; i < logs.length; i++) {
  const log = logs[i]!;
  if (log.depth !== 1 || (log.op !== "CALL" && log.op !== "STATICCALL")) continue;
  const stack = log.stack!;
  const target = `0x${BigInt(stack[stack.length - 2]!).toString(16).padStart(40, "0")}`;
  const argsOffset = Number(BigInt(stack[stack.length - (log.op === "CALL" ? 4 : 3)]!));
  const memory = (log.memory ?? []).map((word) => word.replace(/^0x/, "")).join("");
  const selector = `0x${memory.slice(argsOffset * 2, argsOffset * 2 + 8)}`;
  // The first step back at depth 1 after the call shows the gas left after it returned.
  let j = i + 1;
  while (j < logs.length && logs[j]!.depth !== 1) j++;
  const used = log.gas - logs[j]!.gas;
  const key = `${names.get(target.toLowerCase()) ?? target}.${names.get(selector) ?? selector}`;
  const f = frames.get(key) ?? { gas: 0, calls: 0 };
  frames.set(key, { gas: f.gas + used, calls: f.calls + 1 });
}
const total = trace.gas;
let external = 0;
for (const [key, f] of [...frames].sort((a, b) => b[1].gas - a[1].gas)) {
  external += f.gas;
  process.stdout.write(`${key.padEnd(40)} ${String(f.gas).padStart(9)}  (${f.calls} call${f.calls === 1 ? "" : "s"})\n`);
}
process.stdout.write(`${"Settlement own work + 21k base".padEnd(40)} ${String(total - external).padStart(9)}\n`);
process.stdout.write(`${"finalize total".padEnd(40)} ${String(total).padStart(9)}\n`);
