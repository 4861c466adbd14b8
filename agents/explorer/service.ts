import type { Provider } from "ethers";
import type { RetryPolicy } from "../chain/retry.js";
import type { Logger } from "../log/logger.js";
import { ExplorerDb } from "./db.js";
import { ExplorerIndexer, type ExplorerContracts } from "./indexer.js";
import { startServer } from "./server.js";
import { ExplorerViews } from "./views.js";

export interface ExplorerOptions {
  provider: Provider;
  contracts: ExplorerContracts;
  startBlock: number;
  confirmations: number;
  chunkBlocks: number;
  maxReorgDepth: number;
  pollIntervalMs: number;
  retry: RetryPolicy;
  log: Logger;
  dbPath: string;
  host: string;
  port: number;
}

export interface RunningExplorer {
  url: string;
  indexer: ExplorerIndexer;
  /** Resolves when the indexing loop ends (after `stop`, or with its error). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Opens the database, indexes what the chain already holds (with progress), then serves the page
 * and the API while the indexer follows new blocks.
 */
export async function startExplorer(o: ExplorerOptions): Promise<RunningExplorer> {
  const db = ExplorerDb.open(o.dbPath);
  const indexer = new ExplorerIndexer({ ...o, db });
  const controller = new AbortController();
  try {
    const first = await indexer.poll();
    o.log.info({ block: first.block, events: db.counts().events }, "explorer: caught up with the chain");
    const server = await startServer({ host: o.host, port: o.port, views: new ExplorerViews(db), subscribe: (l) => indexer.subscribe(l) });
    const done = indexer.run({ signal: controller.signal, intervalMs: o.pollIntervalMs });
    return {
      url: server.url,
      indexer,
      done,
      stop: async () => {
        controller.abort();
        await done.catch(() => undefined);
        await server.close();
        db.close();
      },
    };
  } catch (e) {
    db.close();
    throw e;
  }
}
