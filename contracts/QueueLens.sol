// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {UD60x18} from "@prb/math/src/UD60x18.sol";
import {IQueueLens} from "./interfaces/IQueueLens.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";
import {Ranking} from "./libraries/Ranking.sol";

/// @title QueueLens
/// @notice Read-only view of a TaskMarket's queue in start order.
contract QueueLens is IQueueLens {
    ITaskMarket private immutable _market;

    /// @param market_ The market to read.
    constructor(ITaskMarket market_) {
        _market = market_;
    }

    /// @inheritdoc IQueueLens
    function market() external view returns (ITaskMarket) {
        return _market;
    }

    /// @inheritdoc IQueueLens
    function queuePage(uint256 offset, uint256 limit)
        external
        view
        returns (uint256[] memory taskIds, uint256[] memory scores)
    {
        uint256[] memory words = _market.queueWords();
        uint256 length = words.length;
        uint256 end = offset + limit > length ? length : offset + limit;
        if (offset >= end) return (new uint256[](0), new uint256[](0));
        ITaskMarket.MarketParams memory p = _market.params();
        UD60x18 q = Ranking.exponent(length, p.maxQueue, p.rankScale);
        uint256[] memory ids = new uint256[](length);
        uint256[] memory all = new uint256[](length);
        // Insertion sort by (score, task id); the queue holds at most 128 tasks.
        for (uint256 i = 0; i < length; ++i) {
            uint256 id = Ranking.taskIdOf(words[i]);
            uint256 s = Ranking.scoreOf(words[i], q);
            uint256 j = i;
            while (j > 0 && (all[j - 1] > s || (all[j - 1] == s && ids[j - 1] > id))) {
                all[j] = all[j - 1];
                ids[j] = ids[j - 1];
                --j;
            }
            all[j] = s;
            ids[j] = id;
        }
        taskIds = new uint256[](end - offset);
        scores = new uint256[](end - offset);
        for (uint256 i = offset; i < end; ++i) {
            taskIds[i - offset] = ids[i];
            scores[i - offset] = all[i];
        }
    }
}
