// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Split
/// @notice The train/test split of a task's shards: a Fisher–Yates shuffle of 0..n-1 driven by
/// `keccak256(abi.encode(seed, i))`; the first `testShards` positions are the test shards.
/// @dev Step i (0-based) swaps position i with position `i + keccak256(abi.encode(seed, i)) % (n - i)`.
/// Only the first `testShards` steps run, since later positions do not change which shards are test
/// shards. The permutation lives in a byte array holding `value XOR position`, so the zeroed array is
/// the identity and needs no initialisation loop.
library Split {
    /// @notice Thrown when the shard counts are outside 1..256 and testShards ≥ shardCount.
    /// @param shardCount Shards.
    /// @param testShards Test shards.
    error SplitOutOfRange(uint256 shardCount, uint256 testShards);

    /// @notice The test shards as a bitmap (bit i set = shard i is a test shard).
    /// @param seed The task seed.
    /// @param shardCount n (1..256).
    /// @param testShards How many test shards (< n).
    /// @return bitmap The bitmap.
    function testBitmap(bytes32 seed, uint256 shardCount, uint256 testShards)
        internal
        pure
        returns (uint256 bitmap)
    {
        uint256[] memory order = testOrder(seed, shardCount, testShards);
        for (uint256 i = 0; i < order.length; ++i) {
            bitmap |= 1 << order[i];
        }
    }

    /// @notice The test shards in shuffle order (the first `testShards` positions of the permutation).
    /// @param seed The task seed.
    /// @param shardCount n (1..256).
    /// @param testShards How many test shards (< n).
    /// @return order Shard indices.
    function testOrder(bytes32 seed, uint256 shardCount, uint256 testShards)
        internal
        pure
        returns (uint256[] memory order)
    {
        if (shardCount == 0 || shardCount > 256 || testShards >= shardCount) {
            revert SplitOutOfRange(shardCount, testShards);
        }
        bytes memory xored = new bytes(shardCount);
        order = new uint256[](testShards);
        for (uint256 i = 0; i < testShards; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, i))) % (shardCount - i);
            uint256 atI = uint8(xored[i]) ^ i;
            uint256 atJ = uint8(xored[j]) ^ j;
            // Position i is final after this step; only position j keeps a value for later steps.
            // Both values are < 256, so the XOR fits a byte.
            xored[j] = bytes1(uint8(atI ^ j));
            order[i] = atJ;
        }
    }
}
