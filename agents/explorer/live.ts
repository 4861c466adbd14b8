import type { Provider } from "ethers";
import { withRetry, type RetryPolicy } from "../chain/retry.js";
import type { Logger } from "../log/logger.js";
import { QueueLens__factory, Settlement__factory, TaskMarket__factory } from "../../types/index.js";
import { plain } from "./plain.js";

/** The contracts the explorer follows (their addresses, from the deployment). */
export interface ExplorerContracts {
  market: string;
  registry: string;
  settlement?: string | undefined;
  queueLens?: string | undefined;
}

/** What the contracts say now (at the indexed block), for what events alone cannot tell: the queue's ranking and parameters. */
export interface LiveViews {
  block: number;
  time: number;
  chainHeight: string;
  chainHead: string;
  queueLength: number;
  activeCount: number;
  /** MarketParams, numbers as decimal strings. */
  params: Record<string, string>;
  /** SettlementParams, when a settlement module is known. */
  settlementParams?: Record<string, string>;
  /** The queue in start order with each task's on-chain DLBC score (UD60x18 decimal string). */
  queue: { taskId: number; score: string }[];
}

/** Reads the live views at `block` (one consistent state; the same block the index reached). */
export async function readLiveViews(provider: Provider, c: ExplorerContracts, block: number, retry: RetryPolicy, log: Logger): Promise<LiveViews> {
  const at = { blockTag: block };
  const read = <T>(what: string, fn: () => Promise<T>) => withRetry(what, fn, retry, log);
  const market = TaskMarket__factory.connect(c.market, provider);
  const [header, height, head, queueLength, activeCount, params] = await Promise.all([
    read("eth_getBlockByNumber", () => provider.getBlock(block)),
    read("chainHeight", () => market.chainHeight(at)),
    read("chainHead", () => market.chainHead(at)),
    read("queueLength", () => market.queueLength(at)),
    read("activeCount", () => market.activeCount(at)),
    read("params", () => market.params(at)),
  ]);
  let queue: LiveViews["queue"];
  if (c.queueLens !== undefined) {
    const lens = QueueLens__factory.connect(c.queueLens, provider);
    const [ids, scores] = await read("queuePage", () => lens.queuePage(0, params.maxQueue, at));
    queue = ids.map((id, i) => ({ taskId: Number(id), score: scores[i]!.toString() }));
  } else {
    // The queue words carry the task id in their top 32 bits; order by rankOf as the market does.
    const words = await read("queueWords", () => market.queueWords(at));
    queue = await Promise.all(words.map(async (w) => ({ taskId: Number(w >> 224n), score: (await read("rankOf", () => market.rankOf(w >> 224n, at))).toString() })));
    queue.sort((a, b) => (BigInt(a.score) === BigInt(b.score) ? a.taskId - b.taskId : BigInt(a.score) < BigInt(b.score) ? -1 : 1));
  }
  const views: LiveViews = {
    block,
    time: header?.timestamp ?? 0,
    chainHeight: height.toString(),
    chainHead: head,
    queueLength: Number(queueLength),
    activeCount: Number(activeCount),
    params: plain(params) as Record<string, string>,
    queue,
  };
  if (c.settlement !== undefined) {
    const settlement = Settlement__factory.connect(c.settlement, provider);
    views.settlementParams = plain(await read("settlement params", () => settlement.params(at))) as Record<string, string>;
  }
  return views;
}
