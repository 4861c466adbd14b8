// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITaskMarket} from "../interfaces/ITaskMarket.sol";

/// @title ReentrantReceiverDouble
/// @notice Test double for a hostile outside contract: it acts through `execute` and, when it receives
/// ETH, tries to withdraw from the market again and records whether that worked.
contract ReentrantReceiverDouble {
    /// @notice Thrown when a forwarded call fails.
    /// @param reason The revert data.
    error ForwardFailed(bytes reason);

    ITaskMarket private immutable _market;
    uint256 private _reentries;
    uint256 private _reentrySuccesses;

    /// @param market_ The market it attacks.
    constructor(ITaskMarket market_) {
        _market = market_;
    }

    receive() external payable {
        ++_reentries;
        // A hostile receiver swallows the failure and keeps the ETH it got.
        try _market.withdraw(address(0)) {
            ++_reentrySuccesses;
        } catch {} // solhint-disable-line no-empty-blocks
    }

    /// @notice Calls `target` with `data` and `msg.value` as this contract.
    /// @param target Callee.
    /// @param data Calldata.
    /// @return result Return data.
    function execute(address target, bytes calldata data) external payable returns (bytes memory result) {
        bool ok;
        (ok, result) = target.call{value: msg.value}(data);
        if (!ok) revert ForwardFailed(result);
    }

    /// @notice How often the receiver re-entered and how often that re-entry succeeded.
    /// @return attempts Re-entry attempts.
    /// @return successes Successful re-entries.
    function reentries() external view returns (uint256 attempts, uint256 successes) {
        return (_reentries, _reentrySuccesses);
    }
}
