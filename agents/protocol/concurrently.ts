/**
 * Runs `work` on every item, at most `concurrency` at a time, in order of the items; the results in
 * that order. On a failure the other workers finish their current item and take no new one, and the
 * first failure is thrown only once every worker has stopped, so nothing is left fetching.
 */
export async function mapConcurrently<T, R>(items: readonly T[], concurrency: number, work: (item: T, k: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop && next < items.length) {
      const k = next++;
      try {
        results[k] = await work(items[k]!, k);
      } catch (e) {
        stop = true;
        throw e;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker);
  const settled = await Promise.allSettled(workers);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return results;
}
