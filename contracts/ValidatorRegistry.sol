// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IValidatorRegistry} from "./interfaces/IValidatorRegistry.sol";

/// @title ValidatorRegistry
/// @notice Holds validator stakes (ETH or one ERC20), draws stake-weighted committees and slashes.
contract ValidatorRegistry is IValidatorRegistry, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 private constant _BPS = 10_000;
    uint64 private constant _MAX_UNBONDING_PERIOD = 60 days;
    uint32 private constant _MAX_DRAW_DELAY = 256;
    uint32 private constant _MAX_VALIDATORS = 512;

    address private immutable _STAKE_TOKEN;

    RegistryParams private _params;
    address private _settlement;
    uint256 private _bondedCount;
    uint256 private _totalOwed;
    address[] private _list;
    mapping(address validator => uint256 indexPlusOne) private _listIndex;
    mapping(address validator => Validator) private _validators;
    mapping(address account => uint256 amount) private _credits;
    mapping(uint256 taskId => mapping(address validator => bool)) private _slashed;

    /// @dev Draw candidates: bonded, not excluded, weighted by stake.
    struct Pool {
        address[] accounts;
        uint256[] weights;
        uint256 count;
        uint256 total;
    }

    modifier onlySettlement() {
        if (msg.sender != _settlement) revert CallerNotSettlement(msg.sender);
        _;
    }

    /// @param initialOwner Owner (parameters, settlement module).
    /// @param stakeToken_ Stake token; address(0) for ETH.
    /// @param params_ Initial parameters.
    constructor(address initialOwner, address stakeToken_, RegistryParams memory params_) Ownable(initialOwner) {
        _STAKE_TOKEN = stakeToken_;
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
        _removeFromList(msg.sender);
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
    function drawCommittee(
        uint256 taskId,
        uint256 round,
        uint256 requestBlock,
        bytes32 seed,
        uint256 size,
        uint256 minSize,
        address[] calldata exclude
    ) external onlySettlement returns (address[] memory members) {
        uint256 readyBlock = requestBlock + _params.drawDelay;
        if (block.number < readyBlock) revert DrawTooEarly(requestBlock, readyBlock);
        bytes32 drawSeed = keccak256(abi.encode(seed, block.prevrandao, taskId, round));
        Pool memory pool = _eligible(exclude);
        if (pool.count < minSize) revert CommitteeTooSmall(pool.count, minSize);
        members = _pick(pool, drawSeed, size);
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
        returns (address[] memory)
    {
        return _pick(_eligible(exclude), drawSeed, size);
    }

    /// @inheritdoc IValidatorRegistry
    function drawFrequencies(bytes32 baseSeed, uint256 draws, uint256 size)
        external
        view
        returns (address[] memory validators_, uint256[] memory hits)
    {
        validators_ = _list;
        hits = new uint256[](validators_.length);
        Pool memory pool = _eligible(new address[](0));
        uint256[] memory weights = pool.weights;
        Pool memory scratch = Pool(pool.accounts, new uint256[](pool.count), pool.count, pool.total);
        for (uint256 d = 0; d < draws; ++d) {
            for (uint256 i = 0; i < pool.count; ++i) {
                scratch.weights[i] = weights[i];
            }
            address[] memory members = _pick(scratch, keccak256(abi.encode(baseSeed, d)), size);
            for (uint256 m = 0; m < members.length; ++m) {
                ++hits[_listIndex[members[m]] - 1];
            }
        }
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
        if (p.drawDelay == 0 || p.drawDelay > _MAX_DRAW_DELAY) revert RegistryParamOutOfBounds("drawDelay", p.drawDelay);
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
            if (_isBonded(_validators[_list[i]])) ++count;
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

    /// @dev Bonded validators not in `exclude`, with their stakes as weights.
    function _eligible(address[] memory exclude) private view returns (Pool memory pool) {
        uint256 n = _list.length;
        pool.accounts = new address[](n);
        pool.weights = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            address candidate = _list[i];
            Validator storage v = _validators[candidate];
            if (!_isBonded(v) || _contains(exclude, candidate)) continue;
            pool.accounts[pool.count] = candidate;
            pool.weights[pool.count] = v.stake;
            pool.total += v.stake;
            ++pool.count;
        }
    }

    /// @dev Stake-weighted draw without replacement; zeroes the weights of those it picks.
    function _pick(Pool memory pool, bytes32 drawSeed, uint256 size) private pure returns (address[] memory members) {
        uint256[] memory weights = pool.weights;
        uint256 total = pool.total;
        uint256 k = size < pool.count ? size : pool.count;
        members = new address[](k);
        for (uint256 s = 0; s < k; ++s) {
            uint256 r = uint256(keccak256(abi.encode(drawSeed, s))) % total;
            uint256 j = 0;
            // r < total = sum of the remaining weights, so the walk stops inside the pool
            while (r >= weights[j]) {
                r -= weights[j];
                ++j;
            }
            members[s] = pool.accounts[j];
            total -= weights[j];
            weights[j] = 0;
        }
    }

    function _contains(address[] memory list, address account) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == account) return true;
        }
        return false;
    }
}
