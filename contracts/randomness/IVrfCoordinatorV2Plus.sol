// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IVrfCoordinatorV2Plus
/// @notice The part of Chainlink's VRF v2.5 coordinator (`IVRFCoordinatorV2Plus.requestRandomWords`) that
///         `VrfRandomness` calls, with `VRFV2PlusClient.RandomWordsRequest` spelled out (same ABI). Written
///         here because the Chainlink contracts npm package cannot be installed on our build machines (one of its
///         dependencies is fetched from a git host). The coordinator answers by calling the consumer's
///         `rawFulfillRandomWords(requestId, randomWords)`.
interface IVrfCoordinatorV2Plus {
    /// @notice `VRFV2PlusClient.RandomWordsRequest`.
    /// @param keyHash The gas lane (the oracle's key).
    /// @param subId The subscription that pays.
    /// @param requestConfirmations Blocks the oracle waits before answering.
    /// @param callbackGasLimit Gas for `rawFulfillRandomWords`.
    /// @param numWords Words asked for.
    /// @param extraArgs `abi.encodeWithSelector(bytes4(keccak256("VRF ExtraArgsV1")), nativePayment)`.
    struct RandomWordsRequest {
        bytes32 keyHash;
        uint256 subId;
        uint16 requestConfirmations;
        uint32 callbackGasLimit;
        uint32 numWords;
        bytes extraArgs;
    }

    /// @notice Requests random words; the coordinator calls back `rawFulfillRandomWords` later.
    /// @param req The request.
    /// @return requestId The request.
    function requestRandomWords(RandomWordsRequest calldata req) external returns (uint256 requestId);
}
