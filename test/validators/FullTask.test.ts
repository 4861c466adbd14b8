import { expect } from "chai";
import { network } from "hardhat";
import { attest, bySigner, deployWorld, draw, ONE, stakeAll, taskToAttesting } from "./helpers/world.js";
import { claimAllPosted } from "./helpers/world.js";

const conn = await network.create();
const { ethers } = conn;
const ETH = ethers.ZeroAddress;

/**
 * One task end to end on the real contracts: publisher, five miners (one never reveals, one reveals a
 * model the committee scores 0, one is valid but below the threshold), five validators on the committee
 * (one silent, one deviating, three honest). Every credit, stake, reward token balance and contract
 * balance is checked to the wei, then everyone withdraws.
 */
describe("Full task with a five-validator committee", () => {
  it("settles with exact payouts, slashes, block rewards and withdrawals", async () => {
    const w = await deployWorld(conn);
    const a = w.accounts;
    const publisher = a[0]!;
    const [m1, m2, m3, m4, copier] = [a[1]!, a[2]!, a[3]!, a[4]!, a[10]!];
    const validators = a.slice(5, 10);
    const [silent, deviating, ...honest] = validators;
    await stakeAll(w, validators, Array(5).fill(2n * ONE));

    const run = await taskToAttesting(w, publisher, [
      { signer: m1, reveal: true },
      { signer: m2, reveal: true },
      { signer: m3, reveal: true },
      { signer: m4, reveal: false },
      { signer: copier, reveal: true },
    ]);
    expect(run.reward).to.equal(10n * ONE);
    expect(run.publisherBond).to.equal(ONE / 2n);
    expect(run.minerBond).to.equal(ONE);

    // four queued tasks after the start: they do not move the publisher's block share (queue at start: 0)
    for (let i = 0; i < 4; i++) {
      await w.market.connect(a[14]!).postTask(
        {
          token: ETH,
          reward: ONE,
          datasetRoot: ethers.id(`queued-${i}`),
          specCid: "bafkreiqueued",
          shardCount: 10,
          testShards: 2,
          accuracyThreshold: 8000,
          maxSubmissions: 4,
          trainWindow: 600,
          modelBytes: 1n,
          dataBytes: 1n,
          flops: 1n,
        },
        { value: ONE + ONE / 20n },
      );
    }

    const members = bySigner(a, await draw(w, run.taskId));
    expect(members.map((m) => m.address).sort()).to.deep.equal(validators.map((v) => v.address).sort());
    await attest(w, run.taskId, [
      { signer: silent!, scores: [9000n, 8800n, 7000n, 0n], reveal: false },
      { signer: deviating!, scores: [9000n, 7000n, 7000n, 0n], reveal: true },
      ...honest.map((h) => ({ signer: h, scores: [9000n, 8800n, 7000n, 0n], reveal: true })),
    ]);
    const round = await w.settlement.getRound(run.taskId, 0n);
    await w.helpers.time.increaseTo(round.revealDeadline + 1n);
    await expect(w.settlement.finalize(run.taskId))
      .to.emit(w.settlement, "TaskFinalized")
      .withArgs(run.taskId, 0n, 0n, [9000n, 8800n, 7000n, 0n]);

    // market credits: pool 15.5 ETH; three bonds back (m3 is below the threshold but valid); reward pool
    // P = the 10 ETH reward; the forfeited bonds F = 2 ETH (m4's unrevealed bond + the copier's, median 0)
    // go in equal parts to the three agreeing validators, not to the winner (issue 9 finding 7)
    const vPart = 166_666_666_666_666_666n; // ⌊10 ETH · 5 % / 3⌋
    const fPart = 666_666_666_666_666_666n; // ⌊2 ETH / 3⌋, the first agreeing member (committee order) takes the dust 2
    const winner = 9_500_000_000_000_000_002n; // 1 bond + 10 − 3·vPart − 1
    const agreeingInOrder = members.filter((m) => honest.some((h) => h.address === m.address));
    const credits: [string, bigint][] = [
      [publisher.address, 500_000_000_000_000_000n],
      [m1.address, winner],
      [m2.address, 2_000_000_000_000_000_000n], // bond + ommer share 10 % of 10
      [m3.address, ONE],
      [m4.address, 0n],
      [copier.address, 0n],
      [silent!.address, 0n],
      [deviating!.address, 0n],
      ...agreeingInOrder.map((h, i): [string, bigint] => [h.address, vPart + fPart + (i === 0 ? 2n : 0n)]),
    ];
    let sum = 0n;
    for (const [account, amount] of credits) {
      await claimAllPosted(w);
      expect(await w.market.creditOf(account, ETH), account).to.equal(amount);
      sum += amount;
    }
    expect(sum).to.equal(15_500_000_000_000_000_000n);
    const marketAddress = await w.market.getAddress();
    expect(await ethers.provider.getBalance(marketAddress)).to.equal(15_500_000_000_000_000_000n + 4n * (ONE + ONE / 20n));

    // slashes: silent 10 % of 2 ETH, deviating 5 % of 2 ETH, split among the honest in committee order
    expect((await w.registry.getValidator(silent!.address)).stake).to.equal(1_800_000_000_000_000_000n);
    expect((await w.registry.getValidator(deviating!.address)).stake).to.equal(1_900_000_000_000_000_000n);
    for (const h of honest) expect((await w.registry.getValidator(h.address)).stake).to.equal(2n * ONE);
    const honestInOrder = members.filter((m) => honest.includes(m));
    expect(await w.registry.creditOf(honestInOrder[0]!.address)).to.equal(100_000_000_000_000_002n);
    expect(await w.registry.creditOf(honestInOrder[1]!.address)).to.equal(99_999_999_999_999_999n);
    expect(await w.registry.creditOf(honestInOrder[2]!.address)).to.equal(99_999_999_999_999_999n);
    const registryAddress = await w.registry.getAddress();
    expect(await ethers.provider.getBalance(registryAddress)).to.equal(10n * ONE);
    expect(await w.registry.totalOwed()).to.equal(10n * ONE);

    // block rewards: 100 PODL at the queue length recorded when the task started (empty: the four tasks
    // were queued after it), so the publisher 100, the winner 0 (issue 9 item 10); one ommer 10 % of 100
    await claimAllPosted(w);
    expect(await w.rewardToken.balanceOf(publisher.address)).to.equal(100n * ONE);
    expect(await w.rewardToken.balanceOf(m1.address)).to.equal(0n);
    expect(await w.rewardToken.balanceOf(m2.address)).to.equal(10n * ONE);
    expect(await w.rewardToken.balanceOf(m3.address)).to.equal(0n);
    expect(await w.rewardToken.balanceOf(copier.address)).to.equal(0n);
    expect(await w.rewardToken.totalSupply()).to.equal(110n * ONE);

    // learning chain
    expect(await w.market.chainHeight()).to.equal(1n);

    // everyone withdraws exactly the credit, the market keeps only the queued escrows
    for (const [account, amount] of credits) {
      if (amount === 0n) continue;
      const signer = a.find((s) => s.address === account)!;
      await expect(w.market.connect(signer).withdraw(ETH)).to.changeEtherBalances(
        ethers,
        [signer, w.market],
        [amount, -amount],
      );
    }
    expect(await ethers.provider.getBalance(marketAddress)).to.equal(4n * (ONE + ONE / 20n));
    for (const h of honestInOrder) {
      const c = await w.registry.creditOf(h.address);
      await expect(w.registry.connect(h).withdrawCredit()).to.changeEtherBalances(ethers, [h, w.registry], [c, -c]);
    }
    expect(await ethers.provider.getBalance(registryAddress)).to.equal(9_700_000_000_000_000_000n);
    expect(await w.registry.totalOwed()).to.equal(9_700_000_000_000_000_000n);

    // the slashed validators can leave with what is left
    await w.registry.connect(silent!).requestUnbond();
    await w.helpers.time.increase(3600);
    await expect(w.registry.connect(silent!).withdraw()).to.changeEtherBalances(
      ethers,
      [silent!, w.registry],
      [1_800_000_000_000_000_000n, -1_800_000_000_000_000_000n],
    );
  });
});
