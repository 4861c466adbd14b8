// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ud} from "@prb/math/src/UD60x18.sol";
import {Ranking} from "../libraries/Ranking.sol";
import {TaskQueue} from "../libraries/TaskQueue.sol";

/// @title TaskQueueHarness
/// @notice Exposes the TaskQueue library (ours) on one queue with its own length, for its fuzz suite.
contract TaskQueueHarness {
    using TaskQueue for TaskQueue.Queue;

    TaskQueue.Queue private _queue;
    /// @notice Tasks queued.
    uint256 public length;

    /// @notice Appends a queue word.
    /// @param entry The word (`Ranking.pack`).
    function push(uint256 entry) external {
        _queue.push(length, entry);
        ++length;
    }

    /// @notice Removes the task at `position`.
    /// @param position Its position (< length).
    function removeAt(uint256 position) external {
        _queue.removeAt(position, length);
        --length;
    }

    /// @notice Position of a queued task.
    /// @param taskId The task.
    /// @return Its position.
    function positionOf(uint256 taskId) external view returns (uint256) {
        return _queue.positionOf(taskId);
    }

    /// @notice The task startNext would start at exponent `q`.
    /// @param q UD60x18 exponent.
    /// @return position Its position.
    /// @return score Its score.
    function lowest(uint256 q) external view returns (uint256 position, uint256 score) {
        return _queue.lowest(length, ud(q));
    }

    /// @notice The task a full queue would evict at exponent `q`.
    /// @param q UD60x18 exponent.
    /// @return position Its position.
    /// @return score Its score.
    /// @return taskId Its task id.
    function highest(uint256 q) external view returns (uint256 position, uint256 score, uint256 taskId) {
        return _queue.highest(length, ud(q));
    }

    /// @notice The queued words in position order.
    /// @return The words.
    function words() external view returns (uint256[] memory) {
        return _queue.wordsOf(length);
    }

    /// @notice Whether every queued position's ranking key matches its word.
    /// @return True if all match.
    function keysMatchWords() external view returns (bool) {
        for (uint256 i = 0; i < length; ++i) {
            if (_queue.keys[i] != uint64(Ranking.keyOf(_queue.words[i]))) return false;
        }
        return true;
    }
}
