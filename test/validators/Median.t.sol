// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Median} from "../../contracts/libraries/Median.sol";

contract MedianTest {
    error Mismatch(string what, uint256 got, uint256 want);

    function testFuzz_lowerMedian_ranksCorrectly(uint16[] memory raw) public pure {
        uint256 n = raw.length % 32;
        if (n == 0) n = 1;
        uint16[] memory values = new uint16[](n);
        uint16[] memory original = new uint16[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint16 v = i < raw.length ? raw[i] : uint16(i * 7919);
            values[i] = v;
            original[i] = v;
        }
        uint16 m = Median.lowerMedian(values);
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

    function test_lowerMedian_evenCountTakesLowerMiddle() public pure {
        uint16[] memory values = new uint16[](4);
        values[0] = 9000;
        values[1] = 0;
        values[2] = 9000;
        values[3] = 100;
        uint16 m = Median.lowerMedian(values);
        if (m != 100) revert Mismatch("median", m, 100);
    }

    function test_lowerMedian_single() public pure {
        uint16[] memory values = new uint16[](1);
        values[0] = 4242;
        uint16 m = Median.lowerMedian(values);
        if (m != 4242) revert Mismatch("median", m, 4242);
    }

    function test_lowerMedian_empty_reverts() public {
        (bool ok, bytes memory data) = address(this).call(abi.encodeCall(this.medianOf, (new uint16[](0))));
        if (ok) revert Mismatch("ok", 1, 0);
        if (bytes4(data) != Median.MedianOfEmpty.selector) revert Mismatch("selector", uint32(bytes4(data)), 0);
    }

    function medianOf(uint16[] memory values) external pure returns (uint16) {
        return Median.lowerMedian(values);
    }
}
