import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export type PeerRequest =
  | { op: "add"; id: number; size: number; seed: number }
  | { op: "dial"; id: number; address: string }
  | { op: "get"; id: number; cid: string; path: string; maxBytes?: number; timeoutMs?: number; hash?: boolean }
  | { op: "corrupt"; id: number; cid: string }
  | { op: "usage"; id: number }
  | { op: "close"; id: number };

export type PeerReply =
  | { op: "ready"; addresses: string[]; startupMs: number }
  | { op: "added"; id: number; cid: string; ms: number; sha256: string }
  | { op: "got"; id: number; size: number; ms: number; cpuMs: number; sha256?: string; peakRssMB: number }
  | { op: "usage"; id: number; cpuMs: number }
  | { op: "progress"; id: number; bytes: number }
  | { op: "done"; id: number }
  | { op: "error"; id: number; code: string; message: string };

type Request = PeerRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/** Parent side of test/agents/storage/helpers/peer.ts: one EmbeddedStore in its own process. */
export class PeerProcess {
  readonly child: ChildProcess;
  addresses: string[] = [];
  startupMs = 0;
  #next = 0;
  #waiting = new Map<number, { resolve: (r: PeerReply) => void; reject: (e: Error) => void }>();
  #progress = new Map<number, (bytes: number) => void>();

  private constructor(child: ChildProcess) {
    this.child = child;
    child.on("message", (reply: PeerReply) => {
      if (reply.op === "ready") return;
      if (reply.op === "progress") return this.#progress.get(reply.id)?.(reply.bytes);
      const waiter = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if (reply.op === "error") {
        waiter?.reject(Object.assign(new Error(`${reply.code}: ${reply.message}`), { code: reply.code }));
      } else {
        waiter?.resolve(reply);
      }
    });
    child.on("exit", () => {
      for (const waiter of this.#waiting.values()) waiter.reject(new Error("peer process exited"));
      this.#waiting.clear();
    });
  }

  /** `nodeArgs` go to the child's node (e.g. --cpu-prof when profiling the bench). */
  static async start(dataDir: string, nodeArgs: string[] = []): Promise<PeerProcess> {
    const script = fileURLToPath(new URL("./peer.ts", import.meta.url));
    const child = fork(script, [dataDir], { execArgv: [...nodeArgs, "--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const peer = new PeerProcess(child);
    const ready = await new Promise<PeerReply>((resolve, reject) => {
      child.once("message", resolve);
      child.once("exit", (code) => reject(new Error(`peer process exited with ${code} before it was ready`)));
    });
    if (ready.op !== "ready") throw new Error(`peer process failed to start: ${JSON.stringify(ready)}`);
    peer.addresses = ready.addresses;
    peer.startupMs = ready.startupMs;
    return peer;
  }

  request<R extends PeerReply>(request: Request, onProgress?: (bytes: number) => void): Promise<R> {
    const id = this.#next++;
    if (onProgress !== undefined) this.#progress.set(id, onProgress);
    return new Promise<PeerReply>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.child.send({ ...request, id });
    }).finally(() => this.#progress.delete(id)) as Promise<R>;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    await this.request({ op: "close" }).catch(() => undefined);
    await exited;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}
