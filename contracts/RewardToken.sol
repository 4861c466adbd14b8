// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IRewardToken} from "./interfaces/IRewardToken.sol";

/// @title RewardToken
/// @notice PoDL's block-reward token: minted by the settlement module per learning block, nothing else.
contract RewardToken is IRewardToken, ERC20, Ownable2Step {
    address private _minter;
    mapping(uint256 taskId => bytes32) private _mintsHash;
    /// @dev Bit i set once entry i of the task's posted list was minted (lists have ≤ 256 entries).
    mapping(uint256 taskId => uint256 bitmap) private _claimedMints;

    /// @param initialOwner Owner, whose only power is to set the minter once.
    constructor(address initialOwner) ERC20("PoDL Reward", "PODL") Ownable(initialOwner) {}

    /// @inheritdoc IRewardToken
    function setMinter(address minter_) external onlyOwner {
        if (_minter != address(0) || minter_ == address(0)) revert MinterAlreadySet();
        _minter = minter_;
        emit MinterSet(minter_);
    }

    /// @inheritdoc IRewardToken
    function mint(address to, uint256 amount) external {
        if (msg.sender != _minter) revert CallerNotMinter(msg.sender);
        _mint(to, amount);
    }

    /// @inheritdoc IRewardToken
    function postMints(uint256 taskId, Mint[] calldata mints) external {
        if (msg.sender != _minter) revert CallerNotMinter(msg.sender);
        if (_mintsHash[taskId] != bytes32(0) || mints.length > 256) revert MintsAlreadyPosted(taskId);
        // one hash instead of a fresh balance per recipient: recipients pay for their own on claim
        bytes32 hash = keccak256(abi.encode(mints));
        _mintsHash[taskId] = hash;
        emit MintsPosted(taskId, hash, mints);
    }

    /// @inheritdoc IRewardToken
    function claimMints(uint256 taskId, Mint[] calldata mints, uint256[] calldata indices) external {
        bytes32 hash = _mintsHash[taskId];
        if (hash == bytes32(0) || keccak256(abi.encode(mints)) != hash) revert MintsNotPosted(taskId);
        uint256 claimed = _claimedMints[taskId];
        for (uint256 i = 0; i < indices.length; ++i) {
            uint256 index = indices[i];
            if (index >= mints.length) revert MintIndexOutOfBounds(index, mints.length);
            uint256 bit = 1 << index;
            if (claimed & bit != 0) revert MintAlreadyClaimed(taskId, index);
            claimed |= bit;
            emit MintClaimed(taskId, index, mints[index].account, mints[index].amount);
            _mint(mints[index].account, mints[index].amount);
        }
        _claimedMints[taskId] = claimed;
    }

    /// @inheritdoc IRewardToken
    function mintsHash(uint256 taskId) external view returns (bytes32) {
        return _mintsHash[taskId];
    }

    /// @inheritdoc IRewardToken
    function claimedMints(uint256 taskId) external view returns (uint256) {
        return _claimedMints[taskId];
    }

    /// @inheritdoc IRewardToken
    function minter() external view returns (address) {
        return _minter;
    }
}
