// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskMarket} from "../interfaces/ITaskMarket.sol";

/// @title CreditLedger
/// @notice The market's pull-payment ledger: what each account may withdraw, per token. Value leaves the
/// market only through `take` (the market's `withdraw`), which zeroes the credit before the transfer.
/// @dev OpenZeppelin 5 removed `PullPayment`, so the ledger is ours. It holds no funds: the market credits
/// only amounts it holds for the task being ended (escrow, bonds), so credits never exceed its balance
/// per token (fuzzed on its own in test/market/CreditLedger.t.sol, and with the market in
/// MarketInvariants.t.sol).
library CreditLedger {
    /// @dev One mapping; in a struct so that the ledger is one named piece of the market's state.
    struct Ledger {
        mapping(address account => mapping(address token => uint256 amount)) credits;
    }

    /// @notice Adds `amount` to the account's credit in `token` (nothing, and no event, for 0).
    /// @param self The ledger.
    /// @param account Who is credited.
    /// @param token The token (address(0) = ETH).
    /// @param amount The amount.
    function credit(Ledger storage self, address account, address token, uint256 amount) internal {
        if (amount == 0) return;
        self.credits[account][token] += amount;
        emit ITaskMarket.Credited(account, token, amount);
    }

    /// @notice Zeroes the account's credit in `token` and returns it, for the caller to pay out after.
    /// @param self The ledger.
    /// @param account Who withdraws.
    /// @param token The token.
    /// @return amount The credit (reverts `NothingToWithdraw` when 0).
    function take(Ledger storage self, address account, address token) internal returns (uint256 amount) {
        amount = self.credits[account][token];
        if (amount == 0) revert ITaskMarket.NothingToWithdraw(account, token);
        self.credits[account][token] = 0;
    }

    /// @notice The account's credit in `token`.
    /// @param self The ledger.
    /// @param account The account.
    /// @param token The token.
    /// @return The credit.
    function creditOf(Ledger storage self, address account, address token) internal view returns (uint256) {
        return self.credits[account][token];
    }
}
