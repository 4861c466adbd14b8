// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Split} from "../libraries/Split.sol";

/// @title SplitHarness
/// @notice Exposes the Split library (ours) in batches, for the differential test.
contract SplitHarness {
    /// @notice `Split.testBitmap` for each shard count in `shardCounts` with the matching `testShards`.
    /// @param seed The seed.
    /// @param shardCounts Shard counts.
    /// @param testShards Test shard counts.
    /// @return bitmaps The bitmaps.
    function testBitmaps(bytes32 seed, uint256[] calldata shardCounts, uint256[] calldata testShards)
        external
        pure
        returns (uint256[] memory bitmaps)
    {
        bitmaps = new uint256[](shardCounts.length);
        for (uint256 i = 0; i < shardCounts.length; ++i) {
            bitmaps[i] = Split.testBitmap(seed, shardCounts[i], testShards[i]);
        }
    }

    /// @notice `Split.testOrder`.
    /// @param seed The seed.
    /// @param shardCount Shards.
    /// @param testShards Test shards.
    /// @return The test shards in shuffle order.
    function testOrder(bytes32 seed, uint256 shardCount, uint256 testShards) external pure returns (uint256[] memory) {
        return Split.testOrder(seed, shardCount, testShards);
    }
}
