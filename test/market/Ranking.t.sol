// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {UD60x18, ud} from "@prb/math/src/UD60x18.sol";
import {Ranking} from "../../contracts/libraries/Ranking.sol";

/// @dev Fuzz properties of the DLBC ranking library.
contract RankingTest {
    error Violated(string what, uint256 a, uint256 b);

    function _bound(uint256 x, uint256 lo, uint256 hi) private pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    function testFuzz_exponent_staysInClampRange(uint256 l, uint256 maxQueue, uint256 k) public pure {
        maxQueue = _bound(maxQueue, 2, 128);
        l = _bound(l, 1, maxQueue);
        k = _bound(k, 1e16, 10e18);
        uint256 q = Ranking.exponent(l, maxQueue, k).unwrap();
        if (q > Ranking.Q_MAX) revert Violated("q <= Q_MAX", q, Ranking.Q_MAX);
    }

    function testFuzz_exponent_growsWithQueueLength(uint256 l, uint256 maxQueue, uint256 k) public pure {
        maxQueue = _bound(maxQueue, 3, 128);
        l = _bound(l, 1, maxQueue - 1);
        k = _bound(k, 1e16, 10e18);
        uint256 q1 = Ranking.exponent(l, maxQueue, k).unwrap();
        uint256 q2 = Ranking.exponent(l + 1, maxQueue, k).unwrap();
        if (q2 < q1) revert Violated("q(l+1) >= q(l)", q2, q1);
    }

    function testFuzz_score_fallsAsRewardRises(uint256 bytes_, uint256 flops, uint256 reward, uint256 extra, uint256 qRaw)
        public
        pure
    {
        bytes_ = _bound(bytes_, 0, 1e12);
        flops = _bound(flops, 0, 1e21);
        reward = _bound(reward, 1, Ranking.REWARD_MAX - 1);
        extra = _bound(extra, 1, Ranking.REWARD_MAX - reward);
        UD60x18 q = ud(_bound(qRaw, 0, Ranking.Q_MAX));
        uint256 low = Ranking.score(bytes_, 0, flops, reward + extra, 1e6, 1e9, q);
        uint256 high = Ranking.score(bytes_, 0, flops, reward, 1e6, 1e9, q);
        if (low > high) revert Violated("score(more reward) <= score(less reward)", low, high);
    }

    function testFuzz_score_growsWithWork(uint256 bytes_, uint256 flops, uint256 moreBytes, uint256 moreFlops, uint256 qRaw)
        public
        pure
    {
        bytes_ = _bound(bytes_, 0, 1e12);
        flops = _bound(flops, 0, 1e21);
        moreBytes = _bound(moreBytes, 0, 1e12);
        moreFlops = _bound(moreFlops, 0, 1e21);
        UD60x18 q = ud(_bound(qRaw, 0, Ranking.Q_MAX));
        uint256 base = Ranking.score(bytes_, 0, flops, 1e18, 1e6, 1e9, q);
        uint256 more = Ranking.score(bytes_ + moreBytes, 0, flops + moreFlops, 1e18, 1e6, 1e9, q);
        if (more < base) revert Violated("score(more work) >= score(work)", more, base);
    }

    function testFuzz_score_atLeastOneSecondPerReward(uint256 flops, uint256 reward, uint256 qRaw) public pure {
        flops = _bound(flops, 0, 1e21);
        reward = _bound(reward, 1e9, 1e27);
        UD60x18 q = ud(_bound(qRaw, 0, Ranking.Q_MAX));
        // dc^q >= 1 (dc counts as at least one second), so score >= 1e36 / reward (UD60x18).
        uint256 s = Ranking.score(0, 0, flops, reward, 1e6, 1e9, q);
        if (s < 1e36 / reward) revert Violated("score >= 1/reward", s, 1e36 / reward);
    }

    function testFuzz_pack_keepsTaskIdAndScore(uint32 taskId, uint256 dn, uint256 flops, uint256 reward) public pure {
        dn = _bound(dn, 0, type(uint64).max);
        flops = _bound(flops, 0, 1e21);
        reward = _bound(reward, 1, Ranking.REWARD_MAX);
        uint256 log2Dc = Ranking.computeLog2(flops, 1e9);
        uint256 entry = Ranking.pack(taskId, dn, log2Dc, reward);
        if (Ranking.taskIdOf(entry) != taskId) revert Violated("task id", Ranking.taskIdOf(entry), taskId);
        uint256 plain = Ranking.scoreOf(Ranking.pack(0, dn, log2Dc, reward), ud(1e18));
        uint256 withId = Ranking.scoreOf(entry, ud(1e18));
        if (plain != withId) revert Violated("id does not change the score", withId, plain);
    }

    function testFuzz_lowerBound_neverExceedsScore(uint256 dn, uint256 flops, uint256 compute, uint256 reward, uint256 qRaw)
        public
        pure
    {
        dn = _bound(dn, 0, type(uint64).max);
        compute = _bound(compute, 1, 1e18);
        flops = _bound(flops, 0, compute * 2 ** 64);
        reward = _bound(reward, 1, Ranking.REWARD_MAX);
        UD60x18 q = ud(_bound(qRaw, 0, Ranking.Q_MAX));
        uint256 entry = Ranking.pack(7, dn, Ranking.computeLog2(flops, compute), reward);
        uint256 bound = Ranking.boundOf(Ranking.keyOf(entry), q);
        uint256 exact = Ranking.scoreOf(entry, q);
        if (bound > exact) revert Violated("lower bound <= score", bound, exact);
    }

    function testFuzz_lowerBound_isWithinOnePercentOfScore(
        uint256 dn,
        uint256 flops,
        uint256 compute,
        uint256 reward,
        uint256 qRaw
    ) public pure {
        dn = _bound(dn, 0, type(uint64).max);
        compute = _bound(compute, 1, 1e18);
        flops = _bound(flops, 0, compute * 2 ** 64);
        reward = _bound(reward, 1, Ranking.REWARD_MAX);
        UD60x18 q = ud(_bound(qRaw, 0, Ranking.Q_MAX));
        uint256 entry = Ranking.pack(7, dn, Ranking.computeLog2(flops, compute), reward);
        uint256 bound = Ranking.boundOf(Ranking.keyOf(entry), q);
        uint256 exact = Ranking.scoreOf(entry, q);
        // Tight enough that startNext scores exactly only the tasks within 1 % of the best.
        if (bound < exact - exact / 100) revert Violated("lower bound >= 99 % of score", bound, exact);
    }

    function test_exponent_isZeroForShortQueues() public pure {
        uint256 q = Ranking.exponent(1, 64, 1e18).unwrap();
        if (q != 0) revert Violated("ln(1) = 0", q, 0);
    }

    function test_exponent_isOneForAFullQueueAtScaleOne() public pure {
        uint256 q = Ranking.exponent(64, 64, 1e18).unwrap();
        if (q + 1e3 < 1e18 || q > 1e18 + 1e3) revert Violated("ln(L)/ln(L) = 1", q, 1e18);
    }
}
