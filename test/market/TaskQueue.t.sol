// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {UD60x18, ud} from "@prb/math/src/UD60x18.sol";
import {Ranking} from "../../contracts/libraries/Ranking.sol";
import {TaskQueue} from "../../contracts/libraries/TaskQueue.sol";
import {TaskQueueHarness} from "../../contracts/test/TaskQueueHarness.sol";

/// @dev Draws queue words: terms from small sets (so that scores tie often) or from their whole range.
library QueueWords {
    function draw(uint256 taskId, uint256 seed) internal pure returns (uint256) {
        uint256 r = uint256(keccak256(abi.encode(seed, taskId)));
        bool wide = r % 4 == 0;
        uint256 dn = wide ? uint64(r >> 8) : ((r >> 8) % 4) * 1e9;
        uint256 log2Dc = wide ? ((r >> 72) % 64e15) : ((r >> 72) % 3) * 5e15;
        uint256 reward = wide ? 1 + ((r >> 136) % Ranking.REWARD_MAX) : (1 + (r >> 136) % 3) * 1e18;
        return Ranking.pack(taskId, dn, log2Dc, reward);
    }

    /// @dev The reference: lowest (score, id) by brute force.
    function lowest(uint256[] memory list, UD60x18 q) internal pure returns (uint256 bestId, uint256 bestScore) {
        bestScore = type(uint256).max;
        for (uint256 i = 0; i < list.length; ++i) {
            uint256 s = Ranking.scoreOf(list[i], q);
            uint256 id = Ranking.taskIdOf(list[i]);
            if (s < bestScore || (s == bestScore && id < bestId)) (bestId, bestScore) = (id, s);
        }
    }

    /// @dev The reference: highest (score, id) by brute force.
    function highest(uint256[] memory list, UD60x18 q) internal pure returns (uint256 worstId, uint256 worstScore) {
        for (uint256 i = 0; i < list.length; ++i) {
            uint256 s = Ranking.scoreOf(list[i], q);
            uint256 id = Ranking.taskIdOf(list[i]);
            if (s > worstScore || (s == worstScore && id > worstId)) (worstId, worstScore) = (id, s);
        }
    }
}

/// @dev Random inserts, cancels, starts (lowest out) and evictions (highest out for a better entry) on the
/// queue, mirrored on a plain list: the reference model.
contract TaskQueueHandler {
    TaskQueueHarness public immutable queue;
    /// @dev Ghost: the queued words, in any order.
    uint256[] public model;
    uint256 public nextId = 1;
    /// @dev Ghost: the exponent of the last start or eviction, for the invariants.
    uint256 public lastQ;
    /// @dev Ghost: a start or eviction picked another task than the reference.
    bool public wrongPick;

    constructor(TaskQueueHarness queue_) {
        queue = queue_;
    }

    function insert(uint256 seed) external {
        if (model.length == TaskQueue.CAPACITY) return;
        uint256 entry = QueueWords.draw(nextId++, seed);
        queue.push(entry);
        model.push(entry);
    }

    function cancel(uint256 pick) external {
        if (model.length == 0) return;
        uint256 i = pick % model.length;
        uint256 id = Ranking.taskIdOf(model[i]);
        queue.removeAt(queue.positionOf(id));
        _drop(i);
    }

    function startNext(uint256 qRaw) external {
        if (model.length == 0) return;
        UD60x18 q = ud(qRaw % (Ranking.Q_MAX + 1));
        lastQ = q.unwrap();
        (uint256 position, uint256 score) = queue.lowest(q.unwrap());
        uint256 id = Ranking.taskIdOf(queue.words()[position]);
        (uint256 refId, uint256 refScore) = QueueWords.lowest(model, q);
        if (id != refId || score != refScore) wrongPick = true;
        queue.removeAt(position);
        _drop(_modelIndex(id));
    }

    function evict(uint256 qRaw, uint256 seed) external {
        if (model.length == 0) return;
        UD60x18 q = ud(qRaw % (Ranking.Q_MAX + 1));
        lastQ = q.unwrap();
        uint256 entry = QueueWords.draw(nextId, seed);
        (uint256 position, uint256 score, uint256 id) = queue.highest(q.unwrap());
        (uint256 refId, uint256 refScore) = QueueWords.highest(model, q);
        if (id != refId || score != refScore) wrongPick = true;
        // as in postTask: only a strictly better entry evicts
        if (Ranking.scoreOf(entry, q) >= score) return;
        queue.removeAt(position);
        _drop(_modelIndex(id));
        ++nextId;
        queue.push(entry);
        model.push(entry);
    }

    function modelWords() external view returns (uint256[] memory) {
        return model;
    }

    function _modelIndex(uint256 id) private view returns (uint256 i) {
        while (Ranking.taskIdOf(model[i]) != id) ++i;
    }

    function _drop(uint256 i) private {
        model[i] = model[model.length - 1];
        model.pop();
    }
}

/// @dev TaskQueue on its own: the queue holds exactly the reference model's tasks, and `lowest` and
/// `highest` pick what a brute-force scan of exact scores picks, after any sequence of operations.
contract TaskQueueTest {
    error Violated(string what, uint256 a, uint256 b);

    TaskQueueHarness private _queue;
    TaskQueueHandler private _handler;

    function setUp() public {
        _queue = new TaskQueueHarness();
        _handler = new TaskQueueHandler(_queue);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(_handler);
    }

    function testFuzz_lowest_matchesBruteForce(uint256 seed, uint256 count, uint256 qRaw) public {
        count = 1 + count % 64;
        UD60x18 q = ud(qRaw % (Ranking.Q_MAX + 1));
        uint256[] memory list = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            list[i] = QueueWords.draw(i + 1, seed);
            _queue.push(list[i]);
        }
        (uint256 position, uint256 score) = _queue.lowest(q.unwrap());
        (uint256 refId, uint256 refScore) = QueueWords.lowest(list, q);
        uint256 id = Ranking.taskIdOf(_queue.words()[position]);
        if (id != refId) revert Violated("lowest id == reference", id, refId);
        if (score != refScore) revert Violated("lowest score == reference", score, refScore);
    }

    function testFuzz_removeAt_keepsEveryOtherTask(uint256 seed, uint256 count, uint256 pick) public {
        count = 1 + count % 32;
        for (uint256 i = 0; i < count; ++i) {
            _queue.push(QueueWords.draw(i + 1, seed));
        }
        uint256 gone = 1 + pick % count;
        _queue.removeAt(_queue.positionOf(gone));
        uint256[] memory left = _queue.words();
        if (left.length != count - 1) revert Violated("one task fewer", left.length, count - 1);
        uint256 idSum = 0;
        for (uint256 i = 0; i < left.length; ++i) {
            uint256 id = Ranking.taskIdOf(left[i]);
            if (id == gone) revert Violated("removed task is gone", id, gone);
            if (left[i] != QueueWords.draw(id, seed)) revert Violated("words unchanged", left[i], id);
            idSum += id;
        }
        if (idSum != count * (count + 1) / 2 - gone) revert Violated("every other task stays", idSum, gone);
        if (!_queue.keysMatchWords()) revert Violated("keys follow the words", 0, 0);
    }

    function invariant_queueHoldsExactlyTheModel() public view {
        uint256[] memory held = _queue.words();
        uint256[] memory model = _handler.modelWords();
        if (held.length != model.length) revert Violated("length == model", held.length, model.length);
        for (uint256 i = 0; i < model.length; ++i) {
            bool found = false;
            for (uint256 j = 0; j < held.length && !found; ++j) {
                found = held[j] == model[i];
            }
            if (!found) revert Violated("model task queued", Ranking.taskIdOf(model[i]), i);
        }
    }

    function invariant_keysFollowTheirWords() public view {
        if (!_queue.keysMatchWords()) revert Violated("keys follow the words", 0, 0);
    }

    function invariant_startsAndEvictionsPickTheReference() public view {
        if (_handler.wrongPick()) revert Violated("pick == reference", _handler.lastQ(), 0);
    }

    function invariant_lowestMatchesTheModelNow() public view {
        uint256[] memory model = _handler.modelWords();
        if (model.length == 0) return;
        UD60x18 q = ud(_handler.lastQ());
        (uint256 position, uint256 score) = _queue.lowest(q.unwrap());
        (uint256 refId, uint256 refScore) = QueueWords.lowest(model, q);
        uint256 id = Ranking.taskIdOf(_queue.words()[position]);
        if (id != refId || score != refScore) revert Violated("lowest == reference", id, refId);
    }
}
