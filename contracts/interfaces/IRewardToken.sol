// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IRewardToken
/// @notice ERC20 minted per learning block (block and ommer rewards), only by the settlement module.
interface IRewardToken is IERC20 {
    /// @notice One posted mint.
    /// @param account Recipient.
    /// @param amount Amount.
    struct Mint {
        address account;
        uint256 amount;
    }

    /// @notice Emitted when the minter posts a task's block rewards: the token stores only their hash,
    /// each is minted when claimed with this list (`claimMints`).
    /// @param taskId The task.
    /// @param mintsHash keccak256(abi.encode(mints)).
    /// @param mints The list.
    event MintsPosted(uint256 indexed taskId, bytes32 mintsHash, Mint[] mints);

    /// @notice Emitted when a posted mint is claimed (and minted).
    /// @param taskId The task.
    /// @param index Its index in the posted list.
    /// @param account The recipient.
    /// @param amount The amount minted.
    event MintClaimed(uint256 indexed taskId, uint256 index, address indexed account, uint256 amount);

    /// @notice Emitted once, when the minter is set.
    /// @param minter The settlement module.
    event MinterSet(address indexed minter);

    /// @notice Thrown when anyone but the minter mints.
    /// @param caller The caller.
    error CallerNotMinter(address caller);
    /// @notice Thrown when the minter is set twice or to zero.
    error MinterAlreadySet();
    /// @notice Thrown when a task's mints are posted twice, or a list of more than 256.
    /// @param taskId The task.
    error MintsAlreadyPosted(uint256 taskId);
    /// @notice Thrown when a claim's list is not the one posted for the task (or none was).
    /// @param taskId The task.
    error MintsNotPosted(uint256 taskId);
    /// @notice Thrown when a claim names an index past the posted list.
    /// @param index The index.
    /// @param length The list's length.
    error MintIndexOutOfBounds(uint256 index, uint256 length);
    /// @notice Thrown when a posted mint was already claimed.
    /// @param taskId The task.
    /// @param index Its index.
    error MintAlreadyClaimed(uint256 taskId, uint256 index);

    /// @notice Sets the minter, once (owner).
    /// @param minter The settlement module.
    function setMinter(address minter) external;

    /// @notice Mints `amount` to `to` (minter only).
    /// @param to Recipient.
    /// @param amount Amount.
    function mint(address to, uint256 amount) external;

    /// @notice Posts a task's block rewards (minter only, once per task): stores their hash, mints nothing.
    /// @param taskId The task.
    /// @param mints The list (at most 256).
    function postMints(uint256 taskId, Mint[] calldata mints) external;

    /// @notice Mints posted block rewards to the accounts the list names (anyone may claim for them); once
    /// per index.
    /// @param taskId The task.
    /// @param mints The list of its `MintsPosted` event.
    /// @param indices The entries to mint.
    function claimMints(uint256 taskId, Mint[] calldata mints, uint256[] calldata indices) external;

    /// @notice keccak256 of a task's posted list (zero when none was posted).
    /// @param taskId The task.
    /// @return The hash.
    function mintsHash(uint256 taskId) external view returns (bytes32);

    /// @notice Bit i set once entry i of the task's posted list was claimed.
    /// @param taskId The task.
    /// @return bitmap The bitmap.
    function claimedMints(uint256 taskId) external view returns (uint256 bitmap);

    /// @notice The minter (address(0) until set).
    /// @return minter The settlement module.
    function minter() external view returns (address minter);
}
