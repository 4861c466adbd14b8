// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRandomnessSource} from "./IRandomnessSource.sol";

/// @title IValidatorRegistry
/// @notice Validator stakes, unbonding, the stake-weighted committee draw and slashing.
/// @dev Only the settlement module (set once by the owner) may request and draw, unlock or slash. A draw is
///      requested first (the stake snapshot and the randomness request are fixed then) and drawn once the
///      randomness source answers; the committee depends on nothing the drawer controls.
interface IValidatorRegistry {
    /// @notice Registry parameters, changed only by the owner within documented bounds.
    /// @param minStake Smallest stake that counts as bonded (in the stake token's units, > 0).
    /// @param unbondingPeriod Seconds between `requestUnbond` and `withdraw` (≤ 60 days).
    /// @param warmupBlocks A draw weighs stakes as of this many blocks before its request (1..50,400): new
    ///        stake counts only after this warm-up.
    /// @param maxValidators Bound on validators in the draw list (bonded, not unbonding), which bounds the
    ///        draw's gas (1..512).
    struct RegistryParams {
        uint256 minStake;
        uint64 unbondingPeriod;
        uint32 warmupBlocks;
        uint32 maxValidators;
    }

    /// @notice A committee draw's request.
    /// @param requestBlock Block of the request: the stakes of `requestBlock - warmupBlocks` weigh the draw.
    /// @param randomnessId The randomness source's request (renewed if it expired before the draw).
    struct DrawRequest {
        uint64 requestBlock;
        uint256 randomnessId;
    }

    /// @notice One validator's stake record.
    /// @param stake Stake held for the validator (slashable until withdrawn).
    /// @param unbondingAt Time `requestUnbond` was called; 0 while bonded.
    /// @param openCommittees Committees the validator sits on that are not finalized.
    /// @param registered Whether the validator is in the draw list (it leaves it when it requests unbonding).
    struct Validator {
        uint256 stake;
        uint64 unbondingAt;
        uint32 openCommittees;
        bool registered;
    }

    /// @notice Emitted when a validator stakes or tops up.
    /// @param validator The validator.
    /// @param amount Amount added.
    /// @param stake Stake after the deposit.
    event Staked(address indexed validator, uint256 amount, uint256 stake);
    /// @notice Emitted when a validator asks to leave.
    /// @param validator The validator.
    /// @param withdrawableAt Earliest time of `withdraw`.
    event UnbondRequested(address indexed validator, uint256 withdrawableAt);
    /// @notice Emitted when a validator takes its stake out.
    /// @param validator The validator.
    /// @param amount Amount paid out.
    event Withdrawn(address indexed validator, uint256 amount);
    /// @notice Emitted when slashing proceeds are withdrawn.
    /// @param account The recipient.
    /// @param amount Amount paid out.
    event CreditWithdrawn(address indexed account, uint256 amount);
    /// @notice Emitted when a committee is drawn.
    /// @param taskId The task.
    /// @param round Draw round (0, or 1 after a missed quorum).
    /// @param members Members in draw order.
    /// @param seed The seed the draw used (the source's randomness mixed with task and round).
    event CommitteeDrawn(uint256 indexed taskId, uint256 indexed round, address[] members, bytes32 seed);
    /// @notice Emitted when a draw is requested, or its expired randomness is requested again.
    /// @param taskId The task.
    /// @param round Draw round.
    /// @param requestBlock Block of the first request (fixes the stake snapshot).
    /// @param randomnessId The randomness source's request.
    event DrawRequested(uint256 indexed taskId, uint256 indexed round, uint256 requestBlock, uint256 randomnessId);
    /// @notice Emitted when a committee's members are released.
    /// @param taskId The task.
    /// @param round Draw round.
    event CommitteeReleased(uint256 indexed taskId, uint256 indexed round);
    /// @notice Emitted when a validator is slashed.
    /// @param taskId The task the slash belongs to.
    /// @param validator The slashed validator.
    /// @param amount Amount taken from the stake.
    /// @param recipients Accounts credited with equal parts (the first also takes the rounding dust).
    event Slashed(uint256 indexed taskId, address indexed validator, uint256 amount, address[] recipients);
    /// @notice Emitted when the parameters change.
    /// @param params The new parameters.
    event RegistryParamsSet(RegistryParams params);
    /// @notice Emitted once, when the settlement module is set.
    /// @param settlement The settlement module.
    event SettlementSet(address indexed settlement);

    /// @notice Thrown when a stake amount is zero.
    error StakeZero();
    /// @notice Thrown when ETH sent does not match the amount (or ETH comes with an ERC20 stake).
    /// @param amount Declared amount.
    /// @param value ETH sent.
    error StakeValueMismatch(uint256 amount, uint256 value);
    /// @notice Thrown when the token delivered less than the amount (fee-on-transfer tokens).
    /// @param expected Declared amount.
    /// @param received Amount that arrived.
    error StakeTransferShort(uint256 expected, uint256 received);
    /// @notice Thrown when a first stake is below `minStake`.
    /// @param stake Resulting stake.
    /// @param minStake Required minimum.
    error StakeBelowMinimum(uint256 stake, uint256 minStake);
    /// @notice Thrown when the registry already holds `maxValidators` validators.
    /// @param maxValidators The bound.
    error RegistryFull(uint256 maxValidators);
    /// @notice Thrown when an unbonding validator tries to stake or unbond again.
    /// @param validator The validator.
    error ValidatorUnbonding(address validator);
    /// @notice Thrown when the caller has no stake.
    /// @param validator The caller.
    error ValidatorNotStaked(address validator);
    /// @notice Thrown when `withdraw` comes before `requestUnbond`.
    /// @param validator The caller.
    error UnbondNotRequested(address validator);
    /// @notice Thrown when `withdraw` comes before the unbonding period is over.
    /// @param validator The caller.
    /// @param withdrawableAt Earliest time of `withdraw`.
    error UnbondingNotOver(address validator, uint256 withdrawableAt);
    /// @notice Thrown when a validator on an open committee tries to complete unbonding.
    /// @param validator The caller.
    /// @param openCommittees Committees still open.
    error ValidatorOnCommittee(address validator, uint256 openCommittees);
    /// @notice Thrown when an account with no credit calls `withdrawCredit`.
    /// @param account The caller.
    error NoCredit(address account);
    /// @notice Thrown when a restricted function is called by anyone but the settlement module.
    /// @param caller The caller.
    error CallerNotSettlement(address caller);
    /// @notice Thrown when the settlement module is set twice or to zero.
    error SettlementAlreadySet();
    /// @notice Thrown when a parameter is out of bounds.
    /// @param name The parameter.
    /// @param value The rejected value.
    error RegistryParamOutOfBounds(string name, uint256 value);
    /// @notice Thrown when a draw comes before its randomness is available.
    /// @param taskId The task.
    /// @param round Draw round.
    /// @param randomnessId The pending randomness request.
    error DrawTooEarly(uint256 taskId, uint256 round, uint256 randomnessId);
    /// @notice Thrown when a draw was not requested.
    /// @param taskId The task.
    /// @param round Draw round.
    error DrawNotRequested(uint256 taskId, uint256 round);
    /// @notice Thrown when a draw is requested twice.
    /// @param taskId The task.
    /// @param round Draw round.
    error DrawAlreadyRequested(uint256 taskId, uint256 round);
    /// @notice Thrown when the registry is deployed without a randomness source.
    error RandomnessSourceZero();
    /// @notice Thrown when fewer validators are eligible than the committee needs.
    /// @param eligible Bonded validators that are not excluded.
    /// @param required The minimum committee.
    error CommitteeTooSmall(uint256 eligible, uint256 required);
    /// @notice Thrown when a slash fraction exceeds 100 %.
    /// @param bps The fraction in basis points.
    error SlashFractionTooLarge(uint256 bps);
    /// @notice Thrown when a slash has no recipients.
    error SlashNoRecipients();

    /// @notice Stakes `amount` (ETH: `msg.value` must equal it) or tops up an existing stake.
    /// @param amount Amount to add.
    function stake(uint256 amount) external payable;

    /// @notice Starts unbonding the whole stake: the validator leaves the draw list at once (and draws requested
    ///         before, whose snapshot still weighs it); `stake` after `withdraw` adds it again.
    function requestUnbond() external;

    /// @notice Pays the stake out once `unbondingPeriod` has passed and no committee is open.
    function withdraw() external;

    /// @notice Pays out slashing proceeds credited to the caller.
    function withdrawCredit() external;

    /// @notice Sets the settlement module, once (owner).
    /// @param settlement The settlement module.
    function setSettlement(address settlement) external;

    /// @notice Replaces the parameters (owner), within bounds.
    /// @param params New parameters.
    function setParams(RegistryParams calldata params) external;

    /// @notice Requests the draw of a task round's committee: fixes its stake snapshot and asks the randomness
    ///         source for its seed (settlement only).
    /// @param taskId The task.
    /// @param round Draw round.
    function requestDraw(uint256 taskId, uint256 round) external;

    /// @notice Draws a requested committee once its randomness is available and locks its members.
    /// @dev Settlement only. Weights are the stakes at `requestBlock - warmupBlocks` of the validators still
    ///      in the draw list; the seed is `keccak256(randomness, taskId, round)`; selection is `Sortition`
    ///      (the smallest weighted clocks), so the result does not depend on the caller or the block. When the
    ///      randomness expired, requests it again and returns no members.
    /// @param taskId The task.
    /// @param round Draw round.
    /// @param size Wanted committee size (fewer when fewer are eligible, but never below `minSize`).
    /// @param minSize Smallest acceptable committee.
    /// @param exclude Accounts that may not sit on it (publisher and miners of the task, earlier rounds).
    /// @return members The committee, in draw order; empty when the randomness was renewed.
    function drawCommittee(uint256 taskId, uint256 round, uint256 size, uint256 minSize, address[] calldata exclude)
        external
        returns (address[] memory members);

    /// @notice Releases a committee's members (settlement only).
    /// @param taskId The task.
    /// @param round Draw round.
    /// @param members The committee.
    function releaseCommittee(uint256 taskId, uint256 round, address[] calldata members) external;

    /// @notice Takes `bps` of a validator's stake for `taskId` and credits it to `recipients` in equal parts.
    /// @dev Settlement only. At most once per validator and task; a second call returns 0 and changes nothing.
    /// @param taskId The task.
    /// @param validator The validator.
    /// @param bps Fraction of the current stake, in basis points (≤ 10,000).
    /// @param recipients Accounts to credit.
    /// @return amount Amount taken.
    function slash(uint256 taskId, address validator, uint256 bps, address[] calldata recipients)
        external
        returns (uint256 amount);

    /// @notice Bonded validators: stake ≥ `minStake` and not unbonding.
    /// @return count Number of bonded validators.
    function bondedCount() external view returns (uint256 count);

    /// @notice A validator's record.
    /// @param validator The validator.
    /// @return record The record.
    function getValidator(address validator) external view returns (Validator memory record);

    /// @notice Slashing proceeds waiting for `withdrawCredit`.
    /// @param account The account.
    /// @return amount The credit.
    function creditOf(address account) external view returns (uint256 amount);

    /// @notice Whether `validator` was slashed for `taskId`.
    /// @param taskId The task.
    /// @param validator The validator.
    /// @return slashed True once slashed.
    function wasSlashed(uint256 taskId, address validator) external view returns (bool slashed);

    /// @notice Computes the committee a draw with this final seed would yield, without locking anyone.
    /// @dev Same selection as `drawCommittee`, at the current stakes; used by the selection-frequency test.
    /// @param drawSeed The final seed.
    /// @param size Wanted committee size.
    /// @param exclude Accounts that may not sit on it.
    /// @return members The committee.
    function previewDraw(bytes32 drawSeed, uint256 size, address[] calldata exclude)
        external
        view
        returns (address[] memory members);

    /// @notice Counts of how often each validator lands on a committee over `draws` consecutive seeds.
    /// @dev For measuring the draw's fairness in one call; seeds are `keccak256(baseSeed, i)`.
    /// @param baseSeed First seed material.
    /// @param draws Number of draws.
    /// @param size Committee size per draw.
    /// @return validators Registered validators, in list order.
    /// @return hits How often each was drawn.
    function drawFrequencies(bytes32 baseSeed, uint256 draws, uint256 size)
        external
        view
        returns (address[] memory validators, uint256[] memory hits);

    /// @notice Validators in the draw list: staked and not unbonding.
    /// @return validators The list.
    function validators() external view returns (address[] memory validators);

    /// @notice A draw's request (zero when not requested).
    /// @param taskId The task.
    /// @param round Draw round.
    /// @return request The request.
    function drawRequest(uint256 taskId, uint256 round) external view returns (DrawRequest memory request);

    /// @notice Whether a requested draw's randomness is pending, ready or expired (then drawing renews it).
    /// @param taskId The task.
    /// @param round Draw round.
    /// @return status The randomness status.
    function drawStatus(uint256 taskId, uint256 round)
        external
        view
        returns (IRandomnessSource.RandomnessStatus status);

    /// @notice A validator's draw weight at a block: its stake if bonded then, else 0.
    /// @param validator The validator.
    /// @param blockNumber The block.
    /// @return weight The weight.
    function weightAt(address validator, uint256 blockNumber) external view returns (uint256 weight);

    /// @notice The randomness source, chosen at deployment.
    /// @return source The source.
    function randomnessSource() external view returns (address source);

    /// @notice The stake token (address(0) = ETH).
    /// @return token The token.
    function stakeToken() external view returns (address token);

    /// @notice The settlement module (address(0) until set).
    /// @return settlement The module.
    function settlement() external view returns (address settlement);

    /// @notice Current parameters.
    /// @return params The parameters.
    function params() external view returns (RegistryParams memory params);

    /// @notice Total stake plus credits owed, which the registry's balance always covers.
    /// @return owed Sum of all stakes and unpaid credits.
    function totalOwed() external view returns (uint256 owed);
}
