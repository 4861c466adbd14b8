// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title Sortition
/// @notice Stake-weighted sampling without replacement that does not depend on the candidates' order:
///         each candidate draws an exponential clock `E = -ln(u) / weight` from (seed, account) and the
///         committee is the `size` smallest clocks, smallest first (Efraimidis–Spirakis). The first seat
///         goes to a candidate with probability weight / total. Removing a candidate only ever removes its
///         own seat (the next clock takes it), so dropping out after seeing the seed gains nothing.
library Sortition {
    /// @dev Fractional bits of the fixed-point logarithm.
    uint256 private constant _FRAC = 32;

    /// @notice `-log2(u)` for the uniform `u` in (0, 1] that (seed, account) yields, in 2^-32 units, plus one.
    /// @dev `-ln(u)` up to the constant factor ln 2, which every candidate shares. Below 2^41.
    /// @param seed The draw seed.
    /// @param account The candidate.
    /// @return clock The unweighted clock.
    function clock(bytes32 seed, address account) internal pure returns (uint256) {
        // x in [1, 2^255]: u = x / 2^255
        uint256 h;
        // keccak256(abi.encode(seed, account)) in scratch space: a draw hashes every candidate
        assembly ("memory-safe") {
            mstore(0x00, seed)
            mstore(0x20, and(account, 0xffffffffffffffffffffffffffffffffffffffff))
            h := keccak256(0x00, 0x40)
        }
        uint256 x = (h >> 1) + 1;
        return (255 << _FRAC) - log2(x) + 1;
    }

    /// @notice Whether clock `a` (weight `wa`) runs out before clock `b` (weight `wb`): a/wa < b/wb.
    /// @dev Clocks are below 2^41 and weights below 2^208, so the products do not overflow.
    function before(uint256 a, uint256 wa, uint256 b, uint256 wb) internal pure returns (bool) {
        return a * wb < b * wa;
    }

    /// @notice The smallest weighted clocks so far, smallest first.
    /// @param members Accounts (the length is the number of seats).
    /// @param clocks Their clocks.
    /// @param weights Their weights.
    /// @param filled Entries in use (≤ members.length).
    struct Top {
        address[] members;
        uint256[] clocks;
        uint256[] weights;
        uint256 filled;
    }

    /// @notice An empty top list with `seats` places.
    function empty(uint256 seats) internal pure returns (Top memory) {
        return Top(new address[](seats), new uint256[](seats), new uint256[](seats), 0);
    }

    /// @notice Inserts a candidate if its weighted clock is among the smallest.
    /// @param top The list.
    /// @param account The candidate.
    /// @param c Its clock.
    /// @param w Its weight (> 0).
    function insert(Top memory top, address account, uint256 c, uint256 w) internal pure {
        uint256 k = top.members.length;
        if (k == 0) return;
        uint256 filled = top.filled;
        if (filled == k && !before(c, w, top.clocks[k - 1], top.weights[k - 1])) return;
        uint256 i = filled < k ? filled : k - 1;
        while (i > 0 && before(c, w, top.clocks[i - 1], top.weights[i - 1])) {
            top.members[i] = top.members[i - 1];
            top.clocks[i] = top.clocks[i - 1];
            top.weights[i] = top.weights[i - 1];
            --i;
        }
        top.members[i] = account;
        top.clocks[i] = c;
        top.weights[i] = w;
        if (filled < k) top.filled = filled + 1;
    }

    /// @notice log2(x) in 2^-32 fixed point, x ≥ 1 (fraction by repeated squaring, truncated).
    function log2(uint256 x) internal pure returns (uint256 result) {
        uint256 n = Math.log2(x);
        result = n << _FRAC;
        // mantissa in [2^127, 2^128)
        uint256 y = n >= 127 ? x >> (n - 127) : x << (127 - n);
        // y < 2^128, so y·y < 2^256: no overflow
        unchecked {
            for (uint256 bit = 1 << (_FRAC - 1); bit > 0; bit >>= 1) {
                y = (y * y) >> 127;
                if (y >= 1 << 128) {
                    result |= bit;
                    y >>= 1;
                }
            }
        }
    }
}
