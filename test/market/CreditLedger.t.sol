// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITaskMarket} from "../../contracts/interfaces/ITaskMarket.sol";
import {CreditLedgerHarness} from "../../contracts/test/CreditLedgerHarness.sol";

/// @dev Random deposits, credits and withdrawals across four accounts and two tokens, with ghost totals.
contract CreditLedgerHandler {
    CreditLedgerHarness public immutable ledger;
    address[4] public accounts = [address(0xA1), address(0xA2), address(0xA3), address(0xA4)];
    address[2] public tokens = [address(0), address(0x70CE)];
    /// @dev Ghost: everything ever credited and withdrawn, per token.
    mapping(address token => uint256) public creditedTotal;
    mapping(address token => uint256) public withdrawnTotal;
    /// @dev Ghost: a withdrawal paid other than the account's whole credit, or left some behind.
    bool public badWithdrawal;

    constructor(CreditLedgerHarness ledger_) {
        ledger = ledger_;
    }

    function deposit(uint256 tokenPick, uint256 amount) external {
        ledger.deposit(tokens[tokenPick % 2], amount % 1e30);
    }

    function credit(uint256 accountPick, uint256 tokenPick, uint256 amount) external {
        address token = tokens[tokenPick % 2];
        uint256 free = ledger.held(token) - ledger.allocated(token);
        if (free == 0) return;
        amount = amount % (free + 1);
        ledger.credit(accounts[accountPick % 4], token, amount);
        creditedTotal[token] += amount;
    }

    function withdraw(uint256 accountPick, uint256 tokenPick) external {
        address account = accounts[accountPick % 4];
        address token = tokens[tokenPick % 2];
        uint256 before = ledger.creditOf(account, token);
        if (before == 0) return;
        uint256 paid = ledger.withdraw(account, token);
        if (paid != before || ledger.creditOf(account, token) != 0) badWithdrawal = true;
        withdrawnTotal[token] += paid;
    }

    function creditsOf(address token) external view returns (uint256 sum) {
        for (uint256 i = 0; i < 4; ++i) {
            sum += ledger.creditOf(accounts[i], token);
        }
    }
}

/// @dev CreditLedger on its own: credits never exceed what is held per token, every credit is either
/// still owed or was withdrawn exactly once, and a withdrawal takes the whole credit.
contract CreditLedgerTest {
    error Violated(string what, uint256 a, uint256 b);

    CreditLedgerHarness private _ledger;
    CreditLedgerHandler private _handler;

    function setUp() public {
        _ledger = new CreditLedgerHarness();
        _handler = new CreditLedgerHandler(_ledger);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(_handler);
    }

    function testFuzz_credit_thenWithdraw_paysTheSumOnce(uint256 a, uint256 b) public {
        a = a % 1e30;
        b = b % 1e30;
        _ledger.deposit(address(0), a + b);
        _ledger.credit(address(0xA1), address(0), a);
        _ledger.credit(address(0xA1), address(0), b);
        if (a + b == 0) return;
        uint256 paid = _ledger.withdraw(address(0xA1), address(0));
        if (paid != a + b) revert Violated("withdraw pays the sum", paid, a + b);
        try _ledger.withdraw(address(0xA1), address(0)) {
            revert Violated("second withdraw reverts", 0, 0);
        } catch (bytes memory reason) {
            if (bytes4(reason) != ITaskMarket.NothingToWithdraw.selector) revert Violated("NothingToWithdraw", 0, 0);
        }
    }

    function testFuzz_credit_beyondWhatIsHeld_reverts(uint256 held, uint256 extra) public {
        held = held % 1e30;
        extra = 1 + extra % 1e30;
        _ledger.deposit(address(0), held);
        try _ledger.credit(address(0xA1), address(0), held + extra) {
            revert Violated("over-credit reverts", held, extra);
        } catch (bytes memory reason) {
            if (bytes4(reason) != CreditLedgerHarness.NotHeld.selector) revert Violated("NotHeld", 0, 0);
        }
    }

    function invariant_creditsNeverExceedWhatIsHeld() public view {
        for (uint256 i = 0; i < 2; ++i) {
            address token = _handler.tokens(i);
            uint256 owed = _handler.creditsOf(token);
            if (owed > _ledger.held(token)) revert Violated("credits <= held", owed, _ledger.held(token));
        }
    }

    function invariant_everyCreditIsOwedOrWithdrawnOnce() public view {
        for (uint256 i = 0; i < 2; ++i) {
            address token = _handler.tokens(i);
            uint256 owed = _handler.creditsOf(token);
            uint256 credited = _handler.creditedTotal(token);
            uint256 withdrawn = _handler.withdrawnTotal(token);
            if (owed + withdrawn != credited) revert Violated("owed + withdrawn == credited", owed + withdrawn, credited);
        }
    }

    function invariant_withdrawalTakesTheWholeCredit() public view {
        if (_handler.badWithdrawal()) revert Violated("withdraw takes the whole credit", 0, 0);
    }
}
