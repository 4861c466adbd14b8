// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IRewardToken} from "./interfaces/IRewardToken.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";
import {IValidatorRegistry} from "./interfaces/IValidatorRegistry.sol";
import {Median} from "./libraries/Median.sol";
import {Payouts} from "./libraries/Payouts.sol";
import {Rewards} from "./libraries/Rewards.sol";
import {Tally} from "./libraries/Tally.sol";

/// @title Settlement
/// @notice The validator committee's side of a task: draw, attest (commit-reveal), finalize.
/// @dev Separate from TaskMarket to keep each contract under the 24 KiB code limit and to give the
///      market one narrow entry point (`settle`) whose only caller is this contract.
contract Settlement is ISettlement, Ownable2Step, ReentrancyGuardTransient {
    uint256 private constant _BPS = 10_000;
    uint256 private constant _NONE = type(uint256).max;
    uint256 private constant _MAX_BLOCK_REWARD = 1e24;
    uint256 private constant _MAX_MINT_RATE = 1e36;
    uint64 private constant _MIN_ESCAPE_DELAY = 1 days;
    uint64 private constant _MAX_ESCAPE_DELAY = 365 days;
    uint64 private constant _MIN_WINDOW = 60;
    uint64 private constant _MAX_WINDOW = 7 days;
    uint16 private constant _MAX_COMMITTEE = 31;
    uint16 private constant _MAX_OMMERS = 8;
    uint16 private constant _MAX_SHARES = 5_000;

    uint8 private constant _MEMBER = 1;
    uint8 private constant _COMMITTED = 2;
    uint8 private constant _REVEALED = 3;

    ITaskMarket private immutable _MARKET;
    IValidatorRegistry private immutable _REGISTRY;
    IRewardToken private immutable _REWARD_TOKEN;

    /// @dev Parameter history: entry i applies to tasks with id ≥ _paramsFrom[i] (entry 0 from task 0),
    ///      so a change never reaches a task posted before it.
    SettlementParams[] private _history;
    uint256[] private _paramsFrom;
    mapping(address token => uint256 rate) private _mintRates;
    mapping(uint256 taskId => TaskState) private _states;
    mapping(uint256 taskId => mapping(uint256 round => Round)) private _rounds;
    mapping(uint256 taskId => mapping(uint256 round => address[])) private _committees;
    mapping(uint256 taskId => mapping(uint256 round => mapping(address validator => uint8))) private _memberState;
    mapping(uint256 taskId => mapping(uint256 round => mapping(address validator => bytes32))) private _commitments;
    /// @dev Revealed scores, sixteen uint16 per word (score i in bits 16·(i mod 16) of word i / 16).
    mapping(uint256 taskId => mapping(uint256 round => mapping(address validator => mapping(uint256 word => uint256))))
        private _scoreWords;

    /// @dev A task's settlement status and current round, in one slot.
    struct TaskState {
        Status status;
        uint8 round;
    }

    /// @dev What `finalize` works out before it pays.
    struct Verdict {
        uint256 taskId;
        uint256 round;
        uint16 threshold;
        uint16[] medians;
        address[] agreeing;
        address[] deviating;
        address[] silent;
        uint256 winner;
        uint256[] ommers;
    }

    /// @param initialOwner Owner (parameters).
    /// @param market The TaskMarket.
    /// @param registry The ValidatorRegistry.
    /// @param rewardToken The RewardToken (this contract must be its minter).
    /// @param params_ Initial parameters.
    constructor(
        address initialOwner,
        ITaskMarket market,
        IValidatorRegistry registry,
        IRewardToken rewardToken,
        SettlementParams memory params_
    ) Ownable(initialOwner) {
        _MARKET = market;
        _REGISTRY = registry;
        _REWARD_TOKEN = rewardToken;
        _setParams(params_);
    }

    /// @inheritdoc ISettlement
    function drawCommittee(uint256 taskId) external nonReentrant {
        Status status = _states[taskId].status;
        if (status == Status.Finalized) revert TaskAlreadyFinalized(taskId);
        ITaskMarket.Task memory task = _MARKET.getTask(taskId);
        if (task.revealedCount == 0) revert NothingToAttest(taskId);
        if (status == Status.None) {
            // the first call requests round 0: its randomness is unknown until later blocks
            _open(taskId, task);
            return;
        }
        uint256 round = _states[taskId].round;
        Round storage r = _rounds[taskId][round];
        if (r.size != 0) revert CommitteeAlreadyDrawn(taskId, round);
        if (block.timestamp > r.expiresAt) revert RoundExpired(taskId, round, r.expiresAt);

        address[] memory members = _drawFromRegistry(taskId, round, task);
        // expired randomness was requested again: the draw comes with a later call
        if (members.length == 0) return;
        // effects after the registry call: the registry is our own contract and locks the members itself
        r.size = uint16(members.length);
        r.submissions = task.revealedCount;
        r.commitDeadline = uint64(block.timestamp) + _paramsOf(taskId).attestCommitWindow;
        r.revealDeadline = r.commitDeadline + _paramsOf(taskId).attestRevealWindow;
        _committees[taskId][round] = members;
        for (uint256 i = 0; i < members.length; ++i) {
            _memberState[taskId][round][members[i]] = _MEMBER;
        }
        emit CommitteeSeated(taskId, round, members, r.commitDeadline, r.revealDeadline);
    }

    /// @inheritdoc ISettlement
    function commitScores(uint256 taskId, bytes32 commitment) external {
        TaskState memory state_ = _states[taskId];
        uint256 round = state_.round;
        Round storage r = _rounds[taskId][round];
        if (r.size == 0 || state_.status != Status.Attesting) revert CommitteeNotDrawn(taskId, round);
        if (block.timestamp > r.commitDeadline) revert AttestCommitClosed(taskId, r.commitDeadline);
        uint8 state = _memberState[taskId][round][msg.sender];
        if (state == 0) revert AttesterNotMember(taskId, msg.sender);
        if (state != _MEMBER) revert AttesterAlreadyCommitted(taskId, msg.sender);
        _memberState[taskId][round][msg.sender] = _COMMITTED;
        _commitments[taskId][round][msg.sender] = commitment;
        // a committee has at most 64 members (minCommittee ≤ 64, committeeSize ≤ 31): no uint16 overflow
        unchecked {
            ++r.commits;
        }
        emit ScoresCommitted(taskId, round, msg.sender);
    }

    /// @inheritdoc ISettlement
    function revealScores(uint256 taskId, uint16[] calldata scores, bytes32 salt) external {
        TaskState memory state_ = _states[taskId];
        uint256 round = state_.round;
        Round storage r = _rounds[taskId][round];
        if (r.size == 0 || state_.status != Status.Attesting) revert CommitteeNotDrawn(taskId, round);
        if (block.timestamp > r.revealDeadline) revert AttestRevealClosed(taskId, r.revealDeadline);
        // reveals open once every member committed, or after the commit window if a quorum committed;
        // a round whose commits miss the quorum never opens, so none of its scores becomes public
        if (r.commits < r.size) {
            if (block.timestamp <= r.commitDeadline) revert AttestRevealNotOpen(taskId, r.commitDeadline);
            if (r.commits < _quorum(r.size)) revert AttestRevealNotOpen(taskId, r.commitDeadline);
        }
        uint8 state = _memberState[taskId][round][msg.sender];
        if (state == 0) revert AttesterNotMember(taskId, msg.sender);
        if (state == _MEMBER) revert AttesterNotCommitted(taskId, msg.sender);
        if (state == _REVEALED) revert AttesterAlreadyRevealed(taskId, msg.sender);
        uint256 expected = r.submissions;
        if (scores.length != expected) revert ScoresLengthMismatch(scores.length, expected);
        for (uint256 i = 0; i < scores.length; ++i) {
            if (scores[i] > _BPS && scores[i] != Tally.INVALID_DATA) revert ScoreOutOfRange(i, scores[i]);
        }
        if (_commitment(taskId, round, msg.sender, scores, salt) != _commitments[taskId][round][msg.sender]) {
            revert ScoresCommitmentMismatch(taskId, msg.sender);
        }
        _memberState[taskId][round][msg.sender] = _REVEALED;
        _storeScores(_scoreWords[taskId][round][msg.sender], scores);
        // a committee has at most 64 members (minCommittee ≤ 64, committeeSize ≤ 31): no uint16 overflow
        unchecked {
            ++r.reveals;
        }
        emit ScoresRevealed(taskId, round, msg.sender, scores);
    }

    /// @inheritdoc ISettlement
    function finalize(uint256 taskId) external nonReentrant {
        Status status = _states[taskId].status;
        if (status == Status.Finalized) revert TaskAlreadyFinalized(taskId);
        ITaskMarket.Task memory task = _MARKET.getTask(taskId);
        if (task.revealedCount == 0) {
            _finalizeWithoutSubmissions(taskId, task);
            return;
        }
        if (status == Status.None) _open(taskId, task);
        uint256 round = _states[taskId].round;
        Round storage r = _rounds[taskId][round];
        if (r.size == 0) {
            // an undrawn round (too few eligible validators, or nobody drew) counts as a missed quorum
            if (block.timestamp <= r.expiresAt) revert FinalizeTooEarly(taskId, uint256(r.expiresAt) + 1);
        } else if (block.timestamp <= r.commitDeadline && r.commits < r.size) {
            revert FinalizeTooEarly(taskId, uint256(r.commitDeadline) + 1);
        } else if (block.timestamp <= r.revealDeadline && r.reveals < r.size && r.commits >= _quorum(r.size)) {
            // a round whose commits missed the quorum has no reveal phase: it fails at its commit deadline
            revert FinalizeTooEarly(taskId, uint256(r.revealDeadline) + 1);
        }
        uint256 quorum = _quorum(r.size);
        if (r.size == 0 || r.reveals < quorum) {
            _missQuorum(taskId, round, task, r.reveals, quorum);
            return;
        }
        ITaskMarket.Submission[] memory subs = _revealed(taskId);
        Verdict memory t = _tally(taskId, round, task.accuracyThreshold, subs);
        // mark finalized before any external effect
        _states[taskId].status = Status.Finalized;
        _slashAll(t, subs);
        _REGISTRY.releaseCommittee(taskId, round, _committees[taskId][round]);
        _settle(t, task, subs, t.winner == _NONE ? ITaskMarket.Outcome.NoValidSubmission : ITaskMarket.Outcome.Validated);
        if (t.winner != _NONE) _reward(t, task, subs);
    }

    /// @inheritdoc ISettlement
    function escape(uint256 taskId) external nonReentrant {
        TaskState memory state_ = _states[taskId];
        if (state_.status == Status.Finalized) revert TaskAlreadyFinalized(taskId);
        ITaskMarket.Task memory task = _MARKET.getTask(taskId);
        if (task.testUnlockBlock == 0 || block.timestamp <= task.revealDeadline) {
            revert TaskNotAwaitingAttestation(taskId);
        }
        uint256 round = state_.round;
        Round storage r = _rounds[taskId][round];
        SettlementParams storage p = _paramsOf(taskId);
        uint256 last;
        if (state_.status == Status.None) {
            // round 0 never opened: its expiry counts from the task's reveal deadline
            last = uint256(task.revealDeadline) + p.attestCommitWindow + p.attestRevealWindow;
        } else {
            last = r.size != 0 ? r.revealDeadline : r.expiresAt;
        }
        uint256 readyAt = last + p.escapeDelay + 1;
        if (block.timestamp < readyAt) revert EscapeTooEarly(taskId, readyAt);
        // mark finalized before any external effect
        _states[taskId].status = Status.Finalized;
        // earlier rounds were released when they missed their quorum; the current one is released here
        if (r.size != 0) _REGISTRY.releaseCommittee(taskId, round, _committees[taskId][round]);
        emit TaskEscaped(taskId, round);
        Verdict memory t;
        t.taskId = taskId;
        t.winner = _NONE;
        _settle(t, task, _revealed(taskId), ITaskMarket.Outcome.Unvalidated);
    }

    /// @inheritdoc ISettlement
    function setParams(SettlementParams calldata params_) external onlyOwner {
        _setParams(params_);
    }

    /// @inheritdoc ISettlement
    function setMintRate(address token, uint256 rate) external onlyOwner {
        if (rate > _MAX_MINT_RATE) revert SettlementParamOutOfBounds(bytes32("mintRate"), rate);
        _mintRates[token] = rate;
        emit MintRateSet(token, rate);
    }

    /// @inheritdoc ISettlement
    function mintRate(address token) external view returns (uint256) {
        return _mintRates[token];
    }

    /// @inheritdoc ISettlement
    function scoresCommitment(
        uint256 taskId,
        uint256 round,
        address validator,
        uint16[] calldata scores,
        bytes32 salt
    ) external view returns (bytes32) {
        return _commitment(taskId, round, validator, scores, salt);
    }

    /// @inheritdoc ISettlement
    function statusOf(uint256 taskId) external view returns (Status, uint256) {
        TaskState memory state_ = _states[taskId];
        return (state_.status, state_.round);
    }

    /// @inheritdoc ISettlement
    function getRound(uint256 taskId, uint256 round) external view returns (Round memory) {
        return _rounds[taskId][round];
    }

    /// @inheritdoc ISettlement
    function committee(uint256 taskId, uint256 round) external view returns (address[] memory) {
        return _committees[taskId][round];
    }

    /// @inheritdoc ISettlement
    function scoresOf(uint256 taskId, uint256 round, address validator) external view returns (uint16[] memory) {
        if (_memberState[taskId][round][validator] != _REVEALED) return new uint16[](0);
        return _loadScores(_scoreWords[taskId][round][validator], _rounds[taskId][round].submissions);
    }

    /// @inheritdoc ISettlement
    function params() external view returns (SettlementParams memory) {
        return _history[_history.length - 1];
    }

    /// @inheritdoc ISettlement
    function paramsOf(uint256 taskId) external view returns (SettlementParams memory) {
        return _paramsOf(taskId);
    }

    /// @dev Starts settlement: requests the round-0 draw.
    function _open(uint256 taskId, ITaskMarket.Task memory task) private {
        if (task.testUnlockBlock == 0 || block.timestamp <= task.revealDeadline) {
            revert TaskNotAwaitingAttestation(taskId);
        }
        _states[taskId].status = Status.Attesting;
        _request(taskId, 0, uint256(task.revealDeadline));
    }

    /// @dev Requests a round's draw now: the registry fixes the stake snapshot and asks for randomness.
    function _request(uint256 taskId, uint256 round, uint256 from) private {
        _states[taskId].round = uint8(round);
        Round storage r = _rounds[taskId][round];
        r.requestBlock = uint64(block.number);
        SettlementParams storage p = _paramsOf(taskId);
        r.expiresAt = uint64(from) + p.attestCommitWindow + p.attestRevealWindow;
        emit CommitteeRequested(taskId, round, block.number);
        _REGISTRY.requestDraw(taskId, round);
    }

    /// @dev Slashes the silent members, then redraws once or settles as unvalidated.
    function _missQuorum(uint256 taskId, uint256 round, ITaskMarket.Task memory task, uint256 reveals, uint256 quorum)
        private
    {
        emit QuorumMissed(taskId, round, reveals, quorum);
        address[] memory members = _committees[taskId][round];
        if (members.length != 0) {
            // a round whose commits missed the quorum never opened its reveals: there only the members
            // who did not commit failed their duty; otherwise those who did not reveal
            uint8 duty = _rounds[taskId][round].commits < quorum ? _COMMITTED : _REVEALED;
            address[] memory dutiful = new address[](members.length);
            address[] memory silent = new address[](members.length);
            uint256 a = 0;
            uint256 b = 0;
            for (uint256 i = 0; i < members.length; ++i) {
                if (_memberState[taskId][round][members[i]] >= duty) dutiful[a++] = members[i];
                else silent[b++] = members[i];
            }
            _shrink(dutiful, a);
            _shrink(silent, b);
            _slashSilent(taskId, silent, a != 0 ? dutiful : _minersOf(_revealed(taskId)));
            _REGISTRY.releaseCommittee(taskId, round, members);
        }
        if (round == 0) {
            _request(taskId, 1, block.timestamp);
            return;
        }
        _states[taskId].status = Status.Finalized;
        ITaskMarket.Submission[] memory subs = _revealed(taskId);
        Verdict memory t;
        t.taskId = taskId;
        t.winner = _NONE;
        _settle(t, task, subs, ITaskMarket.Outcome.Unvalidated);
    }

    function _slashSilent(uint256 taskId, address[] memory silent, address[] memory recipients) private {
        uint256 bps = _paramsOf(taskId).slashNoRevealBps;
        for (uint256 i = 0; i < silent.length; ++i) {
            _REGISTRY.slash(taskId, silent[i], bps, recipients);
        }
    }

    /// @dev No revealed model: nothing to attest, the publisher gets the whole pool back.
    function _finalizeWithoutSubmissions(uint256 taskId, ITaskMarket.Task memory task) private {
        if (task.testUnlockBlock == 0 || block.timestamp <= task.revealDeadline) {
            revert TaskNotAwaitingAttestation(taskId);
        }
        _states[taskId].status = Status.Finalized;
        // the reward and bond back to the publisher, unrevealed miners' bonds to the treasury
        ITaskMarket.Payout[] memory payouts = Payouts.withoutSubmissions(_terms(task, _paramsOf(taskId)));
        _MARKET.settle(
            taskId,
            ITaskMarket.Settlement({
                outcome: ITaskMarket.Outcome.NoValidSubmission,
                payouts: payouts,
                winner: _NONE,
                winnerScore: 0,
                ommersHash: bytes32(0)
            })
        );
        emit TaskFinalized(taskId, uint8(ITaskMarket.Outcome.NoValidSubmission), _NONE, new uint16[](0));
    }

    /// @dev Medians, who agreed, who deviated, who stayed silent, the winner and the ommers.
    function _tally(uint256 taskId, uint256 round, uint16 threshold, ITaskMarket.Submission[] memory subs)
        private
        view
        returns (Verdict memory t)
    {
        t.taskId = taskId;
        t.round = round;
        t.threshold = threshold;
        address[] memory members = _committees[taskId][round];
        address[] memory revealers = new address[](members.length);
        uint256[][] memory words = new uint256[][](members.length);
        uint256 reveals = 0;
        t.silent = new address[](members.length);
        uint256 silent = 0;
        for (uint256 i = 0; i < members.length; ++i) {
            if (_memberState[taskId][round][members[i]] != _REVEALED) {
                t.silent[silent++] = members[i];
                continue;
            }
            words[reveals] = _loadWords(_scoreWords[taskId][round][members[i]], subs.length);
            revealers[reveals++] = members[i];
        }
        _shrink(t.silent, silent);
        _shrink(revealers, reveals);
        bool[] memory deviant = _medians(t, words, revealers.length, subs.length);
        _classify(t, revealers, deviant);
        _pickWinner(t, subs);
    }

    /// @dev Per submission, sorts the keys `score << 8 | revealer` and takes the lower median; the
    ///      revealers whose scores fall outside the band that agrees with the median (within
    ///      `deviationTolerance`, `Tally.band`) are then a prefix and a suffix of the sorted keys.
    function _medians(Verdict memory t, uint256[][] memory words, uint256 reveals, uint256 n)
        private
        view
        returns (bool[] memory deviant)
    {
        deviant = new bool[](reveals);
        t.medians = new uint16[](n);
        uint256[] memory keys = new uint256[](reveals);
        uint256 tolerance = _paramsOf(t.taskId).deviationTolerance;
        for (uint256 j = 0; j < n; ++j) {
            // j < 64 and reveals ≤ 64: shifts and indices are small
            unchecked {
                uint256 shift = (j % 16) * 16;
                for (uint256 v = 0; v < reveals; ++v) {
                    keys[v] = ((words[v][j / 16] >> shift) & 0xffff) << 8 | v;
                }
            }
            uint256 m = Median.lowerMedian(keys) >> 8;
            t.medians[j] = uint16(m);
            (uint256 lo, uint256 hi) = Tally.band(m, tolerance);
            for (uint256 a = 0; a < reveals && keys[a] >> 8 < lo; ++a) {
                deviant[keys[a] & 0xff] = true;
            }
            for (uint256 b = reveals; b > 0 && keys[b - 1] >> 8 > hi; --b) {
                deviant[keys[b - 1] & 0xff] = true;
            }
        }
    }

    function _classify(Verdict memory t, address[] memory revealers, bool[] memory deviant) private pure {
        t.agreeing = new address[](revealers.length);
        t.deviating = new address[](revealers.length);
        uint256 agree = 0;
        uint256 deviate = 0;
        for (uint256 v = 0; v < revealers.length; ++v) {
            if (deviant[v]) t.deviating[deviate++] = revealers[v];
            else t.agreeing[agree++] = revealers[v];
        }
        _shrink(t.agreeing, agree);
        _shrink(t.deviating, deviate);
    }

    /// @dev Winner: earliest commitment among medians ≥ threshold and ≥ best − epsilon. Ommers: the
    ///      other valid submissions by median (ties: earlier commitment), at most `maxOmmers`.
    function _pickWinner(Verdict memory t, ITaskMarket.Submission[] memory subs) private view {
        t.winner = _NONE;
        uint256 n = subs.length;
        uint256 best = 0;
        bool any = false;
        for (uint256 j = 0; j < n; ++j) {
            if (Tally.passes(t.medians[j], t.threshold) && t.medians[j] >= best) {
                best = t.medians[j];
                any = true;
            }
        }
        if (!any) {
            t.ommers = new uint256[](0);
            return;
        }
        SettlementParams storage p = _paramsOf(t.taskId);
        uint256 floor = best > p.epsilon ? best - p.epsilon : 0;
        for (uint256 j = 0; j < n; ++j) {
            if (!Tally.passes(t.medians[j], t.threshold) || t.medians[j] < floor) continue;
            if (t.winner == _NONE || subs[j].commitSeq < subs[t.winner].commitSeq) t.winner = j;
        }
        uint256 maxOmmers = p.maxOmmers;
        t.ommers = new uint256[](maxOmmers);
        bool[] memory taken = new bool[](n);
        taken[t.winner] = true;
        uint256 count = 0;
        while (count < maxOmmers) {
            uint256 pick = _NONE;
            for (uint256 j = 0; j < n; ++j) {
                if (taken[j] || !Tally.passes(t.medians[j], t.threshold)) continue;
                if (
                    pick == _NONE || t.medians[j] > t.medians[pick]
                        || (t.medians[j] == t.medians[pick] && subs[j].commitSeq < subs[pick].commitSeq)
                ) pick = j;
            }
            if (pick == _NONE) break;
            taken[pick] = true;
            t.ommers[count++] = pick;
        }
        _shrinkIndices(t.ommers, count);
    }

    /// @dev Slashed stake goes to the validators who agreed with the median; failing those, to the
    ///      miners whose submissions passed; failing those, to every miner who revealed.
    function _slashAll(Verdict memory t, ITaskMarket.Submission[] memory subs) private {
        if (t.silent.length == 0 && t.deviating.length == 0) return;
        SettlementParams storage p = _paramsOf(t.taskId);
        address[] memory recipients = t.agreeing;
        if (recipients.length == 0) recipients = _passingMiners(t, subs);
        if (recipients.length == 0) recipients = _minersOf(subs);
        for (uint256 i = 0; i < t.silent.length; ++i) {
            _REGISTRY.slash(t.taskId, t.silent[i], p.slashNoRevealBps, recipients);
        }
        for (uint256 i = 0; i < t.deviating.length; ++i) {
            _REGISTRY.slash(t.taskId, t.deviating[i], p.slashDeviationBps, recipients);
        }
    }

    /// @dev Posts the payouts (`Payouts.settled`: the split rules live there) and, with a winner, the block.
    function _settle(
        Verdict memory t,
        ITaskMarket.Task memory task,
        ITaskMarket.Submission[] memory subs,
        ITaskMarket.Outcome outcome
    ) private {
        SettlementParams storage p = _paramsOf(t.taskId);
        // the committee found the task's test data invalid: the publisher's fault, never the miners'
        bool invalidData = t.winner == _NONE && t.medians.length != 0 && t.medians[0] == Tally.INVALID_DATA;
        ITaskMarket.Settlement memory s;
        s.outcome = outcome;
        s.payouts = Payouts.settled(
            _terms(task, p),
            Payouts.Verdict(_minersOf(subs), t.medians, t.agreeing, t.winner, t.ommers, invalidData)
        );
        s.winner = t.winner;
        if (t.winner != _NONE) {
            s.ommersHash = _ommersHash(t);
            s.winnerScore = t.medians[t.winner];
        }
        if (invalidData) emit TaskDataInvalid(t.taskId);
        _MARKET.settle(t.taskId, s);
        emit TaskFinalized(t.taskId, uint8(outcome), t.winner, t.medians);
    }

    /// @dev The task's amounts and the shares it was posted under, for `Payouts`.
    function _terms(ITaskMarket.Task memory task, SettlementParams storage p)
        private
        view
        returns (Payouts.Terms memory)
    {
        return Payouts.Terms(
            task.publisher,
            _MARKET.treasury(),
            task.reward,
            task.publisherBond,
            task.minerBond,
            task.totalMinerBonds,
            p.validatorShareBps,
            p.ommerShareBps
        );
    }

    /// @dev Block rewards (DLBC eq. 5–6, PoLe's ommer reward), unless the self-dealing guard withholds them.
    function _reward(Verdict memory t, ITaskMarket.Task memory task, ITaskMarket.Submission[] memory subs) private {
        address winner = subs[t.winner].miner;
        bool winnerIsPublisher = winner == task.publisher;
        if (subs.length < 2 || winnerIsPublisher) {
            emit BlockRewardWithheld(t.taskId, subs.length, winnerIsPublisher);
            return;
        }
        (uint256 publisherAmount, uint256 winnerAmount, uint256 ommerAmount) = _blockAmounts(t.taskId, task, t.ommers.length);
        emit BlockRewarded(t.taskId, publisherAmount, winnerAmount, ommerAmount);
        // posted, not minted: one hash instead of a fresh balance per recipient; they claim (claimMints)
        IRewardToken.Mint[] memory mints = new IRewardToken.Mint[](2 + t.ommers.length);
        mints[0] = IRewardToken.Mint(task.publisher, publisherAmount);
        mints[1] = IRewardToken.Mint(winner, winnerAmount);
        for (uint256 i = 0; i < t.ommers.length; ++i) {
            address ommer = subs[t.ommers[i]].miner;
            // the publisher's own ommer submissions earn nothing either
            mints[2 + i] = IRewardToken.Mint(ommer, ommer != task.publisher ? ommerAmount : 0);
        }
        _REWARD_TOKEN.postMints(t.taskId, mints);
    }

    /// @dev The block reward amounts of `Rewards.amounts`: the publisher's share at the queue length
    ///      recorded when the task started (read at finalize, the winner could move it by posting or
    ///      cancelling tasks), capped at reward × the token's mint rate (0 when unlisted).
    function _blockAmounts(uint256 taskId, ITaskMarket.Task memory task, uint256 ommers)
        private
        view
        returns (uint256 publisherAmount, uint256 winnerAmount, uint256 ommerAmount)
    {
        SettlementParams storage p = _paramsOf(taskId);
        ITaskMarket.MarketParams memory mp = _MARKET.params();
        return Rewards.amounts(
            p.blockReward,
            Rewards.publisherFraction(mp.rankScale, task.queueLengthAtStart, mp.maxQueue),
            p.ommerBlockShareBps,
            ommers,
            Rewards.mintCap(task.reward, _mintRates[task.token])
        );
    }

    function _setParams(SettlementParams memory p) private {
        if (p.blockReward > _MAX_BLOCK_REWARD) revert SettlementParamOutOfBounds(bytes32("blockReward"), p.blockReward);
        if (p.attestCommitWindow < _MIN_WINDOW || p.attestCommitWindow > _MAX_WINDOW) {
            revert SettlementParamOutOfBounds(bytes32("attestCommitWindow"), p.attestCommitWindow);
        }
        if (p.attestRevealWindow < _MIN_WINDOW || p.attestRevealWindow > _MAX_WINDOW) {
            revert SettlementParamOutOfBounds(bytes32("attestRevealWindow"), p.attestRevealWindow);
        }
        if (p.committeeSize == 0 || p.committeeSize > _MAX_COMMITTEE) {
            revert SettlementParamOutOfBounds(bytes32("committeeSize"), p.committeeSize);
        }
        if (p.epsilon > _BPS) revert SettlementParamOutOfBounds(bytes32("epsilon"), p.epsilon);
        if (p.maxOmmers > _MAX_OMMERS) revert SettlementParamOutOfBounds(bytes32("maxOmmers"), p.maxOmmers);
        if (uint256(p.validatorShareBps) + p.ommerShareBps > _MAX_SHARES) {
            revert SettlementParamOutOfBounds(bytes32("validatorShareBps+ommerShareBps"), uint256(p.validatorShareBps) + p.ommerShareBps);
        }
        if (p.slashNoRevealBps > _BPS) revert SettlementParamOutOfBounds(bytes32("slashNoRevealBps"), p.slashNoRevealBps);
        if (p.slashDeviationBps > _BPS) revert SettlementParamOutOfBounds(bytes32("slashDeviationBps"), p.slashDeviationBps);
        if (p.deviationTolerance > _BPS) revert SettlementParamOutOfBounds(bytes32("deviationTolerance"), p.deviationTolerance);
        if (p.ommerBlockShareBps > _BPS) revert SettlementParamOutOfBounds(bytes32("ommerBlockShareBps"), p.ommerBlockShareBps);
        if (p.escapeDelay < _MIN_ESCAPE_DELAY || p.escapeDelay > _MAX_ESCAPE_DELAY) {
            revert SettlementParamOutOfBounds(bytes32("escapeDelay"), p.escapeDelay);
        }
        // the change applies from the next task posted; tasks posted before keep their entry
        uint256 from = _history.length == 0 ? 0 : _MARKET.taskCount() + 1;
        uint256 last = _history.length;
        if (last != 0 && _paramsFrom[last - 1] == from) {
            // no task was posted since the last change: it is replaced
            _history[last - 1] = p;
        } else {
            _history.push(p);
            _paramsFrom.push(from);
        }
        emit SettlementParamsSet(from, p);
    }

    function _drawFromRegistry(uint256 taskId, uint256 round, ITaskMarket.Task memory task)
        private
        returns (address[] memory)
    {
        uint256 minSize = _MARKET.params().minCommittee;
        // never seat fewer than the market's minimum, whatever committeeSize says
        uint256 size = _paramsOf(taskId).committeeSize;
        if (size < minSize) size = minSize;
        return _REGISTRY.drawCommittee(taskId, round, size, minSize, _exclusions(taskId, round, task));
    }

    /// @dev Publisher and miners of the task may not attest: the publisher, plus every registered
    ///      validator the market knows as a miner of this task (committed, revealed or not). A redraw also
    ///      excludes the members of round 0 (round isolation: they saw nothing of round 1 and vice versa).
    function _exclusions(uint256 taskId, uint256 round, ITaskMarket.Task memory task)
        private
        view
        returns (address[] memory list)
    {
        address[] memory candidates = _REGISTRY.validators();
        address[] memory previous = round == 0 ? new address[](0) : _committees[taskId][0];
        list = new address[](candidates.length + 1 + previous.length);
        list[0] = task.publisher;
        uint256 count = 1;
        for (uint256 i = 0; i < candidates.length; ++i) {
            if (_MARKET.isMiner(taskId, candidates[i])) list[count++] = candidates[i];
        }
        for (uint256 i = 0; i < previous.length; ++i) {
            list[count++] = previous[i];
        }
        _shrink(list, count);
    }

    /// @dev The newest parameter entry whose first task is at or before `taskId` (entry 0 starts at 0).
    function _paramsOf(uint256 taskId) private view returns (SettlementParams storage) {
        uint256 i = _history.length - 1;
        // _paramsFrom[0] == 0 ≤ taskId: the loop stops at entry 0 at the latest
        while (_paramsFrom[i] > taskId) --i;
        return _history[i];
    }

    function _storeScores(mapping(uint256 => uint256) storage words, uint16[] calldata scores) private {
        uint256 n = scores.length;
        for (uint256 w = 0; w * 16 < n; ++w) {
            uint256 word = 0;
            uint256 end = n < (w + 1) * 16 ? n : (w + 1) * 16;
            for (uint256 i = w * 16; i < end; ++i) {
                word |= uint256(scores[i]) << (16 * (i - w * 16));
            }
            words[w] = word;
        }
    }

    function _loadWords(mapping(uint256 => uint256) storage words, uint256 n)
        private
        view
        returns (uint256[] memory loaded)
    {
        loaded = new uint256[]((n + 15) / 16);
        for (uint256 w = 0; w < loaded.length; ++w) {
            loaded[w] = words[w];
        }
    }

    function _loadScores(mapping(uint256 => uint256) storage words, uint256 n)
        private
        view
        returns (uint16[] memory scores)
    {
        scores = new uint16[](n);
        // n ≤ 64 submissions: no index or shift can overflow
        unchecked {
            for (uint256 base = 0; base < n; base += 16) {
                uint256 word = words[base / 16];
                uint256 end = n < base + 16 ? n : base + 16;
                for (uint256 i = base; i < end; ++i) {
                    scores[i] = uint16(word);
                    word >>= 16;
                }
            }
        }
    }

    function _commitment(uint256 taskId, uint256 round, address validator, uint16[] calldata scores, bytes32 salt)
        private
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(address(this), block.chainid, taskId, round, validator, scores, salt));
    }

    /// @dev ⌈2n/3⌉ of a committee of n.
    function _quorum(uint256 size) private pure returns (uint256) {
        return (2 * size + 2) / 3;
    }

    /// @dev keccak256(abi.encode(bytes32[] modelHashes of the ommers, in ommer order)).
    function _ommersHash(Verdict memory t) private view returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](t.ommers.length);
        for (uint256 i = 0; i < hashes.length; ++i) {
            hashes[i] = _MARKET.modelHashOf(t.taskId, t.ommers[i]);
        }
        return keccak256(abi.encode(hashes));
    }

    /// @dev The revealed submissions with only `miner` and `commitSeq` set: one market slot per submission
    /// instead of `getRevealed`'s four (the ommers' model hashes are read in `_ommersHash`).
    function _revealed(uint256 taskId) private view returns (ITaskMarket.Submission[] memory subs) {
        uint256[] memory words = _MARKET.revealedMiners(taskId);
        subs = new ITaskMarket.Submission[](words.length);
        for (uint256 j = 0; j < words.length; ++j) {
            subs[j].miner = address(uint160(words[j]));
            subs[j].commitSeq = uint32(words[j] >> 160);
        }
    }

    function _passingMiners(Verdict memory t, ITaskMarket.Submission[] memory subs)
        private
        pure
        returns (address[] memory list)
    {
        list = new address[](subs.length);
        uint256 count = 0;
        for (uint256 j = 0; j < subs.length; ++j) {
            if (t.medians.length > j && Tally.passes(t.medians[j], t.threshold)) list[count++] = subs[j].miner;
        }
        _shrink(list, count);
    }

    function _minersOf(ITaskMarket.Submission[] memory subs) private pure returns (address[] memory list) {
        list = new address[](subs.length);
        for (uint256 j = 0; j < subs.length; ++j) {
            list[j] = subs[j].miner;
        }
    }

    /// @dev Cuts a memory array to its first `length` entries (length ≤ the allocated length).
    function _shrink(address[] memory list, uint256 length) private pure {
        assembly ("memory-safe") {
            mstore(list, length)
        }
    }

    function _shrinkIndices(uint256[] memory list, uint256 length) private pure {
        assembly ("memory-safe") {
            mstore(list, length)
        }
    }
}
