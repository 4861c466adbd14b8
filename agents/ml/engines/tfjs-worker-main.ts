import { parentPort } from "node:worker_threads";
import type { TransferListItem } from "node:worker_threads";
import { measureThroughput, selectBackend, type BackendName } from "../backend.js";
import type { EngineEvent } from "../engine.js";
import type { NamedTensors } from "../init.js";
import { fixedOrMin } from "../spec.js";
import { runTfjsJob } from "./tfjs-run.js";
import type { Reply, Request } from "./tfjs-protocol.js";

/**
 * The worker thread of engines/tfjs-worker.ts: its own TensorFlow.js, its backend chosen once (wasm
 * initialises here: the main thread's instance is not shared), then one request at a time.
 * Tensors go back as transferred ArrayBuffers.
 */

const port = parentPort!;
let backend: Promise<BackendName> | undefined;

port.on("message", (request: Request) => void handle(request));

async function handle(request: Request): Promise<void> {
  const { id } = request;
  try {
    backend ??= selectBackend({ force: request.backend }).then((c) => c.name);
    const name = await backend;
    if (request.type === "warm") return post({ type: "done", id, value: null });
    if (request.type === "throughput") {
      const t = await measureThroughput(request.spec, name, request.batches * fixedOrMin(request.spec.batchSize));
      post({ type: "done", id, value: { samples: t.samples, seconds: t.seconds, samplesPerSecond: t.samplesPerSecond } });
      return;
    }
    const result = await runTfjsJob(request.job, `${name}, worker thread`, (event) => post({ type: "event", id, event }, transfers(event)));
    post({ type: "done", id, value: result }, buffersOf(result.weights));
  } catch (e) {
    const err = e as Error & { code?: string };
    post({ type: "error", id, error: { name: err.name, message: err.message, ...(err.code === undefined ? {} : { code: err.code }), ...(err.stack === undefined ? {} : { stack: err.stack }) } });
  }
}

function post(reply: Reply, transfer: TransferListItem[] = []): void {
  port.postMessage(reply, transfer);
}

function transfers(event: EngineEvent): TransferListItem[] {
  return event.type === "checkpoint" ? [...buffersOf(event.checkpoint.weights), ...buffersOf(event.checkpoint.optimizer)] : [];
}

/** The buffers a tensor owns whole (Float32Array.from copies, as getNamedWeights and snapshot make). */
export function buffersOf(named: NamedTensors): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const { data } of named.values()) {
    if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) out.add(data.buffer);
  }
  return [...out];
}
