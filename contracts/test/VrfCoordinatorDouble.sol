// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVrfCoordinatorV2Plus} from "../randomness/IVrfCoordinatorV2Plus.sol";

/// @dev Consumer side of the answer.
interface IVrfConsumer {
    function rawFulfillRandomWords(uint256 requestId, uint256[] calldata randomWords) external;
}

/// @title VrfCoordinatorDouble
/// @notice Test double of Chainlink's VRF v2.5 coordinator, a boundary we do not own (VRFCoordinatorV2_5Mock's
///         stand-in: the Chainlink contracts npm package cannot be installed here). It numbers requests, records the
///         consumer and answers when the test says so, with the word the test gives (the real coordinator
///         answers with a proof-checked word).
contract VrfCoordinatorDouble is IVrfCoordinatorV2Plus {
    uint256 private _next = 1;
    mapping(uint256 requestId => address consumer) private _consumerOf;

    /// @notice Emitted per request, with what the oracle would see.
    event RandomWordsRequested(uint256 indexed requestId, address indexed consumer, RandomWordsRequest req);

    /// @notice Thrown when a test answers an unknown request.
    error UnknownRequest(uint256 requestId);

    /// @inheritdoc IVrfCoordinatorV2Plus
    function requestRandomWords(RandomWordsRequest calldata req) external returns (uint256 requestId) {
        requestId = _next++;
        _consumerOf[requestId] = msg.sender;
        emit RandomWordsRequested(requestId, msg.sender, req);
    }

    /// @notice Answers `requestId` with `word`, as the oracle's fulfilment transaction would.
    function fulfill(uint256 requestId, uint256 word) external {
        address consumer = _consumerOf[requestId];
        if (consumer == address(0)) revert UnknownRequest(requestId);
        uint256[] memory words = new uint256[](1);
        words[0] = word;
        IVrfConsumer(consumer).rawFulfillRandomWords(requestId, words);
    }
}
