// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title PodlTimelock
/// @notice OpenZeppelin's TimelockController as the owner of the PoDL contracts in production deployments
/// (scripts/deploy.ts with `PODL_TIMELOCK_DELAY`): every owner call (parameters, treasury, settlement
/// module) is queued at least `minDelay` seconds before it can run, so users see changes coming.
contract PodlTimelock is TimelockController {
    /// @param minDelay Least delay of a queued operation, in seconds.
    /// @param proposers Accounts that may queue (and cancel) operations.
    /// @param executors Accounts that may execute ready operations (address(0) = anyone).
    /// @param admin Optional admin for role changes (address(0) = none; the timelock administers itself).
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
