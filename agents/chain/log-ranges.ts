/**
 * One-shot event lookups (a task's posted payouts, every payout to an account since the deployment)
 * read eth_getLogs over [fromBlock, head] in ranges: providers cap the block range of one request
 * (commonly 2,000 to 10,000 blocks), so one request from the deployment block fails on a long chain.
 * The agents' followers use `EventCursor` (cursor.ts), which also persists where it got to.
 */

/** Blocks per eth_getLogs request of a one-shot lookup (within every public provider's cap we know of). */
export const LOOKUP_CHUNK_BLOCKS = 2_000;

/** The consecutive ranges [from, to] of at most `chunk` blocks that cover [fromBlock, toBlock]. */
export function blockRanges(fromBlock: number, toBlock: number, chunk = LOOKUP_CHUNK_BLOCKS): Array<[number, number]> {
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunk must be a positive integer of blocks, got ${chunk}`);
  const ranges: Array<[number, number]> = [];
  for (let from = Math.max(0, fromBlock); from <= toBlock; from += chunk) ranges.push([from, Math.min(toBlock, from + chunk - 1)]);
  return ranges;
}

/** A provider's head, for the end of a lookup. */
export interface HeadSource {
  getBlockNumber(): Promise<number>;
}

/**
 * Runs `query` over [fromBlock, head] in ranges of at most `chunk` blocks, oldest first; with `first`, stops at
 * the first range that returns something (a task's one posting).
 */
export async function queryInRanges<E>(
  head: HeadSource,
  fromBlock: number,
  query: (from: number, to: number) => Promise<E[]>,
  options: { chunk?: number; first?: boolean } = {},
): Promise<E[]> {
  const out: E[] = [];
  for (const [from, to] of blockRanges(fromBlock, await head.getBlockNumber(), options.chunk)) {
    out.push(...(await query(from, to)));
    if (options.first === true && out.length > 0) break;
  }
  return out;
}
