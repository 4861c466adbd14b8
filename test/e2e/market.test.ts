import { join } from "node:path";
import { expect } from "chai";
import { getAddress, parseEther } from "ethers";
import { nameBootstrapPeers } from "../../devnet/bootstrap.js";
import { ROLES, account, minerArgs, postArgs, serveArgs, verifierArgs, type AgentSetup } from "../../devnet/network.js";
import { waitForPort } from "../../devnet/node.js";
import { TERMINAL_PHASES, phaseOf, readTask, type TaskReport } from "../../devnet/report.js";
import type { AgentProcess } from "../../devnet/supervisor.js";
import { RewardToken__factory, ValidatorRegistry__factory } from "../../types/index.js";
import { CopyingMiner, leakedOpening } from "./helpers/copier.js";
import { agreeingValidators, expectedDefault, expectedSettlement, lowerMedian, nextHead, winnerAndOmmers } from "./helpers/expected.js";
import { TimeKeeper, startWorld, type World } from "./helpers/world.js";

const IRIS = { dataset: "iris", spec: "irisMlp", reward: "1", threshold: 7000, trainWindow: 30 };
/** The default-path task: a longer window, so the publisher can be stopped before its commit deadline. */
const IRIS_ABANDONED = { ...IRIS, reward: "0.5", trainWindow: 90 };
/** Share of the agents' JSON-RPC requests the endpoint double fails (503, rate limit, reset, lost answer). */
const RPC_FAILURE_SHARE = 0.05;

/** Account → total credited, from a task's report. */
function credits(r: TaskReport): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const p of r.payouts) out.set(p.account, (out.get(p.account) ?? 0n) + p.amount);
  return out;
}

function plain(m: Map<string, bigint>): Record<string, string> {
  return Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.toString()]));
}

describe("end to end: publisher, two honest miners, a copier, four validators (one silent)", function () {
  this.timeout(300_000);
  let w: World;
  let keeper: TimeKeeper;
  let publisher: AgentSetup;
  let miners: AgentSetup[];
  let validators: AgentSetup[];
  let serving: AgentProcess;
  const silent = account(ROLES.validators[3]);
  let copier: CopyingMiner;
  let headBefore: string;
  let report: TaskReport;
  const taskA = 1n;

  async function post(task: typeof IRIS): Promise<void> {
    const p = w.spawn(publisher, postArgs(publisher, w.deploymentFile, task));
    const { code } = await p.exited;
    if (code !== 0) throw new Error(`posting failed (exit ${code}):\n${p.tail.join("\n")}`);
  }

  async function servePublisher(): Promise<AgentProcess> {
    const p = w.spawn(publisher, serveArgs(publisher, w.deploymentFile));
    await waitForPort(Number(publisher.ipfsListen.split("/").at(-1)), 60_000);
    return p;
  }

  before(async function () {
    w = await startWorld({ seed: 0x506f444c, verbose: process.env.PODL_E2E_VERBOSE === "1" });
    keeper = new TimeKeeper(w);
    publisher = await w.agent("publisher", "publisher", ROLES.publisher);
    // No agent is given another's address: the address book names the publisher's node, the DHT does the rest.
    await nameBootstrapPeers(w.deploymentFile, [publisher.ipfsAddress]);
    miners = [await w.agent("miner-1", "miner", ROLES.miners[0]), await w.agent("miner-2", "miner", ROLES.miners[1])];
    validators = [];
    for (const [i, index] of ROLES.validators.slice(0, 3).entries()) validators.push(await w.agent(`validator-${i + 1}`, "verifier", index));
    copier = new CopyingMiner(account(ROLES.copier), w.provider, w.deployment.contracts.TaskMarket);
    headBefore = await w.c.market.chainHead();

    // The silent validator: staked like the others, then never heard from again.
    const registry = ValidatorRegistry__factory.connect(w.deployment.contracts.ValidatorRegistry, silent.connect(w.provider));
    await (await registry.stake(parseEther("1"), { value: parseEther("1") })).wait();

    await post(IRIS);
    serving = await servePublisher();
    for (const m of miners) w.spawn(m, minerArgs(m, w.deploymentFile, []));
    // The miners' nodes listen (and announce their models later) before the validators start.
    for (const m of miners) await waitForPort(Number(m.ipfsListen.split("/").at(-1)), 90_000);
    for (const v of validators) w.spawn(v, verifierArgs(v, w.deploymentFile, []));
    keeper.watch({ taskId: taskA, committers: 3, revealers: 3, actingMembers: 3 });
    keeper.start();

    // The copier commits to miner-1's model as soon as it has leaked, and reveals it after miner-1 does.
    const statePath = join(miners[0]!.dataDir, "miner.sqlite");
    let opening: ReturnType<typeof leakedOpening>;
    await w.until("waiting for miner-1's opening", () => (opening = leakedOpening(statePath, taskA)) !== undefined, 120_000);
    await copier.commit(taskA, opening!);
    await w.until("waiting for miner-1's reveal", async () => (await w.c.market.getRevealed(taskA)).some((s) => getAddress(s.miner) === miners[0]!.wallet.address), 120_000);
    await copier.reveal(taskA);

    await w.until("waiting for task 1 to end", async () => TERMINAL_PHASES.has(await phaseOf(w.c, taskA)), 150_000);
    report = await readTask(w.c, taskA);
  });

  after(async function () {
    if (this.currentTest?.state === "failed" || report === undefined) process.stdout.write(`${w?.output.slice(-80).join("\n")}\n`);
    await keeper?.stop();
    await w?.close();
  });

  it("settles the task with an honest miner as the winner", () => {
    expect(report.phase).to.equal("settled");
    expect(report.outcome).to.equal("validated");
    const honest = new Set(miners.map((m) => m.wallet.address));
    const winner = report.submissions.find((s) => s.winner);
    expect(winner, "a winner").to.not.equal(undefined);
    expect(honest.has(winner!.miner)).to.equal(true);
    const subs = report.submissions.map((s) => ({ miner: s.miner, modelHash: s.modelHash, commitSeq: s.commitSeq, scores: Object.values(s.scores) }));
    const { winner: expected } = winnerAndOmmers(subs, IRIS.threshold, Number(w.params.settlement.epsilon), Number(w.params.settlement.maxOmmers));
    expect(winner!.index).to.equal(expected);
  });

  it("scores the copied model 0 on every acting validator", () => {
    const copy = report.submissions.find((s) => s.miner === copier.wallet.address);
    expect(copy, "the copier's reveal").to.not.equal(undefined);
    expect(copy!.modelHash).to.equal(copier.opening!.modelHash);
    expect(Object.keys(copy!.scores)).to.have.length(3);
    expect(Object.values(copy!.scores)).to.deep.equal([0, 0, 0]);
    expect(copy!.median).to.equal(0);
    for (const s of report.submissions.filter((x) => x.miner !== copier.wallet.address)) expect(s.median).to.be.at.least(IRIS.threshold);
  });

  it("slashes the silent validator and shares its slash among the validators who agreed", () => {
    expect(report.committee).to.include(silent.address);
    expect(report.slashes).to.have.length(1);
    const slash = report.slashes[0]!;
    expect(slash.validator).to.equal(silent.address);
    expect(slash.amount).to.equal((parseEther("1") * w.params.settlement.slashNoRevealBps) / 10_000n);
    expect([...slash.recipients].sort()).to.deep.equal(validators.map((v) => v.wallet.address).sort());
  });

  it("pays every account what the rules say, to the wei", async () => {
    const t = await w.c.market.getTask(taskA);
    const subs = report.submissions.map((s) => ({ miner: s.miner, modelHash: s.modelHash, commitSeq: s.commitSeq, scores: Object.values(s.scores) }));
    const medians = subs.map((s) => lowerMedian(s.scores));
    const byValidator = new Map(validators.map((v) => [v.wallet.address, report.submissions.map((s) => s.scores[v.wallet.address]!)]));
    const { settlement } = w.params;
    const { winner, ommers } = winnerAndOmmers(subs, IRIS.threshold, Number(settlement.epsilon), Number(settlement.maxOmmers));
    const expected = expectedSettlement({
      publisher: publisher.wallet.address,
      reward: t.reward,
      publisherBond: t.publisherBond,
      minerBond: t.minerBond,
      committed: 3,
      subs,
      // in committee order: the contract hands the forfeits' rounding dust to the first
      agreeing: report.committee.filter((v) => agreeingValidators(byValidator, medians, IRIS.threshold, Number(settlement.deviationTolerance)).includes(v)),
      treasury: await w.c.market.treasury(),
      ...(winner !== undefined ? { winner } : {}),
      ommers,
      validatorShareBps: settlement.validatorShareBps,
      ommerShareBps: settlement.ommerShareBps,
    });
    expect(plain(credits(report))).to.deep.equal(plain(expected));
    // The copier scored 0 and loses its bond (docs/settlement.md: a median of 0 forfeits it): no credit at all.
    expect(credits(report).has(copier.wallet.address)).to.equal(false);
    expect(await w.c.market.creditOf(copier.wallet.address, t.token)).to.equal(0n);
    expect(report.pool).to.equal(t.reward + t.publisherBond + 3n * t.minerBond);
  });

  it("has everyone posted a block reward (publisher, winner, ommers) claim it on its own, without podl withdraw", async () => {
    const podl = RewardToken__factory.connect(w.deployment.contracts.RewardToken, w.provider);
    const [posted] = await podl.queryFilter(podl.filters.MintsPosted(taskA));
    // DLBC eq. 5: with a short queue at start the publisher's share takes the whole block reward and the
    // winner's is 0; the ommers' share is paid on top. Everyone posted a non-zero amount must claim it.
    const owed = posted!.args.mints.map((m) => ({ account: getAddress(m.account), amount: m.amount })).filter((m) => m.amount > 0n);
    expect(owed.map((m) => m.account), "block rewards posted to the publisher and a miner").to.include(getAddress(publisher.wallet.address));
    expect(owed.length, "block rewards posted to the publisher and a miner").to.be.greaterThan(1);
    for (const { account, amount } of owed) {
      await w.until(`waiting for ${account} to claim its block reward`, async () => (await podl.balanceOf(account)) === amount, 60_000);
      const claims = await podl.queryFilter(podl.filters.MintClaimed(taskA, undefined, account));
      expect(claims.map((c) => c.args.amount)).to.deep.equal([amount]);
    }
  });

  it("appends the winner's learning block", async () => {
    const winner = report.submissions.find((s) => s.winner)!;
    const block = report.learningBlock!;
    expect(block.height).to.equal(1);
    expect(block.winner).to.equal(winner.miner);
    expect(block.modelHash).to.equal(winner.modelHash);
    expect(block.score).to.equal(winner.median);
    const subs = report.submissions.map((s) => ({ miner: s.miner, modelHash: s.modelHash, commitSeq: s.commitSeq, scores: Object.values(s.scores) }));
    const { ommers } = winnerAndOmmers(subs, IRIS.threshold, Number(w.params.settlement.epsilon), Number(w.params.settlement.maxOmmers));
    const t = await w.c.market.getTask(taskA);
    const head = nextHead({
      head: headBefore,
      height: 1n,
      taskId: taskA,
      winner: winner.miner,
      modelHash: winner.modelHash,
      score: winner.median!,
      ommerHashes: ommers.map((o) => subs[o]!.modelHash),
      datasetRoot: t.datasetRoot,
    });
    expect(block.head).to.equal(head);
    expect(await w.c.market.chainHead()).to.equal(head);
  });

  describe("then, over an endpoint failing a share of the agents' requests, a publisher that never unlocks the test keys", function () {
    const taskB = 2n;
    let reportB: TaskReport;

    before(async function () {
      serving.kill("SIGTERM");
      await serving.exited;
      w.setRpcFailureShare(RPC_FAILURE_SHARE);
      await post(IRIS_ABANDONED);
      serving = await servePublisher();
      // The publisher goes away once the miners committed, before the commit deadline.
      await w.until("waiting for both miners to commit to task 2", async () => (await w.c.market.getTask(taskB)).submissionCount >= 2n, 120_000);
      serving.kill("SIGKILL");
      await serving.exited;
      // Reveals need the test keys, so nobody reveals; the task defaults once the test-key window is over.
      keeper.watch({ taskId: taskB, committers: 2, revealers: 0, actingMembers: 3, noTestKeys: true });
      await w.until("waiting for task 2 to end", async () => TERMINAL_PHASES.has(await phaseOf(w.c, taskB)), 120_000);
      await w.until("waiting for both miners to claim their default shares", async () => (await defaultClaims()).size >= 2, 120_000);
      reportB = await readTask(w.c, taskB);
    });

    /** Miner → what its `claimDefaultShare(taskB)` credited. */
    async function defaultClaims(): Promise<Map<string, bigint>> {
      const out = new Map<string, bigint>();
      for (const log of await w.c.market.queryFilter(w.c.market.filters.Credited())) {
        const call = w.c.market.interface.parseTransaction(await log.getTransaction());
        if (call?.name !== "claimDefaultShare" || call.args[0] !== taskB) continue;
        out.set(getAddress(log.args.account), (out.get(getAddress(log.args.account)) ?? 0n) + log.args.amount);
      }
      return out;
    }

    it("defaults the task with no model revealed: the publisher gets its reward back, the miners their bonds and the publisher bond, to the wei", async () => {
      const t = await w.c.market.getTask(taskB);
      expect(reportB.phase).to.equal("defaulted");
      expect(t.testUnlockedAt).to.equal(0n);
      expect(reportB.submissions).to.deep.equal([]);
      const expected = expectedDefault({
        publisher: t.publisher,
        treasury: await w.c.market.treasury(),
        reward: t.reward,
        publisherBond: t.publisherBond,
        minerBond: t.minerBond,
        committers: miners.map((m) => m.wallet.address),
      });
      expect(plain(credits(reportB))).to.deep.equal(plain(expected.atDefault));
      expect(plain(await defaultClaims())).to.deep.equal(plain(expected.claims));
      expect(reportB.learningBlock).to.equal(undefined);
      expect(await w.c.market.chainHeight()).to.equal(1n);
    });

    it("got every agent through an endpoint that failed a share of its requests", () => {
      expect(w.flaky.totalInjected).to.be.greaterThan(10);
      const failed = w.supervisor.processes.filter((p) => p.child.exitCode !== null && p.child.exitCode !== 0 && p.child.signalCode === null);
      expect(failed.map((p) => `${p.name}: ${p.tail.at(-1)}`)).to.deep.equal([]);
    });
  });
});
