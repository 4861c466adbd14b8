// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {UD60x18, ud} from "@prb/math/src/UD60x18.sol";
import {Ranking} from "../libraries/Ranking.sol";

/// @title RankingHarness
/// @notice Exposes the Ranking library (ours) in batches, for the differential and gas tests.
contract RankingHarness {
    /// @notice One raw ranking input.
    /// @param modelBytes Declared model bytes.
    /// @param dataBytes Declared data bytes.
    /// @param flops Declared FLOPs.
    /// @param reward Reward.
    /// @param bandwidth Median bandwidth.
    /// @param compute Median compute.
    /// @param queueLength l.
    /// @param maxQueue L.
    /// @param rankScale k (UD60x18).
    struct Input {
        uint256 modelBytes;
        uint256 dataBytes;
        uint256 flops;
        uint256 reward;
        uint256 bandwidth;
        uint256 compute;
        uint256 queueLength;
        uint256 maxQueue;
        uint256 rankScale;
    }

    /// @notice Scores of a batch of inputs, each with its own q.
    /// @param inputs The inputs.
    /// @return out UD60x18 scores.
    /// @return qs The exponents used (UD60x18).
    function scores(Input[] calldata inputs) external pure returns (uint256[] memory out, uint256[] memory qs) {
        out = new uint256[](inputs.length);
        qs = new uint256[](inputs.length);
        for (uint256 i = 0; i < inputs.length; ++i) {
            Input calldata x = inputs[i];
            UD60x18 q = Ranking.exponent(x.queueLength, x.maxQueue, x.rankScale);
            qs[i] = q.unwrap();
            out[i] = Ranking.score(x.modelBytes, x.dataBytes, x.flops, x.reward, x.bandwidth, x.compute, q);
        }
    }

    /// @notice `Ranking.exponent`.
    /// @param queueLength l.
    /// @param maxQueue L.
    /// @param rankScale k.
    /// @return q UD60x18.
    function exponent(uint256 queueLength, uint256 maxQueue, uint256 rankScale) external pure returns (uint256) {
        return Ranking.exponent(queueLength, maxQueue, rankScale).unwrap();
    }

    /// @notice `Ranking.scoreOf` on a packed word.
    /// @param entry The word.
    /// @param q UD60x18.
    /// @return The score.
    function scoreOf(uint256 entry, uint256 q) external pure returns (uint256) {
        return Ranking.scoreOf(entry, ud(q));
    }
}
