// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Median
/// @notice Median of a small array of uint16 scores (a committee's attestations, n ≤ a few dozen).
library Median {
    /// @notice Thrown when the array is empty.
    error MedianOfEmpty();

    /// @notice Lower median: the element at index ⌊(n−1)/2⌋ of the sorted values.
    /// @dev For odd n the usual median; for even n the lower of the middle two, so a submission passes a
    ///      threshold only when a strict majority of the reveals put it there. Sorts `values` in place
    ///      (insertion sort: n is a committee's size).
    /// @param values The scores; reordered.
    /// @return m The lower median.
    function lowerMedian(uint16[] memory values) internal pure returns (uint16 m) {
        uint256 n = values.length;
        if (n == 0) revert MedianOfEmpty();
        // indices stay within 0..n-1: j > 0 is checked before j - 1 is used
        unchecked {
            for (uint256 i = 1; i < n; ++i) {
                uint16 v = values[i];
                uint256 j = i;
                while (j > 0 && values[j - 1] > v) {
                    values[j] = values[j - 1];
                    --j;
                }
                values[j] = v;
            }
        }
        return values[(n - 1) / 2];
    }
}
