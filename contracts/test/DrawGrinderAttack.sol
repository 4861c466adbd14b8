// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ISettlement} from "../interfaces/ISettlement.sol";
import {IValidatorRegistry} from "../interfaces/IValidatorRegistry.sol";

/// @title DrawGrinderAttack
/// @notice The attacker of finding 2 (issue 9): a sybil validator contract that reads the block's
///         randomness, tops up its stake and draws the committee in one transaction. Against the old draw
///         (this block's prevrandao, live stakes) it chose the top-up that won it the seats; the tests
///         check that the top-up now changes nothing.
contract DrawGrinderAttack {
    IValidatorRegistry private immutable _REGISTRY;
    ISettlement private immutable _SETTLEMENT;

    /// @notice Emitted with what the old draw read in the draw's own block.
    /// @param prevrandao This block's prevrandao.
    /// @param lastHash The previous block's hash.
    event RandomnessRead(bytes32 prevrandao, bytes32 lastHash);

    /// @param registry The registry to stake in.
    /// @param settlement The settlement whose draw it grinds.
    constructor(IValidatorRegistry registry, ISettlement settlement) {
        _REGISTRY = registry;
        _SETTLEMENT = settlement;
    }

    /// @notice Takes the stake back after unbonding.
    receive() external payable {}

    /// @notice Stakes `msg.value` as the sybil.
    function stake() external payable {
        _REGISTRY.stake{value: msg.value}(msg.value);
    }

    /// @notice Reads the randomness visible in this block, tops up by `msg.value` and draws, all at once.
    /// @param taskId The task whose committee it draws.
    function topUpAndDraw(uint256 taskId) external payable {
        emit RandomnessRead(bytes32(block.prevrandao), blockhash(block.number - 1));
        _REGISTRY.stake{value: msg.value}(msg.value);
        _SETTLEMENT.drawCommittee(taskId);
    }
}
