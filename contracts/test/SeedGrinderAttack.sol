// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITaskMarket} from "../interfaces/ITaskMarket.sol";

/// @title SeedGrinderAttack
/// @notice The attacker of finding 2's second half (issue 9): a contract that starts a task and reads its
///         seed and train/test split in the same transaction, reverting unless the split is the one it
///         wants. Against the old seed (this block's prevrandao and the chain head) it saw the split and
///         could call `startNext` only in blocks that suited it; the tests check that it now sees nothing.
contract SeedGrinderAttack {
    ITaskMarket private immutable _MARKET;

    /// @notice What the attacker saw inside its start transaction.
    bytes32 public seenSeed;
    /// @notice The test-shard bitmap the attacker saw inside its start transaction.
    uint256 public seenTestShards;

    /// @notice Thrown (undoing the start) when the split is not the one wanted.
    /// @param testShards The split seen.
    error SplitNotWanted(uint256 testShards);

    /// @param market The market whose seed it grinds.
    constructor(ITaskMarket market) {
        _MARKET = market;
    }

    /// @notice Starts the next task and records the seed and split it can read in this transaction.
    /// @return taskId The started task.
    function startAndPeek() external returns (uint256 taskId) {
        taskId = _MARKET.startNext();
        seenSeed = _MARKET.getTask(taskId).seed;
        seenTestShards = _MARKET.testShardBitmap(taskId);
    }

    /// @notice Starts the next task only if its test shards are `wanted` (reverts otherwise).
    /// @param wanted The test-shard bitmap the attacker wants.
    /// @return taskId The started task.
    function startIfSplitIs(uint256 wanted) external returns (uint256 taskId) {
        taskId = _MARKET.startNext();
        uint256 testShards = _MARKET.testShardBitmap(taskId);
        if (testShards != wanted) revert SplitNotWanted(testShards);
    }
}
