import { AbiCoder, keccak256 } from "ethers";
import { assertBytes32 } from "../protocol/bytes32.js";

const coder = AbiCoder.defaultAbiCoder();

/** What a validator's score commitment binds (DESIGN §3.7, docs/settlement.md "Attestation"). */
export interface ScoresCommitmentInput {
  settlement: string;
  chainId: bigint;
  taskId: bigint;
  /** The committee round (0, or 1 after a missed quorum): a commitment opens in its own round only. */
  round: bigint;
  validator: string;
  scores: readonly number[];
  salt: string;
}

/** Largest score: 100 % accuracy in basis points. */
export const MAX_SCORE_BPS = 10_000;

/**
 * The score attested for every submission when the task's test data is invalid (`Tally.INVALID_DATA`,
 * `type(uint16).max` on chain): the publisher's fault, never the miners'. When the committee's median of
 * the first submission is this value, the task settles against the publisher (docs/settlement.md).
 */
export const INVALID_DATA = 0xffff;

/**
 * `keccak256(abi.encode(settlement, chainId, taskId, round, validator, uint16[] scores, salt))`, what
 * `Settlement.scoresCommitment` returns and `revealScores` recomputes.
 */
export function scoresCommitment(input: ScoresCommitmentInput): string {
  for (const [i, s] of input.scores.entries()) {
    const valid = Number.isInteger(s) && s >= 0 && (s <= MAX_SCORE_BPS || s === INVALID_DATA);
    if (!valid) throw new RangeError(`score ${i} is ${s}; scores are integers 0..${MAX_SCORE_BPS} bps, or ${INVALID_DATA} for invalid test data`);
  }
  return keccak256(
    coder.encode(
      ["address", "uint256", "uint256", "uint256", "address", "uint16[]", "bytes32"],
      [input.settlement, input.chainId, input.taskId, input.round, input.validator, input.scores, assertBytes32(input.salt, "salt")],
    ),
  );
}
