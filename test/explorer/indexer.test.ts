import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { network } from "hardhat";
import { ExplorerDb } from "../../agents/explorer/db.js";
import { ExplorerViews } from "../../agents/explorer/views.js";
import { indexerFor, postQueued, settledMarket, type SettledMarket } from "./helpers/settled.js";

const ETH = "0x0000000000000000000000000000000000000000";

describe("explorer indexer", function () {
  this.timeout(120_000);
  let m: SettledMarket;
  let dir: string;

  before(async () => {
    m = await settledMarket(await network.create());
    dir = mkdtempSync(join(tmpdir(), "podl-explorer-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Every stored event id, in chain order. */
  const ids = (db: ExplorerDb) => db.events().map((e) => e.id);

  it("derives the settled task as the contracts hold it: each validator's score, the medians, the winner and ommer, the payouts and the learning block", async () => {
    const db = ExplorerDb.open(join(dir, "settled.sqlite"));
    await (await indexerFor(m.w, db)).poll();
    const t = new ExplorerViews(db).task(Number(m.taskId))!;
    const { market, settlement } = m.w;
    expect(t.phase).to.equal("settled");
    const revealed = await market.getRevealed(m.taskId);
    expect(t.submissions.map((s) => s.miner)).to.deep.equal(revealed.map((r) => r.miner));
    const members = await settlement.committee(m.taskId, 0n);
    for (const v of members) {
      const onChain = await settlement.scoresOf(m.taskId, 0n, v);
      expect(t.submissions.map((s) => s.scores.find((x) => x.validator === v)?.score)).to.deep.equal(onChain.map(Number));
    }
    const finalized = await settlement.queryFilter(settlement.filters.TaskFinalized(m.taskId));
    expect(t.submissions.map((s) => s.median)).to.deep.equal(finalized[0]!.args.medians.map(Number));
    const [block] = await market.queryFilter(market.filters.LearningBlock(undefined, m.taskId));
    expect(t.winner).to.equal(block!.args.winner);
    expect(t.learningBlock?.height).to.equal(Number(await market.chainHeight()));
    expect(t.submissions.filter((s) => s.ommer).map((s) => s.miner)).to.deep.equal([revealed[1]!.miner]);
    // Nobody withdrew: each account's credit is what the settlement paid it.
    expect(t.payouts.length).to.be.greaterThan(0);
    expect(t.payouts.every((p) => p.claimed), "every posted payout shows as claimed").to.equal(true);
    const paid = new Map<string, bigint>();
    for (const p of t.payouts) paid.set(p.account, (paid.get(p.account) ?? 0n) + BigInt(p.amount));
    for (const [account, amount] of paid) expect(await market.creditOf(account, ETH), account).to.equal(amount);
    expect([...paid.values()].reduce((a, b) => a + b, 0n)).to.equal(BigInt(t.pool!));
    expect(t.payouts.find((p) => p.account === t.winner)?.role).to.equal("winner");
    expect(t.request?.accuracyThreshold).to.equal("8000");
    db.close();
  });

  it("restarted mid-chain, resumes where it stopped and ends with the same events as one uninterrupted run, none twice", async () => {
    const path = join(dir, "restart.sqlite");
    const head = await m.w.ethers.provider.getBlockNumber();
    // First run: stops 15 blocks under the head (a confirmations rule that deep), mid-way through the task.
    let db = ExplorerDb.open(path);
    const first = await (await indexerFor(m.w, db, 15)).poll();
    expect(first.block).to.equal(head - 15);
    const partial = ids(db).length;
    db.close();
    db = ExplorerDb.open(path);
    const second = await (await indexerFor(m.w, db)).poll();
    expect(second.block).to.equal(head);
    const fresh = ExplorerDb.open(join(dir, "fresh.sqlite"));
    await (await indexerFor(m.w, fresh)).poll();
    expect(partial).to.be.greaterThan(0).and.lessThan(ids(fresh).length);
    expect(ids(db)).to.deep.equal(ids(fresh));
    expect(new Set(ids(db)).size).to.equal(ids(db).length);
    db.close();
    fresh.close();
  });

  it("survives a reorganisation of the last blocks: the abandoned fork's events are gone and the new fork's are indexed", async () => {
    const db = ExplorerDb.open(join(dir, "reorg.sqlite"));
    const indexer = await indexerFor(m.w, db);
    await indexer.poll();
    const snapshot = await m.w.helpers.takeSnapshot();
    const abandoned = await postQueued(m.w, "bafkreifork-a");
    await m.w.helpers.mine(2);
    await indexer.poll();
    expect(new ExplorerViews(db).task(Number(abandoned))?.specCid).to.equal("bafkreifork-a");
    await snapshot.restore();
    // The other fork: a different task in the same id, and a longer chain.
    const kept = await postQueued(m.w, "bafkreifork-b");
    await m.w.helpers.mine(4);
    const update = await indexer.poll();
    expect(update.rewound, "the indexer noticed the reorganisation").to.not.equal(undefined);
    expect(kept).to.equal(abandoned);
    expect(new ExplorerViews(db).task(Number(kept))?.specCid).to.equal("bafkreifork-b");
    expect(db.events({ names: ["TaskPosted"] }).map((e) => e.args.specCid)).to.not.include("bafkreifork-a");
    const fresh = ExplorerDb.open(join(dir, "reorg-fresh.sqlite"));
    await (await indexerFor(m.w, fresh)).poll();
    expect(ids(db)).to.deep.equal(ids(fresh));
    db.close();
    fresh.close();
  });
});
