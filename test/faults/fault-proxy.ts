import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { seededRandom } from "../agents/helpers/flaky-rpc.js";

/**
 * What the proxy may do to one request. `drop-request`: it never reaches the node and the
 * connection is reset (after `dropHoldMs`); `drop-answer`: the node acts, the answer is lost (reset);
 * `http-503`: an overloaded front answers 503 without forwarding; `closed-socket`: the connection is
 * closed cleanly with no answer, not forwarded; `delay`: forwarded after a delay drawn from
 * `delayMs`; `reorder`: the answer is held until a later request has been answered (or
 * `reorderHoldMs`), so answers arrive out of order.
 */
export const FAULTS = ["drop-request", "drop-answer", "http-503", "closed-socket", "delay", "reorder"] as const;
export type Fault = (typeof FAULTS)[number];

export interface FaultPlan {
  /** Seeds the generator that draws each request's fault, in arrival order. */
  seed: number;
  /** Probability per request of each fault; at most one fault per request, so their sum is ≤ 1. */
  rates: Partial<Record<Fault, number>>;
  /** Range of a `delay`, ms (default 2,000–5,000, what the manual run used). */
  delayMs?: readonly [number, number];
  /** How long a `drop-request` holds the connection before resetting it, ms (default 0). */
  dropHoldMs?: number;
  /** Longest hold of a `reorder`ed answer, ms (default 1,000). */
  reorderHoldMs?: number;
  /** Which requests may be faulted, by their JSON-RPC methods (default: all). */
  eligible?: (methods: readonly string[]) => boolean;
}

export interface FaultCounters {
  requests: number;
  /** Requests that reached the node, by method (a batch counts each of its calls). */
  forwarded: Record<string, number>;
  /** Faults injected, by kind, and by kind per method. */
  faults: Record<Fault, number>;
  faultsByMethod: Record<string, Partial<Record<Fault, number>>>;
  /** Requests refused during an outage (`setOutage(true)`). */
  refusedInOutage: number;
}

/**
 * Test double for an unreliable JSON-RPC endpoint, the boundary between the agents and a node we
 * do not own: a loopback HTTP proxy in front of a real Hardhat node that injects seeded,
 * configurable faults and counts what it did, so tests and benches assert on the faults that
 * actually happened. An outage (`setOutage`) resets every connection until it is lifted.
 */
export class FaultProxy {
  readonly url: string;
  readonly counters: FaultCounters;
  #server: Server;
  #target: string;
  #plan: FaultPlan;
  #random: () => number;
  #outage = false;
  /** Answers held by `reorder`, released when a later answer goes out. */
  #held: (() => void)[] = [];

  private constructor(server: Server, url: string, target: string, plan: FaultPlan) {
    this.#server = server;
    this.url = url;
    this.#target = target;
    this.#plan = plan;
    this.#random = seededRandom(plan.seed);
    this.counters = { requests: 0, forwarded: {}, faults: Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>, faultsByMethod: {}, refusedInOutage: 0 };
  }

  /** Listens on a free loopback port (or `port`) and forwards to `target`. */
  static async start(target: string, plan: FaultPlan, port = 0): Promise<FaultProxy> {
    const total = Object.values(plan.rates).reduce((a, b) => a + (b ?? 0), 0);
    if (total > 1 + 1e-9) throw new Error(`FaultPlan.rates: the rates add up to ${total}; at most one fault per request, so their sum must be ≤ 1`);
    let proxy: FaultProxy | undefined;
    const server = createServer((req, res) => {
      // The node behind us went away (end of a test): fail like a dead upstream would.
      proxy!.#handle(req, res).catch(() => req.socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    proxy = new FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, target, plan);
    return proxy;
  }

  /** Every request's connection is reset, unforwarded, while `on`. */
  setOutage(on: boolean): void {
    this.#outage = on;
  }

  /** New rates from the next request on (the generator goes on with its sequence). */
  setRates(rates: FaultPlan["rates"]): void {
    this.#plan = { ...this.#plan, rates };
  }

  get totalFaults(): number {
    return Object.values(this.counters.faults).reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    for (const release of this.#held.splice(0)) release();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #draw(methods: readonly string[]): Fault | undefined {
    const r = this.#random();
    if (this.#plan.eligible !== undefined && !this.#plan.eligible(methods)) return undefined;
    let edge = 0;
    for (const fault of FAULTS) {
      edge += this.#plan.rates[fault] ?? 0;
      if (r < edge) return fault;
    }
    return undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const parsed = JSON.parse(body) as { method: string } | { method: string }[];
    const methods = (Array.isArray(parsed) ? parsed : [parsed]).map((c) => c.method);
    this.counters.requests++;
    if (this.#outage) {
      this.counters.refusedInOutage++;
      req.socket.resetAndDestroy();
      return;
    }
    const fault = this.#draw(methods);
    if (fault !== undefined) {
      this.counters.faults[fault]++;
      for (const m of methods) {
        const byMethod = (this.counters.faultsByMethod[m] ??= {});
        byMethod[fault] = (byMethod[fault] ?? 0) + 1;
      }
    }
    switch (fault) {
      case "drop-request":
        if ((this.#plan.dropHoldMs ?? 0) > 0) await sleep(this.#plan.dropHoldMs!);
        req.socket.resetAndDestroy();
        return;
      case "http-503":
        res.writeHead(503, { "content-type": "text/plain" }).end("service unavailable");
        return;
      case "closed-socket":
        req.socket.end();
        return;
      case "delay": {
        const [lo, hi] = this.#plan.delayMs ?? [2_000, 5_000];
        await sleep(lo + this.#random() * (hi - lo));
        break;
      }
      default:
        break;
    }
    for (const m of methods) this.counters.forwarded[m] = (this.counters.forwarded[m] ?? 0) + 1;
    const answer = await fetch(this.#target, { method: "POST", headers: { "content-type": "application/json" }, body });
    const text = await answer.text();
    if (fault === "drop-answer") {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault === "reorder") await this.#holdUntilOvertaken();
    res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
    // Answers held for reordering go out after this one.
    if (fault !== "reorder") for (const release of this.#held.splice(0)) release();
  }

  #holdUntilOvertaken(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(release, this.#plan.reorderHoldMs ?? 1_000);
      this.#held.push(release);
      function release() {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}

/**
 * The mix the issue measured by hand, scaled: `loss` of the requests fail, split evenly between
 * a request dropped before the node, an answer lost after it, a 503 and a closed socket; `delay` of
 * them wait 2–5 s (or `delayMs`).
 */
export function lossPlan(seed: number, loss: number, delay: number, delayMs: readonly [number, number] = [2_000, 5_000]): FaultPlan {
  const each = loss / 4;
  return { seed, rates: { "drop-request": each, "drop-answer": each, "http-503": each, "closed-socket": each, delay }, delayMs };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
