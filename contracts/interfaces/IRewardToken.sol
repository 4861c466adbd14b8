// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IRewardToken
/// @notice ERC20 minted per learning block (block and ommer rewards), only by the settlement module.
interface IRewardToken is IERC20 {
    /// @notice Emitted once, when the minter is set.
    /// @param minter The settlement module.
    event MinterSet(address indexed minter);

    /// @notice Thrown when anyone but the minter mints.
    /// @param caller The caller.
    error CallerNotMinter(address caller);
    /// @notice Thrown when the minter is set twice or to zero.
    error MinterAlreadySet();

    /// @notice Sets the minter, once (owner).
    /// @param minter The settlement module.
    function setMinter(address minter) external;

    /// @notice Mints `amount` to `to` (minter only).
    /// @param to Recipient.
    /// @param amount Amount.
    function mint(address to, uint256 amount) external;

    /// @notice The minter (address(0) until set).
    /// @return minter The settlement module.
    function minter() external view returns (address minter);
}
