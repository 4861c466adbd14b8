// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ISettlement
/// @notice Committee attestation and settlement of a task: draw, commit/reveal scores, medians, quorum,
///         winner and ommers, payouts through `TaskMarket.settle`, slashing, block rewards.
interface ISettlement {
    /// @notice Settlement parameters, changed only by the owner within documented bounds.
    /// @param blockReward RewardToken minted per learning block (≤ 1e24).
    /// @param attestCommitWindow Seconds after the draw for `commitScores` (60 s .. 7 days).
    /// @param attestRevealWindow Seconds after the commit window for `revealScores` (60 s .. 7 days).
    /// @param committeeSize Wanted committee size (1..31).
    /// @param epsilon Score margin (bps) within which the earliest commitment wins (≤ 10,000).
    /// @param maxOmmers Most ommers per task (≤ 8).
    /// @param validatorShareBps Share of the reward pool for validators who agreed with the median.
    /// @param ommerShareBps Share of the reward pool split among the ommers (with validatorShareBps ≤ 5,000).
    /// @param slashNoRevealBps Stake fraction taken from a member who did not reveal (≤ 10,000).
    /// @param slashDeviationBps Stake fraction taken from a member whose scores deviate (≤ 10,000).
    /// @param deviationTolerance Largest |score − median| (bps) that is not a deviation (≤ 10,000).
    /// @param ommerBlockShareBps Share of `blockReward` split among the ommers (≤ 10,000).
    /// @param escapeDelay Seconds after the current round's last deadline after which anyone may `escape`
    ///        a task that was not finalized (1 day .. 365 days).
    struct SettlementParams {
        uint256 blockReward;
        uint64 attestCommitWindow;
        uint64 attestRevealWindow;
        uint16 committeeSize;
        uint16 epsilon;
        uint16 maxOmmers;
        uint16 validatorShareBps;
        uint16 ommerShareBps;
        uint16 slashNoRevealBps;
        uint16 slashDeviationBps;
        uint16 deviationTolerance;
        uint16 ommerBlockShareBps;
        uint64 escapeDelay;
    }

    /// @notice Where a task stands in settlement.
    enum Status {
        None,
        Attesting,
        Finalized
    }

    /// @notice One draw round (0, and 1 after a missed quorum).
    /// @param requestBlock Block of the draw request (fixes the registry's stake snapshot and randomness request).
    /// @param expiresAt Time after which an undrawn round counts as a missed quorum.
    /// @param commitDeadline Last second of `commitScores` (0 until drawn).
    /// @param revealDeadline Last second of `revealScores` (0 until drawn).
    /// @param size Committee size (0 until drawn).
    /// @param commits Members who committed.
    /// @param reveals Members who revealed.
    /// @param submissions Revealed submissions of the task, fixed at the draw (scores per reveal).
    struct Round {
        uint64 requestBlock;
        uint64 expiresAt;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint16 size;
        uint16 commits;
        uint16 reveals;
        uint16 submissions;
    }

    /// @notice Emitted when a draw round is requested (round 0 at the first draw, with the test-unlock block).
    /// @param taskId The task.
    /// @param round The round.
    /// @param requestBlock Block of the request.
    event CommitteeRequested(uint256 indexed taskId, uint256 indexed round, uint256 requestBlock);
    /// @notice Emitted when a committee is drawn for a round.
    /// @param taskId The task.
    /// @param round The round.
    /// @param members The committee.
    /// @param commitDeadline Last second of the commit window.
    /// @param revealDeadline Last second of the reveal window.
    event CommitteeSeated(
        uint256 indexed taskId, uint256 indexed round, address[] members, uint256 commitDeadline, uint256 revealDeadline
    );
    /// @notice Emitted when a member commits to its scores.
    /// @param taskId The task.
    /// @param round The round.
    /// @param validator The member.
    event ScoresCommitted(uint256 indexed taskId, uint256 indexed round, address indexed validator);
    /// @notice Emitted when a member reveals its scores.
    /// @param taskId The task.
    /// @param round The round.
    /// @param validator The member.
    /// @param scores One score (bps) per revealed submission, in reveal order.
    event ScoresRevealed(uint256 indexed taskId, uint256 indexed round, address indexed validator, uint16[] scores);
    /// @notice Emitted when a round ends without quorum.
    /// @param taskId The task.
    /// @param round The round.
    /// @param reveals Reveals received.
    /// @param quorum Reveals required.
    event QuorumMissed(uint256 indexed taskId, uint256 indexed round, uint256 reveals, uint256 quorum);
    /// @notice Emitted when a task is finalized.
    /// @param taskId The task.
    /// @param outcome The market outcome (`ITaskMarket.Outcome` as uint8).
    /// @param winner Index of the winning submission in reveal order (type(uint256).max for none).
    /// @param medians Median score per revealed submission (empty when unvalidated).
    event TaskFinalized(uint256 indexed taskId, uint8 outcome, uint256 winner, uint16[] medians);
    /// @notice Emitted when block rewards are minted for a learning block.
    /// @param taskId The task.
    /// @param publisherAmount Minted to the publisher (DLBC eq. 5).
    /// @param winnerAmount Minted to the winner (eq. 6).
    /// @param ommerAmount Minted to each ommer.
    event BlockRewarded(uint256 indexed taskId, uint256 publisherAmount, uint256 winnerAmount, uint256 ommerAmount);
    /// @notice Emitted when a learning block earns no block reward (self-dealing guard).
    /// @param taskId The task.
    /// @param distinctMiners Miners who revealed.
    /// @param winnerIsPublisher Whether the winner is the publisher.
    event BlockRewardWithheld(uint256 indexed taskId, uint256 distinctMiners, bool winnerIsPublisher);
    /// @notice Emitted when the committee's median for the first submission is the invalid-data sentinel
    ///         (`type(uint16).max`): the task settles `NoValidSubmission`, every revealed miner gets its
    ///         bond back and an equal share of the reward and the publisher's bond (less the validators'
    ///         fee), the publisher nothing.
    /// @param taskId The task.
    event TaskDataInvalid(uint256 indexed taskId);
    /// @notice Emitted when a stalled task is settled through the escape hatch.
    /// @param taskId The task.
    /// @param round The round it stalled in.
    event TaskEscaped(uint256 indexed taskId, uint256 indexed round);
    /// @notice Emitted when the owner sets a token's mint rate.
    /// @param token The reward token (address(0) for ETH).
    /// @param rate PODL-wei minted at most per unit of reward, UD60x18.
    event MintRateSet(address indexed token, uint256 rate);
    /// @notice Emitted when the parameters change.
    /// @param fromTaskId First task they apply to (tasks posted before keep theirs; 0 at deployment).
    /// @param params The new parameters.
    event SettlementParamsSet(uint256 indexed fromTaskId, SettlementParams params);

    /// @notice Thrown when a parameter is out of bounds.
    /// @param name The parameter's name as a short string (`ethers.decodeBytes32String`; a string would
    ///        cost Settlement the code bytes it needs under the 24 KiB limit).
    /// @param value The rejected value.
    error SettlementParamOutOfBounds(bytes32 name, uint256 value);
    /// @notice Thrown when the task's reveal window is not over or its test data is not unlocked.
    /// @param taskId The task.
    error TaskNotAwaitingAttestation(uint256 taskId);
    /// @notice Thrown when the task was already finalized.
    /// @param taskId The task.
    error TaskAlreadyFinalized(uint256 taskId);
    /// @notice Thrown when a task has no revealed submission, so there is nothing to attest.
    /// @param taskId The task.
    error NothingToAttest(uint256 taskId);
    /// @notice Thrown when the current round already has a committee.
    /// @param taskId The task.
    /// @param round The round.
    error CommitteeAlreadyDrawn(uint256 taskId, uint256 round);
    /// @notice Thrown when the current round has no committee yet.
    /// @param taskId The task.
    /// @param round The round.
    error CommitteeNotDrawn(uint256 taskId, uint256 round);
    /// @notice Thrown when an undrawn round is past its expiry (finalize moves on instead).
    /// @param taskId The task.
    /// @param round The round.
    /// @param expiresAt The expiry.
    error RoundExpired(uint256 taskId, uint256 round, uint256 expiresAt);
    /// @notice Thrown when the caller is not on the current committee.
    /// @param taskId The task.
    /// @param caller The caller.
    error AttesterNotMember(uint256 taskId, address caller);
    /// @notice Thrown when a member commits twice.
    /// @param taskId The task.
    /// @param validator The member.
    error AttesterAlreadyCommitted(uint256 taskId, address validator);
    /// @notice Thrown when a member reveals without a commitment.
    /// @param taskId The task.
    /// @param validator The member.
    error AttesterNotCommitted(uint256 taskId, address validator);
    /// @notice Thrown when a member reveals twice.
    /// @param taskId The task.
    /// @param validator The member.
    error AttesterAlreadyRevealed(uint256 taskId, address validator);
    /// @notice Thrown when a commitment comes after the commit window.
    /// @param taskId The task.
    /// @param deadline The commit deadline.
    error AttestCommitClosed(uint256 taskId, uint256 deadline);
    /// @notice Thrown when a reveal comes before every member committed and before the commit deadline,
    ///         or in a round whose commits missed the quorum (its reveal phase never opens).
    /// @param taskId The task.
    /// @param opensAfter The commit deadline.
    error AttestRevealNotOpen(uint256 taskId, uint256 opensAfter);
    /// @notice Thrown when a reveal comes after the reveal window.
    /// @param taskId The task.
    /// @param deadline The reveal deadline.
    error AttestRevealClosed(uint256 taskId, uint256 deadline);
    /// @notice Thrown when the scores array does not have one entry per revealed submission.
    /// @param length Entries given.
    /// @param expected Revealed submissions.
    error ScoresLengthMismatch(uint256 length, uint256 expected);
    /// @notice Thrown when a score exceeds 10,000 bps.
    /// @param index Position in the array.
    /// @param score The score.
    error ScoreOutOfRange(uint256 index, uint256 score);
    /// @notice Thrown when revealed scores and salt do not hash to the member's commitment.
    /// @param taskId The task.
    /// @param validator The member.
    error ScoresCommitmentMismatch(uint256 taskId, address validator);
    /// @notice Thrown when `escape` comes before the escape delay has passed.
    /// @param taskId The task.
    /// @param readyAt First second at which it may be called.
    error EscapeTooEarly(uint256 taskId, uint256 readyAt);
    /// @notice Thrown when `finalize` comes before the round's reveal window is over (and not all revealed).
    /// @param taskId The task.
    /// @param readyAt First second at which it may be called.
    error FinalizeTooEarly(uint256 taskId, uint256 readyAt);

    /// @notice Requests, then draws, the current round's committee (anyone).
    /// @dev The first call after the reveal window requests round 0 (`CommitteeRequested`); round 1 is
    ///      requested by the `finalize` that saw round 0 miss its quorum. A later call draws once the
    ///      registry's randomness is available (`DrawTooEarly` before), or renews expired randomness.
    /// @param taskId The task.
    function drawCommittee(uint256 taskId) external;

    /// @notice Commits to scores: `commitment = scoresCommitment(taskId, round, msg.sender, scores, salt)`.
    /// @param taskId The task.
    /// @param commitment The commitment.
    function commitScores(uint256 taskId, bytes32 commitment) external;

    /// @notice Reveals scores, one uint16 (bps, 0 = invalid) per revealed submission in reveal order;
    ///         `type(uint16).max` for every submission when the task's test data is invalid.
    /// @param taskId The task.
    /// @param scores The scores.
    /// @param salt The commitment's salt.
    function revealScores(uint256 taskId, uint16[] calldata scores, bytes32 salt) external;

    /// @notice Settles the task (anyone): medians, quorum, slashing, payouts, learning block, rewards.
    /// @dev Without quorum in round 0 it slashes the silent members and requests round 1 instead. A round
    ///      whose commits missed the quorum fails at its commit deadline, before any score is revealed.
    ///      With medians, a revealed submission whose median is 0 (judged invalid: a copy, a failed
    ///      check) forfeits its miner bond, as an unrevealed one does; every other revealed miner gets its
    ///      bond back. Forfeited bonds go in equal parts to the validators who agreed with the median
    ///      (they paid to evaluate the junk), to the treasury when nobody did; never to the winner.
    ///      Unvalidated (no medians) returns every revealed bond.
    /// @param taskId The task.
    function finalize(uint256 taskId) external;

    /// @notice Escape hatch for a stalled attestation (anyone): `escapeDelay` after the current round's
    ///         last deadline (its reveal deadline once drawn, its expiry while undrawn), a task that was
    ///         not finalized settles as Unvalidated whatever stalled it: the reward and the publisher's
    ///         bond back to the publisher, revealed miners' bonds back, unrevealed ones to the treasury;
    ///         every committee of the task is released; nothing is minted, nobody is slashed.
    /// @param taskId The task.
    function escape(uint256 taskId) external;

    /// @notice Sets the parameters (owner), within bounds, for tasks posted from now on
    ///         (`fromTaskId = market.taskCount() + 1`); a live task keeps the parameters of its id.
    /// @param params New parameters.
    function setParams(SettlementParams calldata params) external;

    /// @notice Sets how much PODL a task paid in `token` may mint (owner): at most `reward · rate / 1e18`
    ///         in all (publisher, winner and ommers), the DLBC amounts scaled down to fit. A token without a
    ///         rate mints nothing, so sybils paying a worthless token mint nothing either.
    /// @param token The reward token (address(0) for ETH).
    /// @param rate PODL-wei per token unit, UD60x18 (≤ 1e36).
    function setMintRate(address token, uint256 rate) external;

    /// @notice A token's mint rate (0 when unlisted).
    /// @param token The reward token (address(0) for ETH).
    /// @return rate PODL-wei per token unit, UD60x18.
    function mintRate(address token) external view returns (uint256 rate);

    /// @notice The commitment a validator must post: bound to this contract, the chain, the task, the round
    ///         and the validator, so a commitment of one round opens in no other.
    /// @param taskId The task.
    /// @param round The round.
    /// @param validator The validator.
    /// @param scores The scores.
    /// @param salt A secret salt.
    /// @return commitment `keccak256(abi.encode(address(this), block.chainid, taskId, round, validator, scores, salt))`.
    function scoresCommitment(uint256 taskId, uint256 round, address validator, uint16[] calldata scores, bytes32 salt)
        external
        view
        returns (bytes32 commitment);

    /// @notice A task's settlement status and current round.
    /// @param taskId The task.
    /// @return status The status.
    /// @return round The current round.
    function statusOf(uint256 taskId) external view returns (Status status, uint256 round);

    /// @notice A round's record.
    /// @param taskId The task.
    /// @param round The round.
    /// @return record The record.
    function getRound(uint256 taskId, uint256 round) external view returns (Round memory record);

    /// @notice A round's committee.
    /// @param taskId The task.
    /// @param round The round.
    /// @return members The committee in draw order.
    function committee(uint256 taskId, uint256 round) external view returns (address[] memory members);

    /// @notice A member's revealed scores (empty until revealed).
    /// @param taskId The task.
    /// @param round The round.
    /// @param validator The member.
    /// @return scores The scores.
    function scoresOf(uint256 taskId, uint256 round, address validator) external view returns (uint16[] memory scores);

    /// @notice The parameters that apply to a task: the newest entry whose fromTaskId ≤ taskId.
    /// @param taskId The task.
    /// @return params The parameters.
    function paramsOf(uint256 taskId) external view returns (SettlementParams memory params);

    /// @notice Newest parameters (those of tasks posted from now on).
    /// @return params The parameters.
    function params() external view returns (SettlementParams memory params);
}
