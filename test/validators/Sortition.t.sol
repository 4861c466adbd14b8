// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Sortition} from "../../contracts/libraries/Sortition.sol";

/// The draw's selection rule on its own: the fixed-point logarithm, the clocks and the top-k list.
contract SortitionTest {
    error Mismatch(string what, uint256 got, uint256 want);

    /// log2 is exact on powers of two, and its integer part is the position of the top bit.
    function testFuzz_log2_matchesPowersAndBrackets(uint256 x, uint8 shift) public pure {
        uint256 p = uint256(shift);
        uint256 exact = Sortition.log2(uint256(1) << p);
        if (exact != p << 32) revert Mismatch("power", exact, p << 32);
        if (x == 0) x = 1;
        uint256 l = Sortition.log2(x);
        uint256 top = 0;
        for (uint256 y = x; y > 1; y >>= 1) ++top;
        if (l >> 32 != top) revert Mismatch("integer part", l >> 32, top);
    }

    /// log2 never decreases as x grows.
    function testFuzz_log2_isMonotone(uint256 a, uint256 b) public pure {
        if (a == 0) a = 1;
        if (b == 0) b = 1;
        (uint256 lo, uint256 hi) = a < b ? (a, b) : (b, a);
        if (Sortition.log2(lo) > Sortition.log2(hi)) revert Mismatch("monotone", Sortition.log2(lo), Sortition.log2(hi));
    }

    /// Clocks are positive and below 2^41, so clock × weight (weight < 2^208) does not overflow.
    function testFuzz_clock_isBounded(bytes32 seed, address account) public pure {
        uint256 c = Sortition.clock(seed, account);
        if (c == 0 || c >= 1 << 41) revert Mismatch("clock", c, 1 << 41);
    }

    /// The top list holds the k smallest weighted clocks in order, whatever the insertion order.
    function testFuzz_insert_keepsTheSmallestInOrder(bytes32 seed, uint8 rawK, uint64[12] memory rawWeights) public pure {
        uint256 n = 12;
        uint256 k = uint256(rawK) % (n + 1);
        Sortition.Top memory top = Sortition.empty(k);
        uint256[] memory clocks = new uint256[](n);
        uint256[] memory weights = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            address account = address(uint160(i + 1));
            clocks[i] = Sortition.clock(seed, account);
            weights[i] = uint256(rawWeights[i]) + 1;
            Sortition.insert(top, account, clocks[i], weights[i]);
        }
        uint256 filled = k < n ? k : n;
        if (top.filled != filled) revert Mismatch("filled", top.filled, filled);
        for (uint256 s = 1; s < filled; ++s) {
            if (Sortition.before(top.clocks[s], top.weights[s], top.clocks[s - 1], top.weights[s - 1])) {
                revert Mismatch("order", s, s - 1);
            }
        }
        // nobody outside the list beats its last member
        for (uint256 i = 0; i < n && filled > 0; ++i) {
            address account = address(uint160(i + 1));
            bool inside = false;
            for (uint256 s = 0; s < filled; ++s) {
                if (top.members[s] == account) inside = true;
            }
            if (!inside && Sortition.before(clocks[i], weights[i], top.clocks[filled - 1], top.weights[filled - 1])) {
                revert Mismatch("left out", i, filled);
            }
        }
    }
}
