import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "chai";
import { network } from "hardhat";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { PHASE_NAMES } from "../../agents/protocol/phases.js";
import { ExplorerDb } from "../../agents/explorer/db.js";
import type { ExplorerIndexer } from "../../agents/explorer/indexer.js";
import { startServer, type ExplorerServer } from "../../agents/explorer/server.js";
import { ExplorerViews } from "../../agents/explorer/views.js";
import { indexerFor, postQueued, settledMarket, type SettledMarket } from "./helpers/settled.js";

/** Debian's chromium package; `.ci/run` installs it and sets PODL_REQUIRE_CHROMIUM=1 so this cannot skip there. */
const CHROMIUM = process.env.PODL_CHROMIUM ?? "/usr/bin/chromium";
/** Where the screenshots go (docs/explorer/ when refreshing the committed ones). */
const SHOTS = resolve(process.env.PODL_EXPLORER_SCREENSHOTS ?? join(tmpdir(), "podl-explorer-screenshots"));
const ETH = "0x0000000000000000000000000000000000000000";
const bps = (v: bigint | number) => `${(Number(v) / 100).toFixed(2)}%`;

describe("explorer in Chromium (headless)", function () {
  this.timeout(180_000);
  let m: SettledMarket;
  let dir: string;
  let db: ExplorerDb;
  let indexer: ExplorerIndexer;
  let server: ExplorerServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.PODL_REQUIRE_CHROMIUM === "1") throw new Error(`PODL_REQUIRE_CHROMIUM=1 but there is no browser at ${CHROMIUM}`);
      console.log(`    skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set PODL_CHROMIUM)`);
      this.skip();
    }
    m = await settledMarket(await network.create());
    // One more task, started: the overview shows a running task with its phase timeline.
    await postQueued(m.w, "bafkreiwaiting");
    await (await m.w.market.startNext()).wait();
    dir = mkdtempSync(join(tmpdir(), "podl-explorer-web-"));
    db = ExplorerDb.open(join(dir, "explorer.sqlite"));
    indexer = await indexerFor(m.w, db);
    await indexer.poll();
    server = await startServer({ host: "127.0.0.1", port: 0, views: new ExplorerViews(db), subscribe: (l) => indexer.subscribe(l) });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${(e as Error).message}`));
    page.on("requestfailed", (r) => {
      // The event stream is cut when the page navigates or closes; anything else is a failure.
      if (!r.url().endsWith("/api/events")) problems.push(`request failed: ${r.url()}`);
    });
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const text = (selector: string) => page.$eval(selector, (el) => (el as HTMLElement).innerText.trim());
  const full = (selector: string) => page.$eval(selector, (el) => el.querySelector("[data-full]")?.getAttribute("data-full") ?? "");
  /** A fresh page load of `route` (the event stream keeps the network busy: wait for the first render instead). */
  async function visit(route: string): Promise<void> {
    await page.goto("about:blank");
    await page.goto(`${server.url}${route}`, { waitUntil: "load" });
    await page.waitForFunction(() => Number(document.body.dataset.rendered ?? 0) >= 1, { timeout: 20_000 });
  }
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  it("overview: the learning-chain height, the winner and its median as the contracts hold them; the queue with its terms; plots drawn", async () => {
    await visit("");
    expect(await text("[data-test=chain-height]")).to.equal((await m.w.market.chainHeight()).toString());
    const [block] = await m.w.market.queryFilter(m.w.market.filters.LearningBlock(undefined, m.taskId));
    const row = `#recent tr[data-task="${m.taskId}"]`;
    expect(await full(`${row} [data-test=winner]`)).to.equal(block!.args.winner);
    expect(await text(`${row} [data-test=winner-median]`)).to.equal(bps(block!.args.score));
    expect(await page.$$eval("#queue tbody tr", (rows) => rows.length)).to.equal(Number(await m.w.market.queueLength()));
    const started = m.queuedId; // the earlier of two equal tasks starts first (ties by task id)
    expect(PHASE_NAMES[Number((await m.w.market.getTask(started)).phase)]).to.equal("started");
    expect(await text(`#active [data-task="${started}"] .badge`)).to.equal("started");
    expect(await text(`#active [data-task="${started}"] .timeline .now`)).to.match(/^started\n.*(left|ago)$/);
    expect(await page.$$eval(".uplot", (plots) => plots.length)).to.equal(3);
    await shot("overview");
  });

  it("a live update arrives without a reload: a newly posted task joins the queue", async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const id = await postQueued(m.w, "bafkreilivetask");
    await indexer.poll();
    await page.waitForFunction((taskId: string) => Array.from(document.querySelectorAll("#queue a")).some((a) => a.textContent === `#${taskId}`), { timeout: 20_000 }, id.toString());
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).to.equal(42);
    expect(await page.evaluate(() => document.body.dataset.updates)).to.equal("1");
  });

  it("task page: the winner, every validator's score and the median, the payouts and the learning block, as the contracts hold them", async () => {
    await visit(`#/task/${m.taskId}`);
    const { market, settlement } = m.w;
    const revealed = await market.getRevealed(m.taskId);
    const [finalized] = await settlement.queryFilter(settlement.filters.TaskFinalized(m.taskId));
    const winner = revealed[Number(finalized!.args.winner)]!.miner;
    expect(await full("[data-test=task-winner]")).to.equal(winner);
    for (const v of await settlement.committee(m.taskId, 0n)) {
      const onChain = await settlement.scoresOf(m.taskId, 0n, v);
      const shown = await page.$$eval(`#submissions td[data-validator="${v}"]`, (cells) => cells.map((c) => (c as HTMLElement).innerText));
      expect(shown, v).to.deep.equal(onChain.map(bps));
    }
    expect(await page.$$eval("#submissions [data-test=median]", (cells) => cells.map((c) => (c as HTMLElement).innerText))).to.deep.equal(finalized!.args.medians.map(bps));
    const payouts = await page.$$eval("[data-test=payout]", (cells) => cells.map((c) => [c.getAttribute("data-account") ?? "", c.getAttribute("data-amount") ?? "0"] as const));
    expect(payouts.length).to.be.greaterThan(0);
    const paid = new Map<string, bigint>();
    for (const [account, amount] of payouts) paid.set(account, (paid.get(account) ?? 0n) + BigInt(amount));
    for (const [account, amount] of paid) expect(await market.creditOf(account, ETH), account).to.equal(amount);
    expect(await text("[data-test=learning-block]")).to.match(new RegExp(`^height ${await market.chainHeight()},`));
    expect(await page.$$eval(".uplot", (plots) => plots.length)).to.equal(1);
    await shot("task");
  });

  it("validators, miners and learning-chain pages render, and the overview fits a phone's width", async () => {
    for (const [route, name] of [["#/validators", "validators"], ["#/miners", "miners"], ["#/chain", "chain"]] as const) {
      await visit(route);
      expect(await text("main h1")).to.match(new RegExp(name === "chain" ? "^Learning chain" : `^${name[0]!.toUpperCase()}${name.slice(1)}`));
      await shot(name);
    }
    expect(await page.$$eval("main .table tbody tr", (rows) => rows.length)).to.equal(Number(await m.w.market.chainHeight()));
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await visit("");
    // Nothing but the tables (which scroll inside their own box) may be wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).to.be.at.most(390);
    await shot("overview-phone");
  });

  it("logged no console error, page error or failed request", () => {
    expect(problems).to.deep.equal([]);
  });
});
