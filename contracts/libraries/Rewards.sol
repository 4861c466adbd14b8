// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title Rewards
/// @notice Block rewards of a learning block: DLBC eq. 5–6 (publisher and winner), PoLe's ommer reward,
///         and the cap that bounds minting by the value a task paid.
library Rewards {
    uint256 internal constant ONE = 1e18;
    uint256 private constant _BPS = 10_000;

    /// @notice DLBC eq. 5: the publisher's fraction max(0, 1 − (k·l/L)²), 1e18 fixed point.
    /// @param rankScale k (1e18 fixed point).
    /// @param queueLength l, the queue length recorded when the task started.
    /// @param maxQueue L (> 0).
    /// @return fraction The publisher's fraction of the block reward.
    function publisherFraction(uint256 rankScale, uint256 queueLength, uint256 maxQueue)
        internal
        pure
        returns (uint256 fraction)
    {
        uint256 x = rankScale * queueLength / maxQueue;
        if (x >= ONE) return 0;
        return ONE - x * x / ONE;
    }

    /// @notice The amounts minted for one learning block: the publisher's `blockReward · fraction`
    ///         (eq. 5), the winner's rest (eq. 6), `blockReward · ommerShareBps / ommers` per ommer; when
    ///         their total exceeds `cap`, each is scaled down by cap / total (rounded down), so the total
    ///         minted never exceeds `cap`.
    /// @param blockReward The block reward.
    /// @param fraction The publisher's fraction (≤ 1e18).
    /// @param ommerShareBps The ommers' share of the block reward (≤ 10,000).
    /// @param ommers Number of ommers.
    /// @param cap Most PODL this block may mint in all (the task's reward × the token's mint rate).
    /// @return publisherAmount Minted to the publisher.
    /// @return winnerAmount Minted to the winner.
    /// @return ommerAmount Minted to each ommer.
    function amounts(uint256 blockReward, uint256 fraction, uint256 ommerShareBps, uint256 ommers, uint256 cap)
        internal
        pure
        returns (uint256 publisherAmount, uint256 winnerAmount, uint256 ommerAmount)
    {
        publisherAmount = blockReward * fraction / ONE;
        winnerAmount = blockReward - publisherAmount;
        if (ommers != 0) ommerAmount = blockReward * ommerShareBps / _BPS / ommers;
        uint256 total = blockReward + ommerAmount * ommers;
        if (total <= cap) return (publisherAmount, winnerAmount, ommerAmount);
        // each part rounds down: their sum stays ≤ cap
        publisherAmount = Math.mulDiv(publisherAmount, cap, total);
        winnerAmount = Math.mulDiv(winnerAmount, cap, total);
        ommerAmount = Math.mulDiv(ommerAmount, cap, total);
    }

    /// @notice The cap of a task's block rewards: `reward · rate / 1e18`.
    /// @param reward The task's reward (token units).
    /// @param rate PODL-wei per token unit, UD60x18 (0 for a token the owner did not list: no minting).
    /// @return The most PODL the task may mint.
    function mintCap(uint256 reward, uint256 rate) internal pure returns (uint256) {
        return Math.mulDiv(reward, rate, ONE);
    }
}
