// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Split} from "../../contracts/libraries/Split.sol";

/// @dev Fuzz properties of the seeded Fisher–Yates split.
contract SplitTest {
    error Violated(string what, uint256 a, uint256 b);

    function _bound(uint256 x, uint256 lo, uint256 hi) private pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    function testFuzz_split_picksExactlyTestShardsDistinctInRange(bytes32 seed, uint256 n, uint256 t) public pure {
        n = _bound(n, 10, 256);
        t = _bound(t, 1, n - 1);
        uint256[] memory order = Split.testOrder(seed, n, t);
        uint256 seen = 0;
        for (uint256 i = 0; i < order.length; ++i) {
            if (order[i] >= n) revert Violated("index < n", order[i], n);
            if (seen & (1 << order[i]) != 0) revert Violated("distinct", order[i], i);
            seen |= 1 << order[i];
        }
        uint256 bitmap = Split.testBitmap(seed, n, t);
        if (bitmap != seen) revert Violated("bitmap matches order", bitmap, seen);
    }

    function testFuzz_split_prefixIsStableAcrossTestCounts(bytes32 seed, uint256 n, uint256 t) public pure {
        n = _bound(n, 10, 256);
        t = _bound(t, 2, n - 1);
        // Fisher–Yates fixes position i at step i: asking for fewer test shards gives a prefix.
        uint256[] memory longer = Split.testOrder(seed, n, t);
        uint256[] memory shorter = Split.testOrder(seed, n, t - 1);
        for (uint256 i = 0; i < shorter.length; ++i) {
            if (shorter[i] != longer[i]) revert Violated("prefix", shorter[i], longer[i]);
        }
    }

    function testFuzz_split_fullShuffleIsAPermutation(bytes32 seed, uint256 n) public pure {
        n = _bound(n, 2, 256);
        uint256[] memory order = Split.testOrder(seed, n, n - 1);
        uint256 bitmap = Split.testBitmap(seed, n, n - 1);
        uint256 all = n == 256 ? type(uint256).max : (1 << n) - 1;
        // n-1 positions fixed; the last shard is the one missing from the bitmap.
        uint256 missing = all & ~bitmap;
        if (missing == 0 || missing & (missing - 1) != 0) revert Violated("one shard left", missing, order.length);
    }
}
