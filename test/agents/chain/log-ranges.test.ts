import { expect } from "chai";
import { LOOKUP_CHUNK_BLOCKS, blockRanges, queryInRanges } from "../../../agents/chain/log-ranges.js";

/**
 * Test double of a provider's eth_getLogs range cap (a boundary we do not own): it refuses a request over
 * more than `cap` blocks, as capped providers do, and otherwise returns the events in the range.
 */
function cappedGetLogsDouble(events: number[], cap: number) {
  const asked: Array<[number, number]> = [];
  const query = async (from: number, to: number): Promise<number[]> => {
    asked.push([from, to]);
    if (to - from + 1 > cap) throw new Error(`query exceeds the ${cap}-block range limit`);
    return events.filter((block) => block >= from && block <= to);
  };
  return { asked, query };
}

describe("agents/chain log ranges (one-shot lookups in capped eth_getLogs ranges)", () => {
  it("covers [from, to] with consecutive ranges of at most `chunk` blocks", () => {
    expect(blockRanges(10, 25, 5)).to.deep.equal([[10, 14], [15, 19], [20, 24], [25, 25]]);
    expect(blockRanges(7, 7, 5)).to.deep.equal([[7, 7]]);
    expect(blockRanges(8, 7, 5)).to.deep.equal([]);
  });

  it("refuses a chunk that is not a positive integer, naming it", () => {
    expect(() => blockRanges(0, 10, 0)).to.throw(RangeError, /chunk must be a positive integer/);
  });

  it("finds every event since the deployment block through a provider that caps the range", async () => {
    const head = { getBlockNumber: async () => 25_000 };
    const events = [1_000, 4_999, 5_000, 24_999];
    const capped = cappedGetLogsDouble(events, LOOKUP_CHUNK_BLOCKS);
    // one request over the whole range is what a capped provider refuses
    await capped.query(0, 25_000).then(
      () => expect.fail("the double should refuse a range over its cap"),
      (e: Error) => expect(e.message).to.match(/range limit/),
    );
    capped.asked.length = 0;
    const found = await queryInRanges(head, 500, capped.query);
    expect(found).to.deep.equal(events);
    expect(capped.asked[0]).to.deep.equal([500, 500 + LOOKUP_CHUNK_BLOCKS - 1]);
    expect(capped.asked.at(-1)![1]).to.equal(25_000);
  });

  it("stops at the first range with an event when asked for one posting", async () => {
    const head = { getBlockNumber: async () => 10_000 };
    const capped = cappedGetLogsDouble([2_500, 9_000], 1_000);
    const found = await queryInRanges(head, 0, capped.query, { chunk: 1_000, first: true });
    expect(found).to.deep.equal([2_500]);
    expect(capped.asked).to.have.length(3);
  });
});
