// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {UD60x18, ud} from "@prb/math/src/UD60x18.sol";

/// @title Ranking
/// @notice DLBC task ranking (equations 1–4): `score = (dn + dc^q) / reward`, lowest starts first,
/// with `q = ln(k·l) / ln(L)` clamped to [0, 2].
/// @dev Fixed point (docs/market.md): the per-task terms are computed once, when the task is posted,
/// and packed with the task id into one queue word so that `startNext` reads one slot per task:
///   - `dn` in nanoseconds (integer, floor), at most 2**64-1;
///   - `log2(dc)` in units of 1e-15 (floor of UD60x18 `log2`), with `dc` counted as at least one
///     second and at most 2**64 seconds;
///   - the reward in token units (at most 2**96-1).
/// At start time `dc^q = exp2(q·log2(dc))` (UD60x18) and `score = (dn + dc^q)·1e18 / reward`, i.e.
/// seconds per whole token (1e18 units) as UD60x18.
library Ranking {
    /// @notice Lower clamp of the queue exponent q (UD60x18).
    uint256 internal constant Q_MIN = 0;
    /// @notice Upper clamp of the queue exponent q (UD60x18).
    uint256 internal constant Q_MAX = 2e18;
    /// @notice Largest compute time dc in seconds, as UD60x18 (keeps q·log2(dc) ≤ 128 < 192).
    uint256 internal constant DC_MAX = (1 << 64) * 1e18;
    /// @notice ln 2 as UD60x18 (rounded down).
    uint256 internal constant LN2 = 693_147_180_559_945_309;
    /// @notice Largest reward that fits the queue word.
    uint256 internal constant REWARD_MAX = type(uint96).max;

    /// @notice Transfer time `dn = (modelBytes + dataBytes) / bandwidth` in nanoseconds (floor).
    /// @param modelBytes Declared model bytes.
    /// @param dataBytes Declared data bytes.
    /// @param bandwidth Median bandwidth in bytes per second (> 0).
    /// @return dnNanos The transfer time.
    function transferNanos(uint256 modelBytes, uint256 dataBytes, uint256 bandwidth)
        internal
        pure
        returns (uint256 dnNanos)
    {
        dnNanos = (modelBytes + dataBytes) * 1e9 / bandwidth;
    }

    /// @notice `log2(max(1, flops / compute))` in units of 1e-15 (floor). The caller keeps
    /// `flops / compute` ≤ DC_MAX.
    /// @param flops Declared training FLOPs.
    /// @param compute Median compute in FLOPs per second (> 0).
    /// @return log2Dc The term.
    function computeLog2(uint256 flops, uint256 compute) internal pure returns (uint256 log2Dc) {
        uint256 dcUd = flops * 1e18 / compute;
        // A task that computes in under a second counts as one second: log2 stays non-negative.
        if (dcUd <= 1e18) return 0;
        log2Dc = ud(dcUd).log2().unwrap() / 1e3;
    }

    /// @notice Packs a queue word: task id (32 bits), dn (64), log2(dc) (64), reward (96). The caller
    /// keeps each term within its width (the market checks them in `postTask`).
    /// @param taskId The task id (< 2**32).
    /// @param dnNanos `transferNanos`.
    /// @param log2Dc `computeLog2`.
    /// @param reward The reward (≤ REWARD_MAX).
    /// @return entry The packed word.
    function pack(uint256 taskId, uint256 dnNanos, uint256 log2Dc, uint256 reward)
        internal
        pure
        returns (uint256 entry)
    {
        entry = (taskId << 224) | (dnNanos << 160) | (log2Dc << 96) | reward;
    }

    /// @notice The task id of a queue word.
    /// @param entry The packed word.
    /// @return The task id.
    function taskIdOf(uint256 entry) internal pure returns (uint256) {
        return entry >> 224;
    }

    /// @notice The queue exponent `q = ln(k·l) / ln(L)`, clamped to [Q_MIN, Q_MAX].
    /// @param queueLength l (≥ 1).
    /// @param maxQueue L (≥ 2).
    /// @param k Scale k (UD60x18).
    /// @return q UD60x18.
    function exponent(uint256 queueLength, uint256 maxQueue, uint256 k) internal pure returns (UD60x18 q) {
        uint256 kl = k * queueLength;
        // ln(k·l) ≤ 0 gives q ≤ 0: clamp to the floor.
        if (kl <= 1e18) return ud(Q_MIN);
        // Both logarithms are below 200e18, so the product fits and plain division keeps 18 decimals.
        uint256 qRaw = ud(kl).ln().unwrap() * 1e18 / ud(maxQueue * 1e18).ln().unwrap();
        q = ud(qRaw > Q_MAX ? Q_MAX : qRaw);
    }

    /// @notice The DLBC score of a queue word at exponent q (UD60x18, seconds per whole token).
    /// @param entry The packed word.
    /// @param q `exponent(...)`.
    /// @return The score.
    function scoreOf(uint256 entry, UD60x18 q) internal pure returns (uint256) {
        uint256 dnNanos = uint64(entry >> 160);
        uint256 log2Dc = uint64(entry >> 96);
        uint256 reward = uint96(entry);
        // q ≤ 2e18 and log2Dc ≤ 64e15, so the exponent is at most 128e18, inside exp2's 192e18 range.
        uint256 dcPowQ = ud(q.unwrap() * log2Dc / 1e15).exp2().unwrap();
        return (dnNanos * 1e9 + dcPowQ) * 1e18 / reward;
    }

    /// @notice The 64-bit ranking key of a queue word, for the cheap lower bound in `boundOf`: dn rounded
    /// down to 14 significant bits (6-bit exponent), log2(dc) rounded down to a multiple of 2**34 units
    /// (1.7e-5 in log2, 22 bits) and the reward rounded up to 15 significant bits (7-bit exponent).
    /// Four keys share a storage slot, so `startNext` reads one cold slot per four queued tasks.
    /// @param entry The packed word (`pack`).
    /// @return key `dnMantissa << 50 | dnExponent << 44 | log2Dc >> 34 << 22 | rewardMantissa << 7 |
    /// rewardExponent`.
    function keyOf(uint256 entry) internal pure returns (uint256 key) {
        uint256 dn = uint64(entry >> 160);
        uint256 dnExponent = dn < 1 << 14 ? 0 : Math.log2(dn) - 13;
        uint256 reward = uint96(entry);
        uint256 rewardExponent = reward < 1 << 15 ? 0 : Math.log2(reward) - 14;
        // Rounded up; a carry to 2**15 renormalises.
        uint256 rewardMantissa = (reward + (1 << rewardExponent) - 1) >> rewardExponent;
        if (rewardMantissa == 1 << 15) (rewardMantissa, rewardExponent) = (1 << 14, rewardExponent + 1);
        key = (dn >> dnExponent) << 50 | dnExponent << 44 | (uint64(entry >> 96) >> 34) << 22 | rewardMantissa << 7
            | rewardExponent;
    }

    /// @notice A cheap lower bound of `scoreOf(entry, q)` from `keyOf(entry)`: each term rounded the
    /// way that lowers the score, `2^x = 2^floor(x) · e^y` with `y = frac(x)·ln 2 < 0.7` and
    /// `e^y ≥ 1 + y + y²/2 + y³/6` (a Taylor sum of positive terms, at most 0.6 % low), less 2**-40 of
    /// itself for exp2's rounding. `startNext` computes the exact score only for tasks whose bound does
    /// not exceed the best score found.
    /// @param key `keyOf(entry)`.
    /// @param q `exponent(...)`.
    /// @return The bound.
    function boundOf(uint256 key, UD60x18 q) internal pure returns (uint256) {
        // Unchecked: dn < 2**64; q ≤ 2e18 and log2Dc < 2**56 keep x ≤ 128e18 (see scoreOf), so pow < 2**190
        // and (dn·1e9 + pow)·1e18 < 2**256; the reward mantissa is at least 1 (reward ≥ 1).
        unchecked {
            uint256 dn = ((key >> 50) & 0x3fff) << ((key >> 44) & 0x3f);
            uint256 x = q.unwrap() * (((key >> 22) & 0x3fffff) << 34) / 1e15;
            uint256 y = (x % 1e18) * LN2 / 1e18;
            uint256 y2 = y * y / 1e18;
            uint256 pow = (uint256(1) << (x / 1e18)) * (1e18 + y + y2 / 2 + y2 * y / 6e18);
            pow -= pow >> 40;
            return (dn * 1e9 + pow) * 1e18 / (((key >> 7) & 0x7fff) << (key & 0x7f));
        }
    }

    /// @notice The DLBC score from raw inputs, exactly as the market computes it.
    /// @param modelBytes Declared model bytes.
    /// @param dataBytes Declared data bytes.
    /// @param flops Declared FLOPs.
    /// @param reward Reward (1..REWARD_MAX).
    /// @param bandwidth Median bandwidth (bytes/s).
    /// @param compute Median compute (FLOPs/s).
    /// @param q `exponent(...)`.
    /// @return The score.
    function score(
        uint256 modelBytes,
        uint256 dataBytes,
        uint256 flops,
        uint256 reward,
        uint256 bandwidth,
        uint256 compute,
        UD60x18 q
    ) internal pure returns (uint256) {
        uint256 entry =
            pack(0, transferNanos(modelBytes, dataBytes, bandwidth), computeLog2(flops, compute), reward);
        return scoreOf(entry, q);
    }
}
