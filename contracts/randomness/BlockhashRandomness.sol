// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRandomnessSource} from "../interfaces/IRandomnessSource.sol";

/// @title BlockhashRandomness
/// @notice Ethereum L1 randomness: the hash of a block `delay` blocks after the request.
/// @dev The request id is the target block. Its hash is unknown when the request lands and readable for
///      256 blocks after the target; then the request has expired and the consumer requests again.
///      Residual influence: the proposer (builder) of the target block chooses its contents and so can
///      choose among many hashes, or skip the slot; a consumer that must not trust one block producer
///      uses a verifiable source (VRF) instead. Stateless: anyone may request.
contract BlockhashRandomness is IRandomnessSource {
    uint256 private constant _MAX_DELAY = 128;

    /// @notice Blocks between a request and the block whose hash answers it.
    uint256 public immutable DELAY;

    /// @notice Thrown when the delay is 0 or above 128 blocks.
    /// @param delay The rejected delay.
    error RandomnessDelayOutOfBounds(uint256 delay);

    /// @param delay Blocks between a request and its target block (1..128).
    constructor(uint256 delay) {
        if (delay == 0 || delay > _MAX_DELAY) revert RandomnessDelayOutOfBounds(delay);
        DELAY = delay;
    }

    /// @inheritdoc IRandomnessSource
    function request() external returns (uint256 requestId) {
        requestId = block.number + DELAY;
        emit RandomnessRequested(requestId, msg.sender);
    }

    /// @inheritdoc IRandomnessSource
    function randomness(uint256 requestId) external view returns (RandomnessStatus, bytes32) {
        if (block.number <= requestId) return (RandomnessStatus.Pending, bytes32(0));
        bytes32 hash = blockhash(requestId);
        if (hash == bytes32(0)) return (RandomnessStatus.Expired, bytes32(0));
        return (RandomnessStatus.Ready, keccak256(abi.encode(hash, requestId)));
    }
}
