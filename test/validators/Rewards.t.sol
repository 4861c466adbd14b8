// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Rewards} from "../../contracts/libraries/Rewards.sol";
import {Tally} from "../../contracts/libraries/Tally.sol";

/// @dev Fuzz tests of the block-reward rules (DLBC eq. 5–6 and the mint cap) and the tally's band.
contract RewardsTest {
    error Broken(string what, uint256 got, uint256 bound);

    function _bound(uint256 x, uint256 lo, uint256 hi) private pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    /// The total minted (publisher + winner + every ommer) never exceeds the cap.
    function testFuzz_amounts_withinCap(uint256 blockReward, uint256 fraction, uint256 share, uint256 ommers, uint256 cap)
        public
        pure
    {
        blockReward = _bound(blockReward, 0, 1e24);
        fraction = _bound(fraction, 0, 1e18);
        share = _bound(share, 0, 10_000);
        ommers = _bound(ommers, 0, 8);
        cap = _bound(cap, 0, 1e30);
        (uint256 p, uint256 w, uint256 o) = Rewards.amounts(blockReward, fraction, share, ommers, cap);
        uint256 total = p + w + o * ommers;
        if (total > cap) revert Broken("total above cap", total, cap);
    }

    /// Under the cap the amounts are DLBC eq. 5–6 and PoLe's ommer reward exactly.
    function testFuzz_amounts_uncappedAreEq5And6(uint256 blockReward, uint256 fraction, uint256 share, uint256 ommers)
        public
        pure
    {
        blockReward = _bound(blockReward, 0, 1e24);
        fraction = _bound(fraction, 0, 1e18);
        share = _bound(share, 0, 10_000);
        ommers = _bound(ommers, 1, 8);
        (uint256 p, uint256 w, uint256 o) = Rewards.amounts(blockReward, fraction, share, ommers, type(uint256).max);
        if (p != blockReward * fraction / 1e18) revert Broken("publisher", p, blockReward * fraction / 1e18);
        if (p + w != blockReward) revert Broken("publisher + winner", p + w, blockReward);
        if (o != blockReward * share / 10_000 / ommers) revert Broken("ommer", o, blockReward * share / 10_000 / ommers);
    }

    /// Capped amounts keep their proportions (each within one unit of part × cap / total).
    function testFuzz_amounts_cappedScaleProportionally(uint256 blockReward, uint256 fraction, uint256 cap) public pure {
        blockReward = _bound(blockReward, 1e18, 1e24);
        fraction = _bound(fraction, 0, 1e18);
        cap = _bound(cap, 0, blockReward - 1);
        (uint256 p, uint256 w,) = Rewards.amounts(blockReward, fraction, 0, 0, cap);
        uint256 pFull = blockReward * fraction / 1e18;
        if (p != pFull * cap / blockReward) revert Broken("publisher scaled", p, pFull * cap / blockReward);
        if (w != (blockReward - pFull) * cap / blockReward) revert Broken("winner scaled", w, (blockReward - pFull) * cap / blockReward);
    }

    /// DLBC eq. 5: 1 at an empty queue, 0 at and past k·l/L = 1, never above 1.
    function testFuzz_publisherFraction_bounded(uint256 scale, uint256 queueLength, uint256 maxQueue) public pure {
        scale = _bound(scale, 1, 1e20);
        maxQueue = _bound(maxQueue, 1, 1024);
        queueLength = _bound(queueLength, 0, maxQueue);
        uint256 f = Rewards.publisherFraction(scale, queueLength, maxQueue);
        if (f > 1e18) revert Broken("fraction above 1", f, 1e18);
        if (queueLength == 0 && f != 1e18) revert Broken("empty queue", f, 1e18);
        if (scale * queueLength / maxQueue >= 1e18 && f != 0) revert Broken("full queue", f, 0);
    }

    /// The cap is reward × rate, and 0 for an unlisted token (rate 0).
    function testFuzz_mintCap_isRewardTimesRate(uint256 reward, uint256 rate) public pure {
        reward = _bound(reward, 0, type(uint128).max);
        rate = _bound(rate, 0, 1e36);
        uint256 c = Rewards.mintCap(reward, rate);
        if (c != reward * rate / 1e18) revert Broken("cap", c, reward * rate / 1e18);
        if (Rewards.mintCap(reward, 0) != 0) revert Broken("unlisted", Rewards.mintCap(reward, 0), 0);
    }

    /// The band holds the median and exactly the scores within the tolerance, whatever the threshold:
    /// honest noise across the threshold is inside it.
    function testFuzz_band_isToleranceAroundMedian(uint256 m, uint256 tolerance, uint256 score) public pure {
        m = _bound(m, 0, 10_000);
        tolerance = _bound(tolerance, 0, 10_000);
        score = _bound(score, 0, 10_000);
        (uint256 lo, uint256 hi) = Tally.band(m, tolerance);
        bool inside = score >= lo && score <= hi;
        uint256 distance = score > m ? score - m : m - score;
        if (inside != (distance <= tolerance)) revert Broken("band", score, m);
    }

    /// The example of finding 9: 7,999 against a median of 8,000 with a 500 bps tolerance agrees.
    function test_band_noiseAcrossThresholdAgrees() public pure {
        (uint256 lo, uint256 hi) = Tally.band(8000, 500);
        if (7999 < lo || 7999 > hi) revert Broken("7999 outside", lo, hi);
        if (7499 >= lo) revert Broken("7499 inside", lo, hi);
    }
}
