// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Median
/// @notice Median of a committee's scores (n ≤ a few dozen), sorting in place.
/// @dev Settlement passes keys `score << 8 | memberIndex`: sorting the keys sorts by score, and after the
///      sort the members whose scores lie outside a band are a prefix and a suffix of the array.
library Median {
    /// @notice Thrown when the array is empty.
    error MedianOfEmpty();

    /// @notice Sorts `values` ascending in place and returns the lower median, the element at index
    ///         ⌊(n−1)/2⌋: for odd n the usual median, for even n the lower of the middle two, so a score
    ///         passes a threshold only when a strict majority of the values are at or above it.
    /// @dev Insertion sort: n is a committee's size.
    /// @param values The values; sorted on return.
    /// @return m The lower median.
    function lowerMedian(uint256[] memory values) internal pure returns (uint256 m) {
        uint256 n = values.length;
        if (n == 0) revert MedianOfEmpty();
        // indices stay within 0..n-1: j > 0 is checked before j - 1 is used
        unchecked {
            for (uint256 i = 1; i < n; ++i) {
                uint256 v = values[i];
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
