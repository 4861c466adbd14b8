import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** How the double fails one request. */
export type Failure = "http-503" | "rate-limited" | "reset-before" | "lost-answer";

/**
 * Test double for an unreliable JSON-RPC endpoint (the RPC provider is a boundary we don't own).
 * An HTTP proxy in front of a real node that fails the requests `decide` picks: with a 503, with
 * a JSON-RPC rate-limit error, by closing the connection before forwarding, or by forwarding and
 * then closing the connection so that the node acted but the answer is lost.
 */
export class FlakyRpcDouble {
  readonly injected: Record<Failure, number> = { "http-503": 0, "rate-limited": 0, "reset-before": 0, "lost-answer": 0 };
  readonly methods: string[] = [];
  #server: Server;
  #target: string;
  #decide: (methods: string[]) => Failure | undefined;

  private constructor(target: string, decide: (methods: string[]) => Failure | undefined) {
    this.#target = target;
    this.#decide = decide;
    this.#server = createServer((req, res) => {
      // The node behind us went away (end of a test): fail like a dead upstream would.
      this.#handle(req, res).catch(() => req.socket.destroy());
    });
  }

  static async start(target: string, decide: (methods: string[]) => Failure | undefined): Promise<{ double: FlakyRpcDouble; url: string }> {
    const double = new FlakyRpcDouble(target, decide);
    await new Promise<void>((resolve) => double.#server.listen(0, "127.0.0.1", resolve));
    const { port } = double.#server.address() as AddressInfo;
    return { double, url: `http://127.0.0.1:${port}` };
  }

  get totalInjected(): number {
    return Object.values(this.injected).reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const parsed = JSON.parse(body) as { id: number; method: string } | { id: number; method: string }[];
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    const methods = calls.map((c) => c.method);
    this.methods.push(...methods);
    const failure = this.#decide(methods);
    if (failure !== undefined) this.injected[failure]++;
    if (failure === "http-503") {
      res.writeHead(503, { "content-type": "text/plain" }).end("service unavailable");
      return;
    }
    if (failure === "rate-limited") {
      const errors = calls.map((c) => ({ jsonrpc: "2.0", id: c.id, error: { code: -32005, message: "rate limit exceeded" } }));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Array.isArray(parsed) ? errors : errors[0]));
      return;
    }
    if (failure === "reset-before") {
      req.socket.destroy();
      return;
    }
    const answer = await fetch(this.#target, { method: "POST", headers: { "content-type": "application/json" }, body });
    const text = await answer.text();
    if (failure === "lost-answer") {
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
  }
}

/** A small seeded generator (mulberry32), so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
