// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Median} from "../../contracts/libraries/Median.sol";

contract MedianTest {
    error Mismatch(string what, uint256 got, uint256 want);

    function testFuzz_lowerMedian_ranksCorrectly(uint16[] memory raw) public pure {
        uint256 n = raw.length % 32;
        if (n == 0) n = 1;
        uint256[] memory values = new uint256[](n);
        uint256[] memory original = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 v = i < raw.length ? raw[i] : (i * 7919) % 10_001;
            values[i] = v;
            original[i] = v;
        }
        uint256 m = Median.lowerMedian(values);
        uint256 below = 0;
        uint256 atOrBelow = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (original[i] < m) ++below;
            if (original[i] <= m) ++atOrBelow;
        }
        uint256 rank = (n - 1) / 2;
        // at most `rank` values lie strictly below the median, and at least rank + 1 at or below it
        if (below > rank) revert Mismatch("below", below, rank);
        if (atOrBelow < rank + 1) revert Mismatch("atOrBelow", atOrBelow, rank + 1);
        for (uint256 i = 1; i < n; ++i) {
            if (values[i - 1] > values[i]) revert Mismatch("sorted", i, 0);
        }
    }

    function testFuzz_lowerMedian_keysKeepTheirMembers(uint16[8] memory scores) public pure {
        uint256[] memory keys = new uint256[](8);
        for (uint256 i = 0; i < 8; ++i) {
            keys[i] = uint256(scores[i]) << 8 | i;
        }
        Median.lowerMedian(keys);
        uint256 seen = 0;
        for (uint256 i = 0; i < 8; ++i) {
            uint256 member = keys[i] & 0xff;
            // every member appears once, still carrying its own score
            if (keys[i] >> 8 != scores[member]) revert Mismatch("score", keys[i] >> 8, scores[member]);
            seen |= 1 << member;
        }
        if (seen != 0xff) revert Mismatch("members", seen, 0xff);
    }

    function test_lowerMedian_evenCountTakesLowerMiddle() public pure {
        uint256[] memory values = new uint256[](4);
        values[0] = 9000;
        values[1] = 0;
        values[2] = 9000;
        values[3] = 100;
        uint256 m = Median.lowerMedian(values);
        if (m != 100) revert Mismatch("median", m, 100);
    }

    function test_lowerMedian_single() public pure {
        uint256[] memory values = new uint256[](1);
        values[0] = 4242;
        uint256 m = Median.lowerMedian(values);
        if (m != 4242) revert Mismatch("median", m, 4242);
    }

    function test_lowerMedian_empty_reverts() public {
        (bool ok, bytes memory data) = address(this).call(abi.encodeCall(this.medianOf, (new uint256[](0))));
        if (ok) revert Mismatch("ok", 1, 0);
        if (bytes4(data) != Median.MedianOfEmpty.selector) revert Mismatch("selector", uint32(bytes4(data)), 0);
    }

    function medianOf(uint256[] memory values) external pure returns (uint256) {
        return Median.lowerMedian(values);
    }
}
