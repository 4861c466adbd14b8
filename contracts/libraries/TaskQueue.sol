// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {UD60x18} from "@prb/math/src/UD60x18.sol";
import {Ranking} from "./Ranking.sol";

/// @title TaskQueue
/// @notice The market's queue of tasks waiting to start: unordered `Ranking.pack` words with their ranking
/// keys; `lowest` picks the task `startNext` starts (lowest DLBC score, ties to the lower task id) and
/// `highest` the one a full queue evicts (highest score, ties to the higher task id).
/// @dev The length is the caller's (the market packs it with its counters, so that `postTask` and
/// `startNext` touch one slot for both); positions at or past it are stale and never read. Removal moves
/// the last word into the hole, so positions are not stable.
library TaskQueue {
    /// @notice Most tasks a queue holds.
    uint256 internal constant CAPACITY = 128;

    /// @dev `keys[i]` is `Ranking.keyOf(words[i])`, four to a slot, so that `lowest` reads one cold slot per
    /// four tasks for their lower bounds.
    struct Queue {
        uint256[CAPACITY] words;
        uint64[CAPACITY] keys;
    }

    /// @notice Appends `entry` at position `length` (the caller keeps `length` < CAPACITY).
    /// @param self The queue.
    /// @param length Tasks queued before the push.
    /// @param entry The task's queue word (`Ranking.pack`).
    function push(Queue storage self, uint256 length, uint256 entry) internal {
        self.words[length] = entry;
        self.keys[length] = uint64(Ranking.keyOf(entry));
    }

    /// @notice Removes the task at `position`: the last word takes its place, the last slot is cleared.
    /// @param self The queue.
    /// @param position Position of the task (< length).
    /// @param length Tasks queued before the removal (≥ 1).
    function removeAt(Queue storage self, uint256 position, uint256 length) internal {
        uint256 last = length - 1;
        if (position != last) {
            self.words[position] = self.words[last];
            self.keys[position] = self.keys[last];
        }
        // Cleared (refunded) rather than left stale; its key is never read past the length.
        self.words[last] = 0;
    }

    /// @notice Position of a queued task (the caller checked that it is queued, so it is below the length).
    /// @param self The queue.
    /// @param taskId The task.
    /// @return position Its position.
    function positionOf(Queue storage self, uint256 taskId) internal view returns (uint256 position) {
        while (Ranking.taskIdOf(self.words[position]) != taskId) ++position;
    }

    /// @notice The queued words in position order.
    /// @param self The queue.
    /// @param length Tasks queued.
    /// @return out The words.
    function wordsOf(Queue storage self, uint256 length) internal view returns (uint256[] memory out) {
        out = new uint256[](length);
        for (uint256 i = 0; i < length; ++i) {
            out[i] = self.words[i];
        }
    }

    /// @notice Lowest (score, task id) in a non-empty queue. First pass: one cold slot per four tasks
    /// (`keys`) and a cheap lower bound each (`Ranking.boundOf`); the task with the lowest bound gets its
    /// exact score. Second pass: exact scores (one cold word each) only for tasks whose bound does not
    /// exceed the best so far (a higher bound cannot win or tie).
    /// @param self The queue.
    /// @param length Tasks queued (1..CAPACITY).
    /// @param q The queue exponent (`Ranking.exponent`).
    /// @return position Position of the task to start.
    /// @return bestScore Its score.
    function lowest(Queue storage self, uint256 length, UD60x18 q)
        internal
        view
        returns (uint256 position, uint256 bestScore)
    {
        uint256[] memory bounds = new uint256[](length);
        uint256 lowestBound = type(uint256).max;
        uint256 keysSlot;
        uint256 wordsSlot;
        // Both arrays are fixed-size, so their elements sit at consecutive slots from their own slot; every
        // read below is inside them (this skips the bounds checks of `self.words[i]`).
        assembly ("memory-safe") {
            keysSlot := add(self.slot, CAPACITY)
            wordsSlot := self.slot
        }
        // Unchecked: i, j < length ≤ CAPACITY.
        unchecked {
            for (uint256 i = 0; i < length; i += 4) {
                uint256 four;
                assembly ("memory-safe") {
                    four := sload(add(keysSlot, shr(2, i)))
                }
                uint256 end = length - i < 4 ? length : i + 4;
                for (uint256 j = i; j < end; ++j) {
                    uint256 bound = Ranking.boundOf(uint64(four), q);
                    four >>= 64;
                    assembly ("memory-safe") {
                        mstore(add(bounds, shl(5, add(j, 1))), bound)
                    }
                    if (bound < lowestBound) (lowestBound, position) = (bound, j);
                }
            }
        }
        uint256 entry;
        assembly ("memory-safe") {
            entry := sload(add(wordsSlot, position))
        }
        bestScore = Ranking.scoreOf(entry, q);
        uint256 bestId = Ranking.taskIdOf(entry);
        for (uint256 i = 0; i < length; ++i) {
            if (i == position || bounds[i] > bestScore) continue;
            assembly ("memory-safe") {
                entry := sload(add(wordsSlot, i))
            }
            uint256 s = Ranking.scoreOf(entry, q);
            uint256 id = Ranking.taskIdOf(entry);
            if (s < bestScore || (s == bestScore && id < bestId)) (position, bestScore, bestId) = (i, s, id);
        }
    }

    /// @notice Highest (score, task id) in a non-empty queue; reads every word (only on a full queue).
    /// @param self The queue.
    /// @param length Tasks queued (1..CAPACITY).
    /// @param q The queue exponent (`Ranking.exponent`).
    /// @return position Position of the worst task.
    /// @return worstScore Its score.
    /// @return worstId Its task id.
    function highest(Queue storage self, uint256 length, UD60x18 q)
        internal
        view
        returns (uint256 position, uint256 worstScore, uint256 worstId)
    {
        for (uint256 i = 0; i < length; ++i) {
            uint256 word = self.words[i];
            uint256 score = Ranking.scoreOf(word, q);
            uint256 id = Ranking.taskIdOf(word);
            if (score > worstScore || (score == worstScore && id > worstId)) (position, worstScore, worstId) = (i, score, id);
        }
    }
}
