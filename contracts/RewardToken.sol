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
    function minter() external view returns (address) {
        return _minter;
    }
}
