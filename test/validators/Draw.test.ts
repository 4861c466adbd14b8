import { expect } from "chai";
import { network } from "hardhat";
import { deployWorld, draw, drawDelay, ONE, stakeAll, taskToAttesting, type World } from "./helpers/world.js";

/**
 * The committee draw as an attacker sees it (issue 9, findings 2 and 8): grinding the draw in one
 * transaction, drawing at a chosen time or from a chosen account, and a redraw that reseats round 0.
 */
const conn = await network.create();
const { ethers, networkHelpers } = conn;

async function world(): Promise<World> {
  const w = await deployWorld(conn);
  // ten honest validators with 2 ETH each (accounts 5..14)
  await stakeAll(w, w.accounts.slice(5, 15), Array(10).fill(2n * ONE));
  return w;
}

/** A task past its reveal window with two revealed models from non-validators, its draw requested. */
async function requested(w: World) {
  const a = w.accounts;
  const run = await taskToAttesting(w, a[0]!, [
    { signer: a[1]!, reveal: true },
    { signer: a[2]!, reveal: true },
  ]);
  await w.settlement.connect(a[3]!).drawCommittee(run.taskId);
  return run;
}

describe("Committee draw (attacks)", () => {
  it("test_drawCommittee_grinderTopsUpAndDrawsInOneTransaction_doesNotChangeTheCommittee", async () => {
    const w = await networkHelpers.loadFixture(world);
    const grinder = await ethers.deployContract("DrawGrinderAttack", [await w.registry.getAddress(), await w.settlement.getAddress()]);
    // the sybil holds 2 of 22 ETH (9 %), staked before the task
    await grinder.getFunction("stake")({ value: 2n * ONE });
    const run = await requested(w);
    await networkHelpers.mine(Number(drawDelay));

    const before = await networkHelpers.takeSnapshot();
    await w.settlement.connect(w.accounts[4]!).drawCommittee(run.taskId);
    const honest = [...(await w.settlement.committee(run.taskId, 0n))];
    await before.restore();

    // 200 ETH topped up in the draw transaction: under the old draw the sybil took nearly every seat
    await grinder.getFunction("topUpAndDraw")(run.taskId, { value: 200n * ONE });
    const ground = [...(await w.settlement.committee(run.taskId, 0n))];
    expect(ground).to.deep.equal(honest);
    expect(honest).to.have.length(5);
  });

  it("test_drawCommittee_anotherCallerOrALaterBlock_drawsTheSameCommittee", async () => {
    const w = await networkHelpers.loadFixture(world);
    const run = await requested(w);
    await networkHelpers.mine(Number(drawDelay));
    const before = await networkHelpers.takeSnapshot();
    await w.settlement.connect(w.accounts[4]!).drawCommittee(run.taskId);
    const first = [...(await w.settlement.committee(run.taskId, 0n))];
    await before.restore();
    // 200 blocks later (the hash is still readable), from a committee candidate itself
    await networkHelpers.mine(200);
    await w.settlement.connect(w.accounts[9]!).drawCommittee(run.taskId);
    expect([...(await w.settlement.committee(run.taskId, 0n))]).to.deep.equal(first);
  });

  it("test_drawCommittee_roundOneAfterAMissedQuorum_seatsNoRoundZeroMember", async () => {
    const w = await networkHelpers.loadFixture(world);
    const a = w.accounts;
    const run = await taskToAttesting(w, a[0]!, [
      { signer: a[1]!, reveal: true },
      { signer: a[2]!, reveal: true },
    ]);
    const round0 = await draw(w, run.taskId);
    expect(round0).to.have.length(5);
    // nobody attests: round 0 misses its quorum and finalize requests round 1
    await networkHelpers.time.increase(1201);
    await expect(w.settlement.finalize(run.taskId)).to.emit(w.settlement, "QuorumMissed");
    const round1 = await draw(w, run.taskId);
    expect(round1).to.have.length(5);
    for (const m of round1) expect(round0).to.not.include(m);
  });
});
