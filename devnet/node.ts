/**
 * A local Hardhat node as a child process (`hardhat node` on a free loopback port), with interval
 * mining so that block timestamps follow the wall clock: the agents read "now" from the latest
 * block, and without new blocks an idle chain's clock would stand still.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { dirname, join } from "node:path";
import { JsonRpcProvider, Network } from "ethers";

export interface LocalNode {
  url: string;
  provider: JsonRpcProvider;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A TCP port nobody listens on now (the OS picks it). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function hardhatCli(): string {
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve("hardhat/package.json");
  const pkg = require(pkgFile) as { bin: string | Record<string, string> };
  const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin.hardhat!;
  return join(dirname(pkgFile), bin);
}

/**
 * Starts `hardhat node` (from the project root `cwd`), waits until it answers JSON-RPC, then turns
 * on interval mining every `intervalMs` (automine stays on, so transactions still mine at once).
 * The node's own request log is kept in memory (last lines) for error messages, not printed.
 */
export async function startHardhatNode(options: { cwd: string; intervalMs: number; port?: number; readyTimeoutMs?: number }): Promise<LocalNode> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [hardhatCli(), "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString("utf8").split("\n").filter((l) => l.trim() !== ""));
    tail.splice(0, Math.max(0, tail.length - 40));
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `exited with ${signal ?? code}`));

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let chainId: bigint;
  for (;;) {
    if (exited !== undefined) throw new Error(`hardhat node ${exited} before answering:\n${tail.join("\n")}`);
    try {
      const answer = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' });
      chainId = BigInt(((await answer.json()) as { result: string }).result);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`hardhat node did not answer on ${url} within ${options.readyTimeoutMs ?? 60_000} ms:\n${tail.join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const provider = new JsonRpcProvider(url, Network.from(chainId), { staticNetwork: true, pollingInterval: 250, cacheTimeout: -1 });
  // (cacheTimeout -1: ethers would otherwise answer a repeated nonce query from a 250 ms cache.)
  await provider.send("evm_setIntervalMining", [options.intervalMs]);

  const stop = async () => {
    provider.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await gone;
    clearTimeout(timer);
  };
  return { url, provider, child, stop };
}
