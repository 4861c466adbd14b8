// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IRandomnessSource} from "../interfaces/IRandomnessSource.sol";
import {IVrfCoordinatorV2Plus} from "./IVrfCoordinatorV2Plus.sol";

/// @title VrfRandomness
/// @notice L2 randomness (Arbitrum: `prevrandao` is a constant; OP stack: known in advance; block hashes come
///         from one sequencer): Chainlink VRF v2.5. The oracle's answer is verified on-chain by the
///         coordinator against its key, so neither the requester nor the sequencer can choose it.
/// @dev Only consumers the owner allows may request (each request spends the subscription). A request the
///      coordinator has not answered within `timeoutBlocks` has expired, and stays expired even if an
///      answer comes later: the consumer requests again, so an unanswered request never blocks a draw.
contract VrfRandomness is IRandomnessSource, Ownable2Step {
    bytes4 private constant _EXTRA_ARGS_V1_TAG = bytes4(keccak256("VRF ExtraArgsV1"));

    IVrfCoordinatorV2Plus private immutable _COORDINATOR;
    bytes32 private immutable _KEY_HASH;
    uint256 private immutable _SUB_ID;
    uint16 private immutable _CONFIRMATIONS;
    uint32 private immutable _CALLBACK_GAS;
    uint64 private immutable _TIMEOUT_BLOCKS;

    mapping(address consumer => bool) private _consumers;
    mapping(uint256 requestId => Request) private _requests;

    /// @dev One request: when it was made and, once answered in time, the word.
    struct Request {
        uint64 requestedAt;
        bool answered;
        bytes32 value;
    }

    /// @notice Emitted when the owner allows or disallows a consumer.
    /// @param consumer The consumer.
    /// @param allowed Whether it may request.
    event ConsumerSet(address indexed consumer, bool allowed);
    /// @notice Emitted when the coordinator answers a request in time.
    /// @param requestId The request.
    /// @param value The value.
    event RandomnessFulfilled(uint256 indexed requestId, bytes32 value);

    /// @notice Thrown when an account that is not an allowed consumer requests.
    /// @param caller The caller.
    error RandomnessConsumerNotAllowed(address caller);
    /// @notice Thrown when anyone but the coordinator answers.
    /// @param caller The caller.
    error RandomnessCallerNotCoordinator(address caller);
    /// @notice Thrown when an answer carries no word.
    /// @param requestId The request.
    error RandomnessAnswerEmpty(uint256 requestId);

    /// @param initialOwner Owner (consumers).
    /// @param coordinator The VRF v2.5 coordinator.
    /// @param keyHash The gas lane.
    /// @param subId The subscription (this contract must be its consumer).
    /// @param confirmations Blocks the oracle waits (the coordinator's minimum or more).
    /// @param callbackGas Gas for the answer (about 60,000 suffices).
    /// @param timeoutBlocks Blocks after which an unanswered request has expired.
    constructor(
        address initialOwner,
        IVrfCoordinatorV2Plus coordinator,
        bytes32 keyHash,
        uint256 subId,
        uint16 confirmations,
        uint32 callbackGas,
        uint64 timeoutBlocks
    ) Ownable(initialOwner) {
        _COORDINATOR = coordinator;
        _KEY_HASH = keyHash;
        _SUB_ID = subId;
        _CONFIRMATIONS = confirmations;
        _CALLBACK_GAS = callbackGas;
        _TIMEOUT_BLOCKS = timeoutBlocks;
    }

    /// @notice Allows or disallows a consumer (the registry, the market) to request (owner).
    /// @param consumer The consumer.
    /// @param allowed Whether it may request.
    function setConsumer(address consumer, bool allowed) external onlyOwner {
        _consumers[consumer] = allowed;
        emit ConsumerSet(consumer, allowed);
    }

    /// @inheritdoc IRandomnessSource
    function request() external returns (uint256 requestId) {
        if (!_consumers[msg.sender]) revert RandomnessConsumerNotAllowed(msg.sender);
        uint256 coordinatorId = _COORDINATOR.requestRandomWords(
            IVrfCoordinatorV2Plus.RandomWordsRequest({
                keyHash: _KEY_HASH,
                subId: _SUB_ID,
                requestConfirmations: _CONFIRMATIONS,
                callbackGasLimit: _CALLBACK_GAS,
                numWords: 1,
                extraArgs: abi.encodeWithSelector(_EXTRA_ARGS_V1_TAG, false)
            })
        );
        // The coordinator's ids are keccak256 hashes; their low 128 bits identify a request just as well
        // (a collision among n requests has probability about n²/2**129) and fit the consumers' packing.
        requestId = uint128(coordinatorId);
        _requests[requestId].requestedAt = uint64(block.number);
        emit RandomnessRequested(requestId, msg.sender);
    }

    /// @notice The coordinator's answer (VRFConsumerBaseV2Plus's entry point). Late or unknown answers are
    ///         ignored rather than reverted, as the coordinator expects.
    /// @param requestId The request.
    /// @param randomWords The words (one asked for).
    function rawFulfillRandomWords(uint256 requestId, uint256[] calldata randomWords) external {
        if (msg.sender != address(_COORDINATOR)) revert RandomnessCallerNotCoordinator(msg.sender);
        if (randomWords.length == 0) revert RandomnessAnswerEmpty(requestId);
        Request storage r = _requests[uint128(requestId)];
        if (r.requestedAt == 0 || r.answered || block.number > r.requestedAt + _TIMEOUT_BLOCKS) return;
        r.answered = true;
        r.value = bytes32(randomWords[0]);
        emit RandomnessFulfilled(uint128(requestId), r.value);
    }

    /// @inheritdoc IRandomnessSource
    function randomness(uint256 requestId) external view returns (RandomnessStatus, bytes32) {
        Request storage r = _requests[requestId];
        if (r.answered) return (RandomnessStatus.Ready, r.value);
        if (r.requestedAt != 0 && block.number > r.requestedAt + _TIMEOUT_BLOCKS) {
            return (RandomnessStatus.Expired, bytes32(0));
        }
        return (RandomnessStatus.Pending, bytes32(0));
    }

    /// @notice Whether `consumer` may request.
    /// @param consumer The account.
    /// @return allowed True if allowed.
    function isConsumer(address consumer) external view returns (bool) {
        return _consumers[consumer];
    }
}
