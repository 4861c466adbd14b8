import { expect } from "chai";
import { dueMarketCall, roundFinalizable } from "../../../agents/keeper/due.js";
import { PHASE } from "../../../agents/protocol/phases.js";

type Task = Parameters<typeof dueMarketCall>[0];
type Round = Parameters<typeof roundFinalizable>[0];

/** The fields of `getTask` the keeper reads; the chain's other fields play no part here. */
const task = (fields: Partial<Record<"phase" | "deadline" | "commitDeadline" | "testKeyDeadline" | "revealDeadline" | "testUnlockedAt", bigint>>): Task =>
  ({ phase: PHASE.Queued, deadline: 0n, commitDeadline: 0n, testKeyDeadline: 0n, revealDeadline: 0n, testUnlockedAt: 0n, ...fields }) as unknown as Task;
const round = (fields: Partial<Record<"size" | "commits" | "reveals" | "commitDeadline" | "revealDeadline", bigint>>): Round =>
  ({ size: 5n, commits: 0n, reveals: 0n, commitDeadline: 100n, revealDeadline: 200n, ...fields }) as unknown as Round;
const never = async () => expect.fail("the seed is asked about only for a started task within its deadline");

describe("agents/keeper due calls", function () {
  it("expires a queued task only after its queue expiry", async () => {
    expect(await dueMarketCall(task({ phase: PHASE.Queued, deadline: 100n }), 100n, never)).to.equal(undefined);
    expect(await dueMarketCall(task({ phase: PHASE.Queued, deadline: 100n }), 101n, never)).to.equal("expireQueued");
  });

  it("times out a started task's training keys after its deadline, and fixes its seed before that when fixSeed would act", async () => {
    expect(await dueMarketCall(task({ phase: PHASE.Started, deadline: 100n }), 101n, never)).to.equal("timeoutTrainingKeys");
    expect(await dueMarketCall(task({ phase: PHASE.Started, deadline: 100n }), 50n, async () => true)).to.equal("fixSeed");
    expect(await dueMarketCall(task({ phase: PHASE.Started, deadline: 100n }), 50n, async () => false)).to.equal(undefined);
  });

  it("opens the default path only after both the test-key and the reveal windows, and never once test keys are out", async () => {
    const withheld = task({ phase: PHASE.Revealing, commitDeadline: 50n, testKeyDeadline: 120n, revealDeadline: 150n });
    expect(await dueMarketCall(withheld, 150n, never)).to.equal(undefined);
    expect(await dueMarketCall(withheld, 151n, never)).to.equal("timeoutTestKeys");
    expect(await dueMarketCall(task({ phase: PHASE.Revealing, commitDeadline: 50n, testKeyDeadline: 120n, revealDeadline: 150n, testUnlockedAt: 60n }), 500n, never)).to.equal(undefined);
  });

  it("finalizes a round once all revealed, after its reveal window, or at a missed commit quorum", () => {
    expect(roundFinalizable(round({ commits: 5n, reveals: 5n }), 10n)).to.equal(true);
    expect(roundFinalizable(round({ commits: 5n, reveals: 3n }), 200n)).to.equal(false);
    expect(roundFinalizable(round({ commits: 5n, reveals: 3n }), 201n)).to.equal(true);
    // quorum of 5 is 4 commits: 3 fail once the commit window has passed
    expect(roundFinalizable(round({ commits: 3n }), 100n)).to.equal(false);
    expect(roundFinalizable(round({ commits: 3n }), 101n)).to.equal(true);
    expect(roundFinalizable(round({ commits: 4n }), 101n)).to.equal(false);
  });
});
