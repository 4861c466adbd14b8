// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {CreditLedger} from "../libraries/CreditLedger.sol";

/// @title CreditLedgerHarness
/// @notice The CreditLedger library (ours) in a minimal escrow, for its fuzz suite: deposits are held per
/// token, part of what is held is credited to accounts, and withdrawals take credits out. Amounts are
/// bookkeeping only (no transfers): the ledger's arithmetic is what is under test.
contract CreditLedgerHarness {
    using CreditLedger for CreditLedger.Ledger;

    CreditLedger.Ledger private _ledger;
    /// @notice What the escrow holds per token.
    mapping(address token => uint256) public held;
    /// @notice What the escrow has credited and not yet paid out, per token.
    mapping(address token => uint256) public allocated;

    /// @notice Thrown when a credit would exceed what is held and not yet credited.
    /// @param token The token.
    /// @param amount The credit asked.
    /// @param free What is free.
    error NotHeld(address token, uint256 amount, uint256 free);

    /// @notice Records a deposit.
    /// @param token The token.
    /// @param amount The amount.
    function deposit(address token, uint256 amount) external {
        held[token] += amount;
    }

    /// @notice Credits `amount` of what is held and not yet credited.
    /// @param account Who is credited.
    /// @param token The token.
    /// @param amount The amount.
    function credit(address account, address token, uint256 amount) external {
        uint256 free = held[token] - allocated[token];
        if (amount > free) revert NotHeld(token, amount, free);
        allocated[token] += amount;
        _ledger.credit(account, token, amount);
    }

    /// @notice Takes the account's whole credit out, as the market's `withdraw` does before paying.
    /// @param account Who withdraws.
    /// @param token The token.
    /// @return amount What was taken.
    function withdraw(address account, address token) external returns (uint256 amount) {
        amount = _ledger.take(account, token);
        allocated[token] -= amount;
        held[token] -= amount;
    }

    /// @notice The account's credit.
    /// @param account The account.
    /// @param token The token.
    /// @return The credit.
    function creditOf(address account, address token) external view returns (uint256) {
        return _ledger.creditOf(account, token);
    }
}
