// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {UD60x18} from "@prb/math/src/UD60x18.sol";
import {IRandomnessSource} from "./interfaces/IRandomnessSource.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";
import {IValidatorRegistry} from "./interfaces/IValidatorRegistry.sol";
import {Commitments} from "./libraries/Commitments.sol";
import {CreditLedger} from "./libraries/CreditLedger.sol";
import {Payouts} from "./libraries/Payouts.sol";
import {Ranking} from "./libraries/Ranking.sol";
import {Split} from "./libraries/Split.sol";
import {TaskQueue} from "./libraries/TaskQueue.sol";

/// @title TaskMarket
/// @notice Queue, escrow, task phases, model commitments and reveals, the credit ledger and the learning
/// chain of PoDL. Settlement is a separate module (see `settle`).
contract TaskMarket is ITaskMarket, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using TaskQueue for TaskQueue.Queue;
    using CreditLedger for CreditLedger.Ledger;

    /// @dev One task in nine slots. `deadline` is the queue expiry while queued, the training-key
    /// deadline once started and the commit deadline once the training keys are out. Stored phases
    /// are Queued, Started, Committing (training keys out), Revealing (test keys out) and the terminal
    /// ones; `_phaseOf` derives Revealing and Attesting from time.
    struct TaskData {
        // slot 0
        address publisher;
        Phase phase;
        uint16 shardCount;
        uint8 testShards;
        uint8 maxSubmissions;
        uint8 submissionCount;
        uint8 revealedCount;
        uint32 commitSeq;
        // slot 1
        address token;
        uint40 deadline;
        uint32 trainWindow;
        uint16 accuracyThreshold;
        // slot 2
        uint128 reward;
        uint128 publisherBond;
        // slot 3
        uint128 minerBond;
        uint128 totalMinerBonds;
        // slot 4
        bytes32 datasetRoot;
        // slot 5: the queue word while queued (so that startNext overwrites a non-zero slot instead of
        // paying for a fresh one), then the chain head at the start until the seed is fixed (`seedFixed`),
        // then the seed
        bytes32 seed;
        // slot 6
        uint40 revealDeadline;
        uint40 testKeyDeadline;
        uint40 testUnlockedAt;
        uint64 testUnlockBlock;
        // slot 7: keccak256 of the test shards' leaves in index order, fixed at the training unlock; once
        // settled (the leaves are no longer needed), keccak256 of the posted payout list: a non-zero
        // slot rewritten instead of a fresh one per task
        bytes32 listHash;
        // slot 8: the terms fixed at post (a parameter change applies to tasks posted afterwards: the
        // settlement module as a 1-based index into `_settlements`, 0 for none set yet), then what startNext
        // fixes (so that it writes a slot postTask made non-zero instead of a fresh one): the queue length
        // and the randomness request behind the seed (request ids fit 128 bits, IRandomnessSource); windows
        // are at most 30 days, under 2**24 s
        uint32 settlementIndex;
        uint24 keyWindow;
        uint24 testKeyWindow;
        uint24 revealWindow;
        uint16 queueLengthAtStart;
        bool seedFixed;
        uint128 randomnessId;
    }

    /// @dev A miner's live commitment; `hash` becomes the model hash at reveal.
    struct CommitData {
        bytes32 hash;
        uint40 committedAt;
        uint32 commitSeq;
        bool revealed;
    }

    /// @dev A reveal, in reveal order; the commitment order is copied here so that settlement reads one
    /// slot per submission (`revealedMiners`).
    struct RevealData {
        address miner;
        uint32 commitSeq;
        bytes32 checkpointRoot;
    }

    uint256 private constant MIN_SHARDS = 10;
    uint256 private constant MAX_SHARDS = 256;
    uint256 private constant MAX_SUBMISSIONS = 64;
    uint256 private constant MAX_CID_BYTES = 128;
    uint256 private constant BPS = 10_000;
    /// @dev Share of a forfeited publisher bond that pays whoever triggers the timeout.
    uint256 private constant KEEPER_TIP_BPS = 1000;
    /// @dev Head of the learning chain before its first block; non-zero, so that the seed slot a task's start
    /// writes (the head) is never cleared and rewritten from zero when the seed is fixed.
    bytes32 private constant GENESIS_HEAD = keccak256("PoDL learning chain genesis");

    IValidatorRegistry private immutable _registry;
    /// @dev The registry's randomness source (immutable there), read once at deployment.
    IRandomnessSource private immutable _RANDOMNESS;

    MarketParams private _params;
    /// @dev Every settlement module set, in order; the last one takes new tasks.
    address[] private _settlements;
    address private _treasury;
    bytes32 private _chainHead;
    uint32 private _taskCount;
    uint32 private _activeCount;
    uint64 private _chainHeight;
    /// @dev Tasks in `_queue`, in the counters' slot (maxQueue ≤ 128).
    uint8 private _queueLength;
    /// @dev Queued tasks as `Ranking.pack` words (task id, dn, log2 dc, reward), unordered.
    TaskQueue.Queue private _queue;
    mapping(uint256 taskId => TaskData) private _tasks;
    mapping(uint256 taskId => mapping(address miner => CommitData)) private _commits;
    mapping(uint256 taskId => mapping(uint256 revealIndex => RevealData)) private _reveals;
    /// @dev What each account may withdraw, per token (the pull-payment ledger).
    CreditLedger.Ledger private _ledger;
    /// @dev Bit i set once entry i of the task's posted payout list was claimed (lists have ≤ 256 entries).
    mapping(uint256 taskId => uint256 bitmap) private _claimedPayouts;
    mapping(address token => RewardTokenTerms) private _rewardTokens;

    /// @param initialOwner Owner (may change parameters and set the settlement module once).
    /// @param registry_ Validator registry asked for `bondedCount`; its randomness source seeds the tasks
    /// (a VRF source must allow this market as a consumer).
    /// @param params_ Initial parameters (bounds as in `setParams`).
    constructor(address initialOwner, IValidatorRegistry registry_, MarketParams memory params_)
        Ownable(initialOwner)
    {
        _registry = registry_;
        _RANDOMNESS = IRandomnessSource(registry_.randomnessSource());
        _treasury = initialOwner;
        _chainHead = GENESIS_HEAD;
        _setParams(params_);
        // ETH is the reference unit (the wei), listed from the start.
        _setRewardToken(address(0), 1, 1e18);
    }

    /// @inheritdoc ITaskMarket
    function postTask(TaskRequest calldata request) external payable nonReentrant returns (uint256 taskId) {
        MarketParams memory p = _params;
        uint256 reward = request.reward;
        _checkShape(request, p);
        uint256 entryTerms = _rankingTerms(request, p, _referenceReward(request.token, reward));

        uint256 publisherBond = reward * p.publisherBondBps / BPS;
        if (publisherBond == 0) revert RewardOutOfBounds(reward);
        uint256 minerBond = reward * p.minerBondBps / BPS;
        if (minerBond == 0) minerBond = 1;
        // Interaction before effects: the balance difference around the transfer is the check that
        // rejects fee-on-transfer tokens. Every state-changing entry point is nonReentrant, so a token
        // hook cannot re-enter the market here; the queue length is read only after the transfer all
        // the same.
        _pull(request.token, reward + publisherBond);
        taskId = ++_taskCount;
        entryTerms |= taskId << 224;
        uint256 queued = _queueLength;
        // A full queue takes a task that ranks strictly better than its worst one, which leaves refunded.
        if (queued >= p.maxQueue) queued = _evictWorst(queued, p, entryTerms, taskId);

        TaskData storage t = _tasks[taskId];
        t.publisher = msg.sender;
        t.phase = Phase.Queued;
        t.shardCount = request.shardCount;
        t.testShards = uint8(request.testShards);
        t.maxSubmissions = request.maxSubmissions;
        t.token = request.token;
        t.deadline = uint40(block.timestamp + p.maxQueueTime);
        t.trainWindow = request.trainWindow;
        t.accuracyThreshold = request.accuracyThreshold;
        t.reward = uint128(reward);
        t.publisherBond = uint128(publisherBond);
        t.minerBond = uint128(minerBond);
        t.datasetRoot = request.datasetRoot;
        // Snapshot: later parameter or settlement changes do not touch this task.
        t.settlementIndex = uint32(_settlements.length);
        t.keyWindow = uint24(p.keyWindow);
        t.testKeyWindow = uint24(p.testKeyWindow);
        t.revealWindow = uint24(p.revealWindow);
        t.seed = bytes32(entryTerms);
        _queue.push(queued, entryTerms);
        _queueLength = uint8(queued + 1);
        emit TaskPosted(taskId, msg.sender, request.token, reward, publisherBond, request.datasetRoot, request.specCid);
    }

    /// @inheritdoc ITaskMarket
    function cancelQueued(uint256 taskId) external nonReentrant {
        TaskData storage t = _task(taskId);
        if (msg.sender != t.publisher) revert NotPublisher(taskId, msg.sender);
        _cancelQueued(taskId, t);
    }

    /// @inheritdoc ITaskMarket
    function expireQueued(uint256 taskId) external nonReentrant {
        TaskData storage t = _task(taskId);
        if (t.phase == Phase.Queued && block.timestamp <= t.deadline) revert TooEarly(taskId, t.deadline);
        _cancelQueued(taskId, t);
    }

    /// @inheritdoc ITaskMarket
    function startNext() external nonReentrant returns (uint256 taskId) {
        uint256 length = _queueLength;
        if (length == 0) revert QueueEmpty();
        // A storage pointer reads only the two parameter slots used here.
        MarketParams storage p = _params;
        if (_activeCount >= p.maxActive) revert ActiveSetFull(_activeCount, p.maxActive);
        uint256 bonded = _registry.bondedCount();
        if (bonded < p.minCommittee) revert NotEnoughValidators(bonded, p.minCommittee);

        (uint256 position, uint256 bestScore) = _queue.lowest(length, Ranking.exponent(length, p.maxQueue, p.rankScale));
        taskId = Ranking.taskIdOf(_queue.words[position]);
        _queue.removeAt(position, length);
        _queueLength = uint8(length - 1);

        TaskData storage t = _tasks[taskId];
        // the key window the task was posted with (a parameter change applies to tasks posted afterwards)
        uint40 keyDeadline = uint40(block.timestamp + t.keyWindow);
        t.phase = Phase.Started;
        t.deadline = keyDeadline;
        // The seed mixes this head with randomness nobody knows yet; later learning blocks cannot move it.
        t.seed = _chainHead;
        t.queueLengthAtStart = uint16(length - 1);
        ++_activeCount;
        uint256 randomnessId = _requestRandomness(t);
        emit TaskStarted(taskId, randomnessId, keyDeadline, bestScore);
    }

    /// @inheritdoc ITaskMarket
    function fixSeed(uint256 taskId) external nonReentrant returns (bytes32 seed) {
        TaskData storage t = _task(taskId);
        if (t.phase != Phase.Started) revert TaskNotInPhase(taskId, _phaseOf(t));
        if (t.seedFixed) revert SeedAlreadyFixed(taskId);
        IRandomnessSource.RandomnessStatus status;
        (status, seed) = _pendingSeed(taskId, t);
        if (status == IRandomnessSource.RandomnessStatus.Pending) revert SeedNotReady(taskId, t.randomnessId);
        if (status == IRandomnessSource.RandomnessStatus.Expired) {
            uint256 randomnessId = _requestRandomness(t);
            emit TaskRandomnessRenewed(taskId, randomnessId);
            return bytes32(0);
        }
        _storeSeed(taskId, t, seed);
    }

    /// @inheritdoc ITaskMarket
    function unlockTrainingData(uint256 taskId, ShardKey[] calldata keys, bytes32[] calldata testLeaves)
        external
        nonReentrant
    {
        TaskData storage t = _task(taskId);
        if (t.phase != Phase.Started) revert TaskNotInPhase(taskId, _phaseOf(t));
        if (msg.sender != t.publisher) revert NotPublisher(taskId, msg.sender);
        if (block.timestamp > t.deadline) revert WindowClosed(taskId, t.deadline);
        if (!t.seedFixed) {
            (IRandomnessSource.RandomnessStatus status, bytes32 seed) = _pendingSeed(taskId, t);
            if (status != IRandomnessSource.RandomnessStatus.Ready) revert SeedNotReady(taskId, t.randomnessId);
            _storeSeed(taskId, t, seed);
        }
        t.listHash = _checkTrainingKeys(taskId, t, keys, testLeaves);

        uint40 commitDeadline = uint40(block.timestamp + t.trainWindow);
        t.phase = Phase.Committing;
        t.deadline = commitDeadline;
        t.testKeyDeadline = commitDeadline + t.testKeyWindow;
        emit TrainingDataUnlocked(taskId, commitDeadline, keys, testLeaves);
    }

    /// @inheritdoc ITaskMarket
    function timeoutTrainingKeys(uint256 taskId) external nonReentrant {
        TaskData storage t = _task(taskId);
        if (t.phase != Phase.Started) revert TaskNotInPhase(taskId, _phaseOf(t));
        if (block.timestamp <= t.deadline) revert TooEarly(taskId, t.deadline);
        // Terminal before crediting. The publisher bond is forfeited: a keeper tip to the caller, the rest
        // to the treasury (a publisher who abandons its own task recovers only the tip).
        t.phase = Phase.Cancelled;
        --_activeCount;
        address token = t.token;
        uint256 bond = t.publisherBond;
        uint256 tip = bond * KEEPER_TIP_BPS / BPS;
        _credit(t.publisher, token, t.reward);
        _credit(msg.sender, token, tip);
        _credit(_treasury, token, bond - tip);
        emit TaskCancelled(taskId, msg.sender);
    }

    /// @inheritdoc ITaskMarket
    function commitModel(uint256 taskId, bytes32 commitment) external payable nonReentrant {
        TaskData storage t = _task(taskId);
        if (t.phase != Phase.Committing) revert TaskNotInPhase(taskId, _phaseOf(t));
        if (block.timestamp > t.deadline) revert WindowClosed(taskId, t.deadline);
        if (commitment == bytes32(0)) revert CommitmentZero();

        CommitData storage c = _commits[taskId][msg.sender];
        bool replaced = c.committedAt != 0;
        if (replaced) {
            if (msg.value != 0) revert EthAmountMismatch(msg.value, 0);
        } else {
            if (t.submissionCount >= t.maxSubmissions) revert SubmissionsFull(taskId, t.maxSubmissions);
            uint256 bond = t.minerBond;
            // Interaction before effects for the balance-difference check; nonReentrant guards it.
            _pull(t.token, bond);
            ++t.submissionCount;
            t.totalMinerBonds += uint128(bond);
        }
        uint32 seq = ++t.commitSeq;
        c.hash = commitment;
        c.committedAt = uint40(block.timestamp);
        c.commitSeq = seq;
        emit ModelCommitted(taskId, msg.sender, commitment, seq, replaced);
    }

    /// @inheritdoc ITaskMarket
    function unlockTestData(uint256 taskId, ShardKey[] calldata keys) external nonReentrant {
        TaskData storage t = _task(taskId);
        if (t.phase != Phase.Committing) revert TaskNotInPhase(taskId, _phaseOf(t));
        if (msg.sender != t.publisher) revert NotPublisher(taskId, msg.sender);
        if (block.timestamp <= t.deadline) revert TooEarly(taskId, t.deadline);
        if (block.timestamp > t.testKeyDeadline) revert WindowClosed(taskId, t.testKeyDeadline);
        _checkTestKeys(taskId, t, keys);

        // The reveal window opens with the test keys: a publisher who defaults has seen no model.
        t.phase = Phase.Revealing;
        t.revealDeadline = uint40(block.timestamp + t.revealWindow);
        t.testUnlockedAt = uint40(block.timestamp);
        t.testUnlockBlock = uint64(block.number);
        emit TestDataUnlocked(taskId, keys);
    }

    /// @inheritdoc ITaskMarket
    function revealModel(
        uint256 taskId,
        string calldata modelCid,
        bytes32 modelHash,
        bytes32 checkpointRoot,
        bytes32 salt
    ) external nonReentrant {
        TaskData storage t = _task(taskId);
        // Reveals open only once the test keys are out (stored phase Revealing), after the commit deadline.
        if (t.phase != Phase.Revealing) revert TestKeysLocked(taskId);
        if (block.timestamp > t.revealDeadline) revert WindowClosed(taskId, t.revealDeadline);
        uint256 cidLength = bytes(modelCid).length;
        if (cidLength == 0 || cidLength > MAX_CID_BYTES) revert CidLengthOutOfBounds(cidLength);

        CommitData storage c = _commits[taskId][msg.sender];
        if (c.committedAt == 0) revert NotCommitted(taskId, msg.sender);
        if (c.revealed) revert AlreadyRevealed(taskId, msg.sender);
        bytes32 expected = Commitments.modelCommitment(
            address(this), block.chainid, taskId, msg.sender, modelHash, checkpointRoot, salt
        );
        if (c.hash != expected) revert CommitmentMismatch(taskId, msg.sender);

        c.hash = modelHash;
        c.revealed = true;
        uint256 index = t.revealedCount++;
        _reveals[taskId][index] = RevealData({miner: msg.sender, commitSeq: c.commitSeq, checkpointRoot: checkpointRoot});
        emit ModelRevealed(taskId, msg.sender, modelHash, checkpointRoot, modelCid);
    }

    /// @inheritdoc ITaskMarket
    function timeoutTestKeys(uint256 taskId) external nonReentrant {
        TaskData storage t = _task(taskId);
        if (t.phase != Phase.Committing) revert TaskNotInPhase(taskId, _phaseOf(t));
        if (block.timestamp <= t.testKeyDeadline) revert TooEarly(taskId, t.testKeyDeadline);
        // Terminal before crediting. No model was revealed (reveals need the test keys).
        t.phase = Phase.Defaulted;
        --_activeCount;

        address token = t.token;
        uint256 committers = t.submissionCount;
        uint256 bond = t.publisherBond;
        // The publisher gets its reward back and loses its bond: to the committed miners in equal
        // shares (claimed with `claimDefaultShare`, with their own bonds), the rounding dust to the
        // treasury; without committers, a keeper tip to the caller and the rest to the treasury.
        _credit(t.publisher, token, t.reward);
        if (committers == 0) {
            uint256 tip = bond * KEEPER_TIP_BPS / BPS;
            _credit(msg.sender, token, tip);
            _credit(_treasury, token, bond - tip);
        } else {
            (, uint256 dust) = Payouts.defaultShares(bond, committers);
            _credit(_treasury, token, dust);
        }
        emit TaskDefaulted(taskId, msg.sender, committers);
    }

    /// @inheritdoc ITaskMarket
    function claimDefaultShare(uint256 taskId) external nonReentrant {
        TaskData storage t = _task(taskId);
        if (t.phase != Phase.Defaulted) revert TaskNotInPhase(taskId, _phaseOf(t));
        CommitData storage c = _commits[taskId][msg.sender];
        if (c.committedAt == 0) revert NotCommitted(taskId, msg.sender);
        // A Defaulted task has no reveals, so `revealed` marks the claim; set before crediting.
        if (c.revealed) revert AlreadyClaimed(taskId, msg.sender);
        c.revealed = true;
        (uint256 share,) = Payouts.defaultShares(t.publisherBond, t.submissionCount);
        _credit(msg.sender, t.token, uint256(t.minerBond) + share);
    }

    /// @inheritdoc ITaskMarket
    function settle(uint256 taskId, Settlement calldata s) external nonReentrant {
        TaskData storage t = _task(taskId);
        if (msg.sender != _settlementOf(t)) revert NotSettlement(msg.sender);
        Phase phase = _phaseOf(t);
        if (phase != Phase.Attesting) revert TaskNotInPhase(taskId, phase);
        bool validated = s.outcome == Outcome.Validated;
        if (validated ? s.winner >= t.revealedCount : s.winner != type(uint256).max) {
            revert InvalidWinner(s.winner, t.revealedCount);
        }
        // Terminal before crediting: settles once.
        t.phase = s.outcome == Outcome.Unvalidated ? Phase.Unvalidated : Phase.Settled;
        --_activeCount;

        uint256 pool = uint256(t.reward) + t.publisherBond + t.totalMinerBonds;
        uint256 total;
        uint256 count = s.payouts.length;
        if (count > 256) revert PayoutIndexOutOfBounds(count, 256);
        for (uint256 i = 0; i < count; ++i) {
            Payout calldata payout = s.payouts[i];
            if (payout.account == address(0)) revert PayoutAccountZero();
            total += payout.amount;
        }
        if (total != pool) revert PayoutMismatch(total, pool);
        // posted, not credited: one hash instead of a credit slot per payee; payees claim against it
        bytes32 hash = keccak256(abi.encode(s.payouts));
        t.listHash = hash;
        emit PayoutsPosted(taskId, hash, s.payouts);
        emit TaskSettled(taskId, s.outcome, pool);
        if (validated) _appendBlock(taskId, t, s);
    }

    /// @inheritdoc ITaskMarket
    function claimPayouts(uint256 taskId, Payout[] calldata payouts, uint256[] calldata indices)
        external
        nonReentrant
    {
        TaskData storage t = _task(taskId);
        if (t.phase != Phase.Settled && t.phase != Phase.Unvalidated) revert PayoutsNotPosted(taskId);
        if (keccak256(abi.encode(payouts)) != t.listHash) revert PayoutsNotPosted(taskId);
        uint256 claimed = _claimedPayouts[taskId];
        address token = t.token;
        for (uint256 i = 0; i < indices.length; ++i) {
            uint256 index = indices[i];
            if (index >= payouts.length) revert PayoutIndexOutOfBounds(index, payouts.length);
            uint256 bit = 1 << index;
            if (claimed & bit != 0) revert PayoutAlreadyClaimed(taskId, index);
            claimed |= bit;
            Payout calldata payout = payouts[index];
            emit PayoutClaimed(taskId, index, payout.account, payout.amount);
            _credit(payout.account, token, payout.amount);
        }
        _claimedPayouts[taskId] = claimed;
    }

    /// @inheritdoc ITaskMarket
    function withdraw(address token) external nonReentrant {
        // The ledger zeroes the credit before paying out.
        uint256 amount = _ledger.take(msg.sender, token);
        emit Withdrawn(msg.sender, token, amount);
        if (token == address(0)) {
            (bool ok,) = msg.sender.call{value: amount}("");
            if (!ok) revert EthTransferFailed(msg.sender, amount);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    /// @inheritdoc ITaskMarket
    function setSettlement(address settlement_) external onlyOwner {
        if (settlement_ == address(0)) revert SettlementZero();
        _settlements.push(settlement_);
        emit SettlementSet(settlement_);
    }

    /// @inheritdoc ITaskMarket
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert TreasuryZero();
        _treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @inheritdoc ITaskMarket
    function setParams(MarketParams calldata params_) external onlyOwner {
        _setParams(params_);
    }

    /// @inheritdoc ITaskMarket
    function getTask(uint256 taskId) external view returns (Task memory task) {
        TaskData storage t = _task(taskId);
        task.publisher = t.publisher;
        task.token = t.token;
        task.phase = _phaseOf(t);
        task.reward = t.reward;
        task.publisherBond = t.publisherBond;
        task.minerBond = t.minerBond;
        task.totalMinerBonds = t.totalMinerBonds;
        task.seed = _knownSeed(taskId, t);
        task.datasetRoot = t.datasetRoot;
        task.accuracyThreshold = t.accuracyThreshold;
        task.shardCount = t.shardCount;
        task.testShards = t.testShards;
        task.maxSubmissions = t.maxSubmissions;
        task.submissionCount = t.submissionCount;
        task.revealedCount = t.revealedCount;
        task.trainWindow = t.trainWindow;
        task.deadline = t.deadline;
        if (t.testKeyDeadline != 0) task.commitDeadline = t.deadline;
        task.revealDeadline = t.revealDeadline;
        task.testKeyDeadline = t.testKeyDeadline;
        task.testUnlockedAt = t.testUnlockedAt;
        task.testUnlockBlock = t.testUnlockBlock;
        task.queueLengthAtStart = t.queueLengthAtStart;
        task.randomnessId = t.randomnessId;
    }

    /// @inheritdoc ITaskMarket
    function getRevealed(uint256 taskId) external view returns (Submission[] memory submissions) {
        uint256 count = _task(taskId).revealedCount;
        submissions = new Submission[](count);
        for (uint256 i = 0; i < count; ++i) {
            RevealData storage r = _reveals[taskId][i];
            CommitData storage c = _commits[taskId][r.miner];
            submissions[i] = Submission({
                miner: r.miner,
                modelHash: c.hash,
                checkpointRoot: r.checkpointRoot,
                committedAt: c.committedAt,
                commitSeq: c.commitSeq,
                revealed: true
            });
        }
    }

    /// @inheritdoc ITaskMarket
    function revealedMiners(uint256 taskId) external view returns (uint256[] memory words) {
        uint256 count = _task(taskId).revealedCount;
        words = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            RevealData storage r = _reveals[taskId][i];
            words[i] = uint256(r.commitSeq) << 160 | uint160(r.miner);
        }
    }

    /// @inheritdoc ITaskMarket
    function modelHashOf(uint256 taskId, uint256 index) external view returns (bytes32) {
        uint256 count = _task(taskId).revealedCount;
        if (index >= count) revert RevealIndexOutOfBounds(index, count);
        return _commits[taskId][_reveals[taskId][index].miner].hash;
    }

    /// @inheritdoc ITaskMarket
    function isMiner(uint256 taskId, address account) external view returns (bool) {
        return _commits[taskId][account].committedAt != 0;
    }

    /// @inheritdoc ITaskMarket
    function taskPool(uint256 taskId) external view returns (uint256) {
        TaskData storage t = _task(taskId);
        return uint256(t.reward) + t.publisherBond + t.totalMinerBonds;
    }

    /// @inheritdoc ITaskMarket
    function testShardBitmap(uint256 taskId) external view returns (uint256) {
        TaskData storage t = _task(taskId);
        bytes32 seed = _knownSeed(taskId, t);
        if (seed == bytes32(0)) return 0;
        return Split.testBitmap(seed, t.shardCount, t.testShards);
    }

    /// @inheritdoc ITaskMarket
    function rankOf(uint256 taskId) external view returns (uint256) {
        TaskData storage t = _task(taskId);
        if (t.phase != Phase.Queued) revert TaskNotInPhase(taskId, _phaseOf(t));
        UD60x18 q = Ranking.exponent(_queueLength, _params.maxQueue, _params.rankScale);
        // While queued the seed slot holds the task's queue word.
        return Ranking.scoreOf(uint256(t.seed), q);
    }

    /// @inheritdoc ITaskMarket
    function queueWords() external view returns (uint256[] memory) {
        return _queue.wordsOf(_queueLength);
    }

    /// @inheritdoc ITaskMarket
    function creditOf(address account, address token) external view returns (uint256) {
        return _ledger.creditOf(account, token);
    }

    /// @inheritdoc ITaskMarket
    function claimedPayouts(uint256 taskId) external view returns (uint256) {
        return _claimedPayouts[taskId];
    }

    /// @inheritdoc ITaskMarket
    function payoutsHash(uint256 taskId) external view returns (bytes32) {
        TaskData storage t = _task(taskId);
        return t.phase == Phase.Settled || t.phase == Phase.Unvalidated ? t.listHash : bytes32(0);
    }

    /// @inheritdoc ITaskMarket
    function chainHead() external view returns (bytes32) {
        return _chainHead;
    }

    /// @inheritdoc ITaskMarket
    function chainHeight() external view returns (uint256) {
        return _chainHeight;
    }

    /// @inheritdoc ITaskMarket
    function queueLength() external view returns (uint256) {
        return _queueLength;
    }

    /// @inheritdoc ITaskMarket
    function activeCount() external view returns (uint256) {
        return _activeCount;
    }

    /// @inheritdoc ITaskMarket
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    /// @inheritdoc ITaskMarket
    function params() external view returns (MarketParams memory) {
        return _params;
    }

    /// @inheritdoc ITaskMarket
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc ITaskMarket
    function settlement() external view returns (address) {
        return _currentSettlement();
    }

    /// @inheritdoc ITaskMarket
    function settlementOf(uint256 taskId) external view returns (address) {
        return _settlementOf(_task(taskId));
    }

    /// @inheritdoc ITaskMarket
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc ITaskMarket
    function setRewardToken(address token, uint256 minReward, uint256 unitScale) external onlyOwner {
        _setRewardToken(token, minReward, unitScale);
    }

    /// @inheritdoc ITaskMarket
    function rewardToken(address token) external view returns (RewardTokenTerms memory) {
        return _rewardTokens[token];
    }

    function _cancelQueued(uint256 taskId, TaskData storage t) private {
        if (t.phase != Phase.Queued) revert TaskNotInPhase(taskId, _phaseOf(t));
        uint256 length = _queueLength;
        _queue.removeAt(_queue.positionOf(taskId), length);
        _queueLength = uint8(length - 1);
        // Terminal before crediting.
        t.phase = Phase.Cancelled;
        t.seed = bytes32(0);
        _credit(t.publisher, t.token, uint256(t.reward) + t.publisherBond);
        emit TaskCancelled(taskId, msg.sender);
    }

    /// @dev Evicts the queued task with the highest score when `entry` scores strictly lower; returns the
    /// queue length after the eviction. Reads every queued word (only on a full queue).
    function _evictWorst(uint256 length, MarketParams memory p, uint256 entry, uint256 taskId)
        private
        returns (uint256)
    {
        UD60x18 q = Ranking.exponent(length, p.maxQueue, p.rankScale);
        (uint256 worst, uint256 worstScore, uint256 worstId) = _queue.highest(length, q);
        if (Ranking.scoreOf(entry, q) >= worstScore) revert QueueFull(length, p.maxQueue);
        _queue.removeAt(worst, length);
        TaskData storage evicted = _tasks[worstId];
        // Terminal before crediting; the evicted publisher is refunded in full.
        evicted.phase = Phase.Cancelled;
        evicted.seed = bytes32(0);
        _credit(evicted.publisher, evicted.token, uint256(evicted.reward) + evicted.publisherBond);
        emit TaskEvicted(worstId, taskId);
        return length - 1;
    }

    /// @dev Requests the randomness behind the task's seed and keeps the request id (below 2**128).
    function _requestRandomness(TaskData storage t) private returns (uint256 randomnessId) {
        randomnessId = _RANDOMNESS.request();
        t.randomnessId = SafeCast.toUint128(randomnessId);
    }

    /// @dev The seed once its randomness is ready, stored or not; 0 before (and for tasks never started).
    function _knownSeed(uint256 taskId, TaskData storage t) private view returns (bytes32 seed) {
        if (t.seedFixed) return t.seed;
        if (t.phase != Phase.Started) return bytes32(0);
        (, seed) = _pendingSeed(taskId, t);
    }

    /// @dev The source's status for a started task whose seed is not stored, and the seed if it is ready.
    function _pendingSeed(uint256 taskId, TaskData storage t)
        private
        view
        returns (IRandomnessSource.RandomnessStatus status, bytes32 seed)
    {
        bytes32 value;
        (status, value) = _RANDOMNESS.randomness(t.randomnessId);
        if (status == IRandomnessSource.RandomnessStatus.Ready) seed = keccak256(abi.encode(t.seed, value, taskId));
    }

    function _storeSeed(uint256 taskId, TaskData storage t, bytes32 seed) private {
        t.seed = seed;
        t.seedFixed = true;
        emit TaskSeeded(taskId, seed);
    }

    function _appendBlock(uint256 taskId, TaskData storage t, Settlement calldata s) private {
        RevealData storage r = _reveals[taskId][s.winner];
        bytes32 modelHash = _commits[taskId][r.miner].hash;
        uint256 height = _chainHeight + 1;
        bytes32 head = keccak256(
            abi.encode(_chainHead, height, taskId, r.miner, modelHash, s.winnerScore, s.ommersHash, t.datasetRoot)
        );
        _chainHead = head;
        _chainHeight = uint64(height);
        emit LearningBlock(height, taskId, r.miner, head, modelHash, s.winnerScore);
    }

    function _pull(address token, uint256 amount) private {
        if (token == address(0)) {
            if (msg.value != amount) revert EthAmountMismatch(msg.value, amount);
            return;
        }
        if (msg.value != 0) revert EthSentWithToken(msg.value);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert TokenShortfall(token, amount, received);
    }

    function _credit(address account, address token, uint256 amount) private {
        _ledger.credit(account, token, amount);
    }

    function _setParams(MarketParams memory p) private {
        _checkBound(0, p.maxQueue, 2, 128);
        _checkBound(1, p.maxActive, 1, 64);
        _checkBound(2, p.minCommittee, 1, 64);
        _checkBound(3, p.publisherBondBps, 100, 5000);
        _checkBound(4, p.minerBondBps, 100, 5000);
        _checkBound(5, p.keyWindow, 10, 30 days);
        _checkBound(6, p.testKeyWindow, 10, 30 days);
        _checkBound(7, p.revealWindow, 10, 30 days);
        _checkBound(8, p.maxQueueTime, 60, 365 days);
        _checkBound(9, p.minTrainWindow, 10, p.maxTrainWindow);
        _checkBound(10, p.maxTrainWindow, 10, 365 days);
        _checkBound(11, p.medianBandwidth, 1, 1e15);
        _checkBound(12, p.medianCompute, 1, 1e18);
        _checkBound(13, p.rankScale, 1e16, 10e18);
        _params = p;
        emit ParamsUpdated(p);
    }

    /// @dev The reward in reference units, which the ranking compares across tokens; fixed at post, so a
    /// later re-pricing or delisting leaves a queued task's rank as it was.
    function _referenceReward(address token, uint256 reward) private view returns (uint256 referenceReward) {
        RewardTokenTerms memory terms = _rewardTokens[token];
        if (terms.unitScale == 0) revert TokenNotListed(token);
        if (reward < terms.minReward || reward > Ranking.REWARD_MAX) revert RewardOutOfBounds(reward);
        referenceReward = reward * terms.unitScale / 1e18;
        if (referenceReward == 0 || referenceReward > Ranking.REWARD_MAX) revert RewardOutOfBounds(reward);
    }

    function _setRewardToken(address token, uint256 minReward, uint256 unitScale) private {
        // unitScale 0 with minReward 0 delists; otherwise the minimum is worth at least one reference unit.
        if (unitScale != 0 || minReward != 0) {
            if (minReward > Ranking.REWARD_MAX) revert RewardTokenTermsOutOfBounds(token, minReward, unitScale);
            if (unitScale > 1e36) revert RewardTokenTermsOutOfBounds(token, minReward, unitScale);
            if (minReward * unitScale < 1e18) revert RewardTokenTermsOutOfBounds(token, minReward, unitScale);
        }
        _rewardTokens[token] = RewardTokenTerms(uint128(minReward), uint128(unitScale));
        emit RewardTokenSet(token, minReward, unitScale);
    }

    function _checkShape(TaskRequest calldata request, MarketParams memory p) private pure {
        uint256 shards = request.shardCount;
        if (shards < MIN_SHARDS || shards > MAX_SHARDS) revert ShardCountOutOfBounds(shards);
        if (request.testShards == 0 || request.testShards >= shards) {
            revert TestShardsOutOfBounds(request.testShards, shards);
        }
        if (request.accuracyThreshold == 0 || request.accuracyThreshold > BPS) {
            revert AccuracyThresholdOutOfBounds(request.accuracyThreshold);
        }
        if (request.maxSubmissions == 0 || request.maxSubmissions > MAX_SUBMISSIONS) {
            revert MaxSubmissionsOutOfBounds(request.maxSubmissions);
        }
        if (request.trainWindow < p.minTrainWindow || request.trainWindow > p.maxTrainWindow) {
            revert TrainWindowOutOfBounds(request.trainWindow);
        }
        if (request.datasetRoot == bytes32(0)) revert DatasetRootZero();
        uint256 cidLength = bytes(request.specCid).length;
        if (cidLength == 0 || cidLength > MAX_CID_BYTES) revert CidLengthOutOfBounds(cidLength);
    }

    /// @dev The queue word without the task id: dn, log2 dc and the reward, at the current medians.
    function _rankingTerms(TaskRequest calldata request, MarketParams memory p, uint256 referenceReward)
        private
        pure
        returns (uint256)
    {
        uint256 dnNanos = Ranking.transferNanos(request.modelBytes, request.dataBytes, p.medianBandwidth);
        uint256 dcUd = uint256(request.flops) * 1e18 / p.medianCompute;
        if (request.modelBytes == 0 || request.dataBytes == 0 || request.flops == 0) {
            revert WorkloadOutOfBounds(request.modelBytes, request.dataBytes, request.flops);
        }
        if (dnNanos > type(uint64).max || dcUd > Ranking.DC_MAX) {
            revert WorkloadOutOfBounds(request.modelBytes, request.dataBytes, request.flops);
        }
        return Ranking.pack(0, dnNanos, Ranking.computeLog2(request.flops, p.medianCompute), referenceReward);
    }

    /// @dev Rebuilds the ordered leaf list from the training keys and the test leaves, each in index order,
    /// and checks it against the dataset root; returns the hash of the test leaves for `unlockTestData`.
    function _checkTrainingKeys(
        uint256 taskId,
        TaskData storage t,
        ShardKey[] calldata keys,
        bytes32[] calldata testLeaves
    ) private view returns (bytes32 testLeavesHash) {
        uint256 shards = t.shardCount;
        uint256 testCount = t.testShards;
        if (keys.length != shards - testCount) revert KeyCountMismatch(keys.length, shards - testCount);
        if (testLeaves.length != testCount) revert KeyCountMismatch(testLeaves.length, testCount);
        uint256 testBits = Split.testBitmap(t.seed, shards, testCount);
        bytes32[] memory leaves = new bytes32[](shards);
        uint256 k = 0;
        // Unchecked: i < shards ≤ 256; k and i - k stay below the checked array lengths.
        unchecked {
            for (uint256 i = 0; i < shards; ++i) {
                if (testBits & (1 << i) != 0) {
                    leaves[i] = testLeaves[i - k];
                } else {
                    leaves[i] = _leafAt(keys[k++], i);
                }
            }
        }
        if (keccak256(abi.encodePacked(leaves)) != t.datasetRoot) revert DatasetRootMismatch(taskId);
        testLeavesHash = keccak256(abi.encodePacked(testLeaves));
    }

    /// @dev Checks the test keys, in index order, against the test leaves fixed at the training unlock.
    function _checkTestKeys(uint256 taskId, TaskData storage t, ShardKey[] calldata keys) private view {
        uint256 shards = t.shardCount;
        uint256 testCount = t.testShards;
        if (keys.length != testCount) revert KeyCountMismatch(keys.length, testCount);
        uint256 testBits = Split.testBitmap(t.seed, shards, testCount);
        bytes32[] memory leaves = new bytes32[](testCount);
        uint256 k = 0;
        // Unchecked: i < shards ≤ 256, k < testCount (one per set bit).
        unchecked {
            for (uint256 i = 0; i < shards; ++i) {
                if (testBits & (1 << i) != 0) {
                    leaves[k] = _leafAt(keys[k], i);
                    ++k;
                }
            }
        }
        if (keccak256(abi.encodePacked(leaves)) != t.listHash) revert DatasetRootMismatch(taskId);
    }

    /// @dev The leaf of `key`, which must name shard `index` (the next one in index order).
    function _leafAt(ShardKey calldata key, uint256 index) private pure returns (bytes32) {
        if (key.index != index) revert ShardIndexMismatch(index, key.index);
        return Commitments.shardLeaf(index, key.cidHash, key.key);
    }

    function _task(uint256 taskId) private view returns (TaskData storage t) {
        t = _tasks[taskId];
        if (t.phase == Phase.None) revert TaskUnknown(taskId);
    }

    /// @dev The task's settlement module, fixed at post; a task posted before any module was set takes the
    /// current one.
    function _settlementOf(TaskData storage t) private view returns (address) {
        uint256 index = t.settlementIndex;
        return index == 0 ? _currentSettlement() : _settlements[index - 1];
    }

    function _currentSettlement() private view returns (address) {
        uint256 count = _settlements.length;
        return count == 0 ? address(0) : _settlements[count - 1];
    }

    function _phaseOf(TaskData storage t) private view returns (Phase) {
        Phase phase = t.phase;
        if (phase == Phase.Committing && block.timestamp > t.deadline) return Phase.Revealing;
        if (phase == Phase.Revealing && block.timestamp > t.revealDeadline) return Phase.Attesting;
        return phase;
    }

    function _checkBound(uint256 field, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert ParamOutOfBounds(field, value);
    }
}
