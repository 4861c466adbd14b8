// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IRandomnessSource
/// @notice A source of randomness that is fixed when it is requested and unknown to the requester then.
/// @dev Chosen at deployment: a future block's hash on Ethereum L1 (`BlockhashRandomness`), a verifiable
///      source (Chainlink VRF) on L2s, where `prevrandao` is constant (Arbitrum) or known early (OP stack).
///      Consumers mix the value with their own context (task, round): one value may serve several requests.
interface IRandomnessSource {
    /// @notice State of a request.
    /// @param Pending The value is not available yet.
    /// @param Ready The value is available and final.
    /// @param Expired The value can no longer be read; the consumer requests again.
    enum RandomnessStatus {
        Pending,
        Ready,
        Expired
    }

    /// @notice Emitted when randomness is requested.
    /// @param requestId The request.
    /// @param requester The consumer that asked.
    event RandomnessRequested(uint256 indexed requestId, address indexed requester);

    /// @notice Requests a value that nobody, the caller included, can know in this transaction.
    /// @return requestId The request, for `randomness`; below 2**128, so that a consumer packs it with
    /// other fields (the market does, to start a task without a fresh storage slot).
    function request() external returns (uint256 requestId);

    /// @notice The value of a request, once it is available.
    /// @param requestId The request.
    /// @return status Pending, Ready or Expired.
    /// @return value The value (zero unless Ready).
    function randomness(uint256 requestId) external view returns (RandomnessStatus status, bytes32 value);
}
