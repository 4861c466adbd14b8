// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Tally
/// @notice The committee's rules for one submission's scores: which scores agree with the median.
library Tally {
    /// @notice The score a validator attests for every submission when the task's test data is invalid
    ///         (a test shard key does not decrypt its ciphertext, or a decrypted test shard does not
    ///         match the spec): the publisher's fault, never the miners'.
    uint16 internal constant INVALID_DATA = type(uint16).max;

    /// @notice Whether a median passes the threshold: at or above it, and a real score (≤ 10,000 bps),
    ///         not the invalid-data sentinel.
    /// @param m The median.
    /// @param threshold The task's accuracy threshold (bps).
    /// @return Whether it passes.
    function passes(uint256 m, uint256 threshold) internal pure returns (bool) {
        return m >= threshold && m <= 10_000;
    }

    /// @notice The scores that agree with median `m`: within `tolerance` of it, on either side of the
    ///         accuracy threshold. A score on the other side of the threshold from the median but within
    ///         the tolerance is honest measurement noise (two validators measuring 7,999 and 8,000 bps
    ///         around a threshold of 8,000), never a deviation; a score beyond the tolerance is one,
    ///         whichever side of the threshold it falls on.
    /// @param m The median (bps, ≤ 10,000).
    /// @param tolerance The deviation tolerance (bps, ≤ 10,000).
    /// @return lo Lowest agreeing score.
    /// @return hi Highest agreeing score.
    function band(uint256 m, uint256 tolerance) internal pure returns (uint256 lo, uint256 hi) {
        lo = m > tolerance ? m - tolerance : 0;
        hi = m + tolerance;
    }
}
