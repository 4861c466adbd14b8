import { expect } from "chai";
import { escapeReadyAt } from "../../../agents/keeper/escape.js";

// The keeper's escape rule against the contract's (Settlement.escape): escapeDelay after the current
// round's last deadline, one second later than the deadline itself.
describe("verifier keeper: escape hatch timing", () => {
  const p = { attestCommitWindow: 100n, attestRevealWindow: 50n, escapeDelay: 86_400n };
  const task = { testUnlockBlock: 7n, revealDeadline: 1_000n };

  it("test_escapeReadyAt_roundZeroNeverOpened_countsFromTheRevealDeadline", () => {
    expect(escapeReadyAt(task, 0n, undefined, p)).to.equal(1_000n + 150n + 86_400n + 1n);
  });

  it("test_escapeReadyAt_drawnRound_countsFromItsRevealDeadline", () => {
    expect(escapeReadyAt(task, 1n, { size: 5n, revealDeadline: 5_000n, expiresAt: 4_000n }, p)).to.equal(5_000n + 86_400n + 1n);
  });

  it("test_escapeReadyAt_undrawnRound_countsFromItsExpiry", () => {
    expect(escapeReadyAt(task, 1n, { size: 0n, revealDeadline: 0n, expiresAt: 4_000n }, p)).to.equal(4_000n + 86_400n + 1n);
  });

  it("test_escapeReadyAt_finalizedOrTestKeysLocked_isNeverDue", () => {
    expect(escapeReadyAt(task, 2n, undefined, p)).to.equal(undefined);
    expect(escapeReadyAt({ ...task, testUnlockBlock: 0n }, 0n, undefined, p)).to.equal(undefined);
  });
});
