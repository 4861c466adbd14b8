import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { network } from "hardhat";
import { main } from "../../agents/cli/podl.js";
import { ExplorerDb } from "../../agents/explorer/db.js";
import type { ExplorerIndexer } from "../../agents/explorer/indexer.js";
import { createApp, startServer } from "../../agents/explorer/server.js";
import { ExplorerViews } from "../../agents/explorer/views.js";
import { indexerFor, postQueued, settledMarket, type SettledMarket } from "./helpers/settled.js";

describe("explorer API", function () {
  this.timeout(120_000);
  let m: SettledMarket;
  let dir: string;
  let db: ExplorerDb;
  let indexer: ExplorerIndexer;
  let app: ReturnType<typeof createApp>;

  before(async () => {
    m = await settledMarket(await network.create());
    dir = mkdtempSync(join(tmpdir(), "podl-explorer-api-"));
    db = ExplorerDb.open(join(dir, "explorer.sqlite"));
    indexer = await indexerFor(m.w, db);
    await indexer.poll();
    app = createApp({ views: new ExplorerViews(db), subscribe: (l) => indexer.subscribe(l) });
  });
  after(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function get(path: string): Promise<{ status: number; body: any }> {
    const res = await app.request(path);
    return { status: res.status, body: await res.json() };
  }

  async function rejects(path: string, field: string, message: RegExp): Promise<void> {
    const { status, body } = await get(path);
    expect(status, path).to.equal(400);
    expect(body.error.code, path).to.equal("BAD_REQUEST");
    expect(body.error.field, path).to.equal(field);
    expect(body.error.message, path).to.match(message);
  }

  it("GET /api/status: the indexed block, the learning-chain height and the parameters", async () => {
    const { status, body } = await get("/api/status");
    expect(status).to.equal(200);
    expect(body.indexedBlock).to.equal(await m.w.ethers.provider.getBlockNumber());
    expect(body.chainHeight).to.equal((await m.w.market.chainHeight()).toString());
    expect(body.params.maxQueue).to.equal((await m.w.market.params()).maxQueue.toString());
    await rejects("/api/status?x=1", "x", /unknown parameter/);
  });

  it("GET /api/overview: the queue with its DLBC terms and the market's score, recent settlements, plot series; recent bounded", async () => {
    const { body } = await get("/api/overview?recent=5");
    expect(body.queue.map((q: any) => q.taskId)).to.deep.equal([Number(m.queuedId)]);
    const q = body.queue[0];
    const onChain = Number(await m.w.market.rankOf(m.queuedId)) / 1e18;
    expect(Math.abs(q.terms.score - onChain) / onChain).to.be.lessThan(1e-6);
    expect(Math.abs(Number(q.score) - onChain) / onChain).to.be.lessThan(1e-12);
    expect(q.terms.dn).to.equal(25); // (5 MB + 20 MB) / 1 MB/s
    expect(body.recent.map((t: any) => t.taskId)).to.deep.equal([Number(m.taskId)]);
    expect(body.chain).to.have.length(1);
    expect(body.phaseDurations).to.have.length(1);
    expect(body.stakes).to.have.length(3);
    await rejects("/api/overview?recent=0", "recent", /1\.\.50/);
    await rejects("/api/overview?recent=51", "recent", /≤ 50/);
    await rejects("/api/overview?recent=ten", "recent", /integer/);
  });

  it("GET /api/tasks: newest first, paged, filtered by phase; bad paging and phases are refused naming the field", async () => {
    const all = (await get("/api/tasks")).body;
    expect(all.total).to.equal(2);
    expect(all.items.map((t: any) => t.taskId)).to.deep.equal([Number(m.queuedId), Number(m.taskId)]);
    expect((await get("/api/tasks?limit=1&offset=1")).body.items.map((t: any) => t.taskId)).to.deep.equal([Number(m.taskId)]);
    expect((await get("/api/tasks?phase=queued")).body.items.map((t: any) => t.taskId)).to.deep.equal([Number(m.queuedId)]);
    await rejects("/api/tasks?limit=0", "limit", /1\.\.100/);
    await rejects("/api/tasks?limit=101", "limit", /≤ 100/);
    await rejects("/api/tasks?offset=-1", "offset", /≥ 0/);
    await rejects("/api/tasks?offset=1.5", "offset", /integer/);
    await rejects("/api/tasks?phase=mining", "phase", /one of queued, started/);
    await rejects("/api/tasks?sort=desc", "sort", /unknown parameter/);
  });

  it("GET /api/tasks/:id: the task; 404 for one never posted, 400 for an id that is not one", async () => {
    const { status, body } = await get(`/api/tasks/${m.taskId}`);
    expect(status).to.equal(200);
    expect(body.winner).to.equal(m.w.accounts[1]!.address);
    expect(body.submissions).to.have.length(2);
    const missing = await get("/api/tasks/99");
    expect(missing.status).to.equal(404);
    expect(missing.body.error).to.include({ code: "NOT_FOUND", field: "id" });
    await rejects("/api/tasks/abc", "id", /positive integer/);
    await rejects("/api/tasks/0", "id", /positive integer/);
    await rejects("/api/tasks/99999999999", "id", /positive integer/);
  });

  it("GET /api/validators and /api/validators/:address: stake, committees, reveals, earnings; bad addresses refused", async () => {
    const { body } = await get("/api/validators");
    expect(body.total).to.equal(3);
    const top = body.items[0];
    const onChain = await m.w.registry.getValidator(top.address);
    expect(top.stake).to.equal(onChain.stake.toString());
    expect(top.committees).to.equal(1);
    expect(top.reveals).to.equal(1);
    expect(Object.keys(top.earned)).to.have.length(1);
    const one = await get(`/api/validators/${top.address.toLowerCase()}`);
    expect(one.body.address).to.equal(top.address);
    expect((await get(`/api/validators/${m.w.accounts[1]!.address}`)).status).to.equal(404);
    await rejects("/api/validators/0x1234", "address", /0x address/);
    await rejects("/api/validators?limit=1000", "limit", /≤ 100/);
  });

  it("GET /api/miners: wins, ommers and earnings", async () => {
    const { body } = await get("/api/miners");
    expect(body.items.map((x: any) => [x.address, x.wins, x.ommers])).to.deep.equal([
      [m.w.accounts[1]!.address, 1, 0],
      [m.w.accounts[2]!.address, 0, 1],
    ]);
    await rejects("/api/miners?offset=x", "offset", /integer/);
  });

  it("GET /api/chain: learning blocks newest first, as the market's LearningBlock events", async () => {
    const { body } = await get("/api/chain");
    expect(body.total).to.equal(Number(await m.w.market.chainHeight()));
    expect(body.items[0].taskId).to.equal(Number(m.taskId));
    await rejects("/api/chain?limit=-5", "limit", /≥ 0|1\.\.100/);
  });

  it("unknown endpoints answer 404 in JSON", async () => {
    const { status, body } = await get("/api/nothing");
    expect(status).to.equal(404);
    expect(body.error.code).to.equal("NOT_FOUND");
  });

  it("GET /api/events: server-sent events, an update when the indexer reaches a block with new events", async () => {
    const server = await startServer({ host: "127.0.0.1", port: 0, views: new ExplorerViews(db), subscribe: (l) => indexer.subscribe(l) });
    const controller = new AbortController();
    try {
      const res = await fetch(`${server.url}api/events`, { signal: controller.signal });
      expect(res.headers.get("content-type")).to.match(/^text\/event-stream/);
      const reader = res.body!.getReader();
      let text = "";
      const until = async (pattern: RegExp) => {
        while (!pattern.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      };
      await until(/event: hello/);
      await postQueued(m.w, "bafkreilive");
      const update = await indexer.poll();
      await until(/event: update\ndata: .*\n/);
      expect(text).to.include(`"block":${update.block}`);
      expect((await app.request("/api/events?x=1")).status).to.equal(400);
    } finally {
      controller.abort();
      await server.close();
    }
  });

  it("podl explorer refuses a bad --port or --host before touching the chain, naming the flag, and has no key options (it signs nothing)", async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (l: string) => err.push(l), env: {} };
    expect(await main(["explorer", "--rpc-url", "http://127.0.0.1:1", "--market", m.w.accounts[0]!.address, "--port", "70000"], io)).to.equal(1);
    expect(err.join("\n")).to.match(/port: .*65535.*--port/);
    expect(await main(["explorer", "--rpc-url", "http://127.0.0.1:1", "--market", m.w.accounts[0]!.address, "--host", "http://x/"], io)).to.equal(1);
    expect(err.at(-1)).to.match(/host: must be an IP address or a host name \(--host\)/);
    expect(await main(["explorer", "--rpc-url", "http://127.0.0.1:1", "--market", m.w.accounts[0]!.address, "--keystore", "k.json"], io)).to.equal(2);
    expect(err.at(-1)).to.match(/Unknown option '--keystore'/);
  });
});
