// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {IRandomnessSource} from "./interfaces/IRandomnessSource.sol";
import {IValidatorRegistry} from "./interfaces/IValidatorRegistry.sol";
import {Sortition} from "./libraries/Sortition.sol";

/// @title ValidatorRegistry
/// @notice Holds validator stakes (ETH or one ERC20), draws stake-weighted committees and slashes.
/// @dev A draw is requested, then drawn once its randomness is available: eligibility and weights are the
///      stakes checkpointed `warmupBlocks` before the request block, the seed is the randomness source's
///      answer to the request. Nothing the drawer does in the draw transaction changes the committee.
contract ValidatorRegistry is IValidatorRegistry, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Checkpoints for Checkpoints.Trace208;

    uint256 private constant _BPS = 10_000;
    uint64 private constant _MAX_UNBONDING_PERIOD = 60 days;
    uint32 private constant _MAX_WARMUP_BLOCKS = 50_400;
    uint32 private constant _MAX_VALIDATORS = 512;

    address private immutable _STAKE_TOKEN;
    IRandomnessSource private immutable _RANDOMNESS;

    RegistryParams private _params;
    address private _settlement;
    uint256 private _bondedCount;
    uint256 private _totalOwed;
    address[] private _list;
    mapping(address validator => uint256 indexPlusOne) private _listIndex;
    mapping(address validator => Validator) private _validators;
    mapping(address account => uint256 amount) private _credits;
    mapping(uint256 taskId => mapping(address validator => bool)) private _slashed;
    /// @dev Draw weight by block: the stake while bonded, 0 otherwise.
    mapping(address validator => Checkpoints.Trace208) private _weights;
    mapping(uint256 taskId => mapping(uint256 round => DrawRequest)) private _requests;

    modifier onlySettlement() {
        if (msg.sender != _settlement) revert CallerNotSettlement(msg.sender);
        _;
    }

    /// @param initialOwner Owner (parameters, settlement module).
    /// @param stakeToken_ Stake token; address(0) for ETH.
    /// @param randomness_ Source of the draw seeds (a future blockhash on L1, a VRF on L2s).
    /// @param params_ Initial parameters.
    constructor(address initialOwner, address stakeToken_, IRandomnessSource randomness_, RegistryParams memory params_)
        Ownable(initialOwner)
    {
        if (address(randomness_) == address(0)) revert RandomnessSourceZero();
        _STAKE_TOKEN = stakeToken_;
        _RANDOMNESS = randomness_;
        _setParams(params_);
    }

    /// @inheritdoc IValidatorRegistry
    function stake(uint256 amount) external payable nonReentrant {
        if (amount == 0) revert StakeZero();
        Validator storage v = _validators[msg.sender];
        if (v.unbondingAt != 0) revert ValidatorUnbonding(msg.sender);
        uint256 newStake = v.stake + amount;
        if (newStake < _params.minStake) revert StakeBelowMinimum(newStake, _params.minStake);
        if (!v.registered) {
            if (_list.length >= _params.maxValidators) revert RegistryFull(_params.maxValidators);
            _list.push(msg.sender);
            _listIndex[msg.sender] = _list.length;
            v.registered = true;
        }
        bool wasBonded = _isBonded(v);
        v.stake = newStake;
        _totalOwed += amount;
        if (!wasBonded) ++_bondedCount;
        _checkpoint(msg.sender, v);
        emit Staked(msg.sender, amount, newStake);
        // pull the funds last; a short transfer reverts the whole call
        _pull(amount);
    }

    /// @inheritdoc IValidatorRegistry
    function requestUnbond() external {
        Validator storage v = _validators[msg.sender];
        if (v.stake == 0) revert ValidatorNotStaked(msg.sender);
        if (v.unbondingAt != 0) revert ValidatorUnbonding(msg.sender);
        if (_isBonded(v)) --_bondedCount;
        v.unbondingAt = uint64(block.timestamp);
        // leave the draw list now, so that refundable capital cannot hold its places (RegistryFull)
        v.registered = false;
        _removeFromList(msg.sender);
        _checkpoint(msg.sender, v);
        emit UnbondRequested(msg.sender, block.timestamp + _params.unbondingPeriod);
    }

    /// @inheritdoc IValidatorRegistry
    function withdraw() external nonReentrant {
        Validator storage v = _validators[msg.sender];
        if (v.unbondingAt == 0) revert UnbondNotRequested(msg.sender);
        uint256 readyAt = uint256(v.unbondingAt) + _params.unbondingPeriod;
        if (block.timestamp < readyAt) revert UnbondingNotOver(msg.sender, readyAt);
        if (v.openCommittees != 0) revert ValidatorOnCommittee(msg.sender, v.openCommittees);
        uint256 amount = v.stake;
        // forget the validator before paying out
        _totalOwed -= amount;
        delete _validators[msg.sender];
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IValidatorRegistry
    function withdrawCredit() external nonReentrant {
        uint256 amount = _credits[msg.sender];
        if (amount == 0) revert NoCredit(msg.sender);
        // zero the credit before paying out
        _credits[msg.sender] = 0;
        _totalOwed -= amount;
        emit CreditWithdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IValidatorRegistry
    function setSettlement(address settlement_) external onlyOwner {
        if (_settlement != address(0) || settlement_ == address(0)) revert SettlementAlreadySet();
        _settlement = settlement_;
        emit SettlementSet(settlement_);
    }

    /// @inheritdoc IValidatorRegistry
    function setParams(RegistryParams calldata params_) external onlyOwner {
        _setParams(params_);
    }

    /// @inheritdoc IValidatorRegistry
    function requestDraw(uint256 taskId, uint256 round) external onlySettlement {
        DrawRequest storage q = _requests[taskId][round];
        if (q.requestBlock != 0) revert DrawAlreadyRequested(taskId, round);
        q.requestBlock = uint64(block.number);
        q.randomnessId = _RANDOMNESS.request();
        emit DrawRequested(taskId, round, block.number, q.randomnessId);
    }

    /// @inheritdoc IValidatorRegistry
    function drawCommittee(uint256 taskId, uint256 round, uint256 size, uint256 minSize, address[] calldata exclude)
        external
        onlySettlement
        returns (address[] memory members)
    {
        DrawRequest storage q = _requests[taskId][round];
        if (q.requestBlock == 0) revert DrawNotRequested(taskId, round);
        (IRandomnessSource.RandomnessStatus status, bytes32 value) = _RANDOMNESS.randomness(q.randomnessId);
        if (status == IRandomnessSource.RandomnessStatus.Pending) revert DrawTooEarly(taskId, round, q.randomnessId);
        if (status == IRandomnessSource.RandomnessStatus.Expired) {
            // renew the randomness only: the stake snapshot stays the one of the first request
            q.randomnessId = _RANDOMNESS.request();
            emit DrawRequested(taskId, round, q.requestBlock, q.randomnessId);
            return new address[](0);
        }
        bytes32 drawSeed = keccak256(abi.encode(value, taskId, round));
        uint256 eligible;
        (members, eligible) = _select(drawSeed, size, exclude, _snapshotBlock(q.requestBlock));
        if (eligible < minSize) revert CommitteeTooSmall(eligible, minSize);
        for (uint256 i = 0; i < members.length; ++i) {
            ++_validators[members[i]].openCommittees;
        }
        emit CommitteeDrawn(taskId, round, members, drawSeed);
    }

    /// @inheritdoc IValidatorRegistry
    function releaseCommittee(uint256 taskId, uint256 round, address[] calldata members) external onlySettlement {
        for (uint256 i = 0; i < members.length; ++i) {
            --_validators[members[i]].openCommittees;
        }
        emit CommitteeReleased(taskId, round);
    }

    /// @inheritdoc IValidatorRegistry
    function slash(uint256 taskId, address validator, uint256 bps, address[] calldata recipients)
        external
        onlySettlement
        returns (uint256 amount)
    {
        if (bps > _BPS) revert SlashFractionTooLarge(bps);
        if (recipients.length == 0) revert SlashNoRecipients();
        if (_slashed[taskId][validator]) return 0;
        _slashed[taskId][validator] = true;
        Validator storage v = _validators[validator];
        amount = v.stake * bps / _BPS;
        if (amount == 0) return 0;
        bool wasBonded = _isBonded(v);
        v.stake -= amount;
        if (wasBonded && !_isBonded(v)) --_bondedCount;
        _checkpoint(validator, v);
        // the amount stays owed: it moves from a stake to credits
        uint256 part = amount / recipients.length;
        _credits[recipients[0]] += amount - part * (recipients.length - 1);
        for (uint256 i = 1; i < recipients.length; ++i) {
            _credits[recipients[i]] += part;
        }
        emit Slashed(taskId, validator, amount, recipients);
    }

    /// @inheritdoc IValidatorRegistry
    function bondedCount() external view returns (uint256) {
        return _bondedCount;
    }

    /// @inheritdoc IValidatorRegistry
    function getValidator(address validator) external view returns (Validator memory) {
        return _validators[validator];
    }

    /// @inheritdoc IValidatorRegistry
    function creditOf(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @inheritdoc IValidatorRegistry
    function wasSlashed(uint256 taskId, address validator) external view returns (bool) {
        return _slashed[taskId][validator];
    }

    /// @inheritdoc IValidatorRegistry
    function previewDraw(bytes32 drawSeed, uint256 size, address[] calldata exclude)
        external
        view
        returns (address[] memory members)
    {
        (members,) = _select(drawSeed, size, exclude, block.number);
    }

    /// @inheritdoc IValidatorRegistry
    function drawFrequencies(bytes32 baseSeed, uint256 draws, uint256 size)
        external
        view
        returns (address[] memory validators_, uint256[] memory hits)
    {
        validators_ = _list;
        uint256 n = validators_.length;
        hits = new uint256[](n);
        uint256[] memory weights = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            weights[i] = _weightAt(validators_[i], block.number);
        }
        for (uint256 d = 0; d < draws; ++d) {
            Sortition.Top memory top = Sortition.empty(size < n ? size : n);
            bytes32 drawSeed = keccak256(abi.encode(baseSeed, d));
            for (uint256 i = 0; i < n; ++i) {
                if (weights[i] == 0) continue;
                Sortition.insert(top, validators_[i], Sortition.clock(drawSeed, validators_[i]), weights[i]);
            }
            for (uint256 m = 0; m < top.filled; ++m) {
                ++hits[_listIndex[top.members[m]] - 1];
            }
        }
    }

    /// @inheritdoc IValidatorRegistry
    function drawRequest(uint256 taskId, uint256 round) external view returns (DrawRequest memory) {
        return _requests[taskId][round];
    }

    /// @inheritdoc IValidatorRegistry
    function drawStatus(uint256 taskId, uint256 round) external view returns (IRandomnessSource.RandomnessStatus status) {
        DrawRequest storage q = _requests[taskId][round];
        if (q.requestBlock == 0) revert DrawNotRequested(taskId, round);
        (status,) = _RANDOMNESS.randomness(q.randomnessId);
    }

    /// @inheritdoc IValidatorRegistry
    function weightAt(address validator, uint256 blockNumber) external view returns (uint256) {
        return _weightAt(validator, blockNumber);
    }

    /// @inheritdoc IValidatorRegistry
    function randomnessSource() external view returns (address) {
        return address(_RANDOMNESS);
    }

    /// @inheritdoc IValidatorRegistry
    function validators() external view returns (address[] memory) {
        return _list;
    }

    /// @inheritdoc IValidatorRegistry
    function stakeToken() external view returns (address) {
        return _STAKE_TOKEN;
    }

    /// @inheritdoc IValidatorRegistry
    function settlement() external view returns (address) {
        return _settlement;
    }

    /// @inheritdoc IValidatorRegistry
    function params() external view returns (RegistryParams memory) {
        return _params;
    }

    /// @inheritdoc IValidatorRegistry
    function totalOwed() external view returns (uint256) {
        return _totalOwed;
    }

    function _setParams(RegistryParams memory p) private {
        if (p.minStake == 0) revert RegistryParamOutOfBounds("minStake", p.minStake);
        if (p.unbondingPeriod > _MAX_UNBONDING_PERIOD) {
            revert RegistryParamOutOfBounds("unbondingPeriod", p.unbondingPeriod);
        }
        if (p.warmupBlocks == 0 || p.warmupBlocks > _MAX_WARMUP_BLOCKS) {
            revert RegistryParamOutOfBounds("warmupBlocks", p.warmupBlocks);
        }
        if (p.maxValidators == 0 || p.maxValidators > _MAX_VALIDATORS || p.maxValidators < _list.length) {
            revert RegistryParamOutOfBounds("maxValidators", p.maxValidators);
        }
        // a new minStake changes who counts as bonded
        bool recount = p.minStake != _params.minStake;
        _params = p;
        if (recount) _recountBonded();
        emit RegistryParamsSet(p);
    }

    function _recountBonded() private {
        uint256 count = 0;
        for (uint256 i = 0; i < _list.length; ++i) {
            address account = _list[i];
            Validator storage v = _validators[account];
            if (_isBonded(v)) ++count;
            _checkpoint(account, v);
        }
        _bondedCount = count;
    }

    function _removeFromList(address validator) private {
        uint256 index = _listIndex[validator] - 1;
        address last = _list[_list.length - 1];
        _list[index] = last;
        _listIndex[last] = index + 1;
        _list.pop();
        delete _listIndex[validator];
    }

    function _pull(uint256 amount) private {
        if (_STAKE_TOKEN == address(0)) {
            if (msg.value != amount) revert StakeValueMismatch(amount, msg.value);
            return;
        }
        if (msg.value != 0) revert StakeValueMismatch(amount, msg.value);
        IERC20 token = IERC20(_STAKE_TOKEN);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert StakeTransferShort(amount, received);
    }

    function _send(address to, uint256 amount) private {
        if (_STAKE_TOKEN == address(0)) {
            Address.sendValue(payable(to), amount);
        } else {
            IERC20(_STAKE_TOKEN).safeTransfer(to, amount);
        }
    }

    function _isBonded(Validator storage v) private view returns (bool) {
        return v.unbondingAt == 0 && v.stake >= _params.minStake;
    }

    /// @dev Records the validator's draw weight from this block on.
    function _checkpoint(address account, Validator storage v) private {
        uint256 weight = _isBonded(v) ? v.stake : 0;
        _weights[account].push(SafeCast.toUint48(block.number), SafeCast.toUint208(weight));
    }

    function _weightAt(address account, uint256 blockNumber) private view returns (uint256) {
        return _weights[account].upperLookupRecent(SafeCast.toUint48(blockNumber));
    }

    /// @dev The block whose stakes a draw requested in `requestBlock` uses: the warm-up before it (a stake
    ///      made in the request block or within the warm-up before it has no weight).
    function _snapshotBlock(uint256 requestBlock) private view returns (uint256) {
        uint256 warmup = _params.warmupBlocks;
        return requestBlock > warmup ? requestBlock - warmup : 0;
    }

    /// @dev The `size` listed validators not in `exclude` with the smallest weighted clocks (Sortition),
    ///      weighted by their stake at `snapshot`; `eligible` counts those with weight.
    function _select(bytes32 drawSeed, uint256 size, address[] memory exclude, uint256 snapshot)
        private
        view
        returns (address[] memory members, uint256 eligible)
    {
        uint256 n = _list.length;
        Sortition.Top memory top = Sortition.empty(size < n ? size : n);
        for (uint256 i = 0; i < n; ++i) {
            address candidate = _list[i];
            uint256 weight = _weightAt(candidate, snapshot);
            if (weight == 0 || _contains(exclude, candidate)) continue;
            ++eligible;
            Sortition.insert(top, candidate, Sortition.clock(drawSeed, candidate), weight);
        }
        members = top.members;
        uint256 filled = top.filled;
        // fewer eligible than seats: shrink to those drawn
        assembly ("memory-safe") {
            mstore(members, filled)
        }
    }

    function _contains(address[] memory list, address account) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == account) return true;
        }
        return false;
    }
}
