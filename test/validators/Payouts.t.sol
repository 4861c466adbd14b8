// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITaskMarket} from "../../contracts/interfaces/ITaskMarket.sol";
import {Payouts} from "../../contracts/libraries/Payouts.sol";
import {PayoutsHarness} from "../../contracts/test/PayoutsHarness.sol";

/// @dev Payouts on its own: at every share bound, reward down to 1 wei and bond rates down to their floor,
/// a posted list adds up to the pool exactly and names an account in every entry (the two checks the
/// market's `settle` makes, so a list that passes here never makes `finalize` revert).
contract PayoutsTest {
    error Violated(string what, uint256 a, uint256 b);

    uint256 private constant MAX_SHARES = 5_000;
    PayoutsHarness private _payouts;

    function setUp() public {
        _payouts = new PayoutsHarness();
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) private pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    /// @dev A share at its lower bound, its upper bound or in between.
    function _share(uint256 r, uint256 max) private pure returns (uint256) {
        uint256 pick = r % 3;
        return pick == 0 ? 0 : pick == 1 ? max : _bound(r >> 8, 0, max);
    }

    function _terms(uint256 seed, uint256 reward, uint256 committers) private pure returns (Payouts.Terms memory t) {
        uint256 r = uint256(keccak256(abi.encode(seed, "terms")));
        t.publisher = address(0xBEEF);
        t.treasury = address(0x7EA5);
        t.reward = reward;
        // bond rates 1..50 % as the market allows, floored at 1 unit as it does
        uint256 publisherBond = reward * _bound(r, 100, 5000) / 10_000;
        t.publisherBond = publisherBond == 0 ? 1 : publisherBond;
        uint256 minerBond = reward * _bound(r >> 16, 100, 5000) / 10_000;
        t.minerBond = minerBond == 0 ? 1 : minerBond;
        t.totalMinerBonds = t.minerBond * committers;
        t.validatorShareBps = _share(r >> 32, MAX_SHARES);
        t.ommerShareBps = _share(r >> 64, MAX_SHARES - t.validatorShareBps);
    }

    function _verdict(uint256 seed, uint256 n) private pure returns (Payouts.Verdict memory v) {
        uint256 r = uint256(keccak256(abi.encode(seed, "verdict")));
        v.miners = new address[](n);
        for (uint256 j = 0; j < n; ++j) {
            v.miners[j] = address(uint160(0xA000 + j));
        }
        v.agreeing = new address[](r % 9);
        for (uint256 i = 0; i < v.agreeing.length; ++i) {
            v.agreeing[i] = address(uint160(0xC000 + i));
        }
        v.winner = Payouts.NONE;
        // a quarter unvalidated (no medians), the rest with medians, some 0
        if ((r >> 8) % 4 == 0) return v;
        v.medians = new uint16[](n);
        for (uint256 j = 0; j < n; ++j) {
            v.medians[j] = uint16((uint256(keccak256(abi.encode(r, j))) % 3) * 5000);
        }
        uint256 mode = (r >> 16) % 3;
        if (mode == 0) {
            v.winner = (r >> 24) % n;
            uint256 ommers = n > 1 ? (r >> 32) % n : 0;
            v.ommers = new uint256[](ommers);
            uint256 k = 0;
            for (uint256 j = 0; j < n && k < ommers; ++j) {
                if (j != v.winner) v.ommers[k++] = j;
            }
        } else if (mode == 1) {
            v.invalidData = true;
        }
    }

    function _check(ITaskMarket.Payout[] memory list, uint256 pool) private pure {
        uint256 total = 0;
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i].account == address(0)) revert Violated("every entry names an account", i, list[i].amount);
            total += list[i].amount;
        }
        if (total != pool) revert Violated("payouts sum to the pool", total, pool);
    }

    /// A settled task's split for fuzzed inputs: 1..64 submissions among up to 64 committers.
    function _settledCase(uint256 seed, uint256 reward, uint256 n, uint256 extra)
        private
        view
        returns (Payouts.Terms memory terms, Payouts.Verdict memory v, ITaskMarket.Payout[] memory list)
    {
        reward = _bound(reward, 1, 1e30);
        n = _bound(n, 1, 64);
        terms = _terms(seed, reward, n + _bound(extra, 0, 64 - n));
        v = _verdict(seed, n);
        list = _payouts.settled(terms, v);
    }

    function testFuzz_settled_sumsToThePoolAndNamesEveryAccount(uint256 seed, uint256 reward, uint256 n, uint256 extra)
        public
        view
    {
        (Payouts.Terms memory terms, Payouts.Verdict memory v, ITaskMarket.Payout[] memory list) = _settledCase(seed, reward, n, extra);
        if (list.length != 2 + v.miners.length + v.agreeing.length) revert Violated("one entry per payee", list.length, v.miners.length);
        _check(list, terms.reward + terms.publisherBond + terms.totalMinerBonds);
    }

    function testFuzz_settled_forfeitsNeverReachTheWinnerOrThePublisher(uint256 seed, uint256 reward, uint256 n, uint256 extra)
        public
        view
    {
        (Payouts.Terms memory terms, Payouts.Verdict memory v, ITaskMarket.Payout[] memory list) = _settledCase(seed, reward, n, extra);
        // the publisher gets at most its reward and bond back; a winner at most its bond and the reward
        if (list[0].amount > terms.reward + terms.publisherBond) {
            revert Violated("publisher <= reward + bond", list[0].amount, terms.reward + terms.publisherBond);
        }
        if (v.winner != Payouts.NONE && list[1 + v.winner].amount > terms.minerBond + terms.reward) {
            revert Violated("winner <= bond + reward", list[1 + v.winner].amount, terms.minerBond + terms.reward);
        }
    }

    function testFuzz_settled_oneWeiRewardAtZeroShares_stillNamesEveryValidator(uint256 seed, uint256 n) public view {
        n = _bound(n, 1, 16);
        Payouts.Terms memory terms = _terms(seed, 1, n);
        terms.validatorShareBps = 0;
        terms.ommerShareBps = 0;
        Payouts.Verdict memory v = _verdict(seed, n);
        ITaskMarket.Payout[] memory list = _payouts.settled(terms, v);
        for (uint256 i = 0; i < v.agreeing.length; ++i) {
            if (list[1 + n + i].account != v.agreeing[i]) revert Violated("validator named", i, 0);
        }
        _check(list, terms.reward + terms.publisherBond + terms.totalMinerBonds);
    }

    function testFuzz_withoutSubmissions_sumsToThePool(uint256 seed, uint256 reward, uint256 committers) public view {
        reward = _bound(reward, 1, 1e30);
        committers = _bound(committers, 0, 64);
        Payouts.Terms memory terms = _terms(seed, reward, committers);
        _check(_payouts.withoutSubmissions(terms), terms.reward + terms.publisherBond + terms.totalMinerBonds);
    }

    function testFuzz_defaultShares_sumToTheBond(uint256 bond, uint256 committers) public view {
        bond = _bound(bond, 1, 1e30);
        committers = _bound(committers, 1, 64);
        (uint256 share, uint256 dust) = _payouts.defaultShares(bond, committers);
        if (share * committers + dust != bond) revert Violated("shares + dust == bond", share * committers + dust, bond);
        if (dust >= committers) revert Violated("dust < committers", dust, committers);
    }
}
