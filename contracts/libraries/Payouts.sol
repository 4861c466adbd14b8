// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskMarket} from "../interfaces/ITaskMarket.sol";

/// @title Payouts
/// @notice How an ended task's pool (reward + publisher bond + miner bonds) is shared out: the list that
/// Settlement posts to the market, which checks that it names an account in every entry and adds up to
/// the pool exactly.
/// @dev `settled` and `withoutSubmissions` are public: deployed once and linked into Settlement (which
/// calls them with DELEGATECALL), their code stays out of Settlement's 24 KiB. Settled list: `[publisher, miners in reveal order, agreeing validators, treasury]`. Every reserved
/// entry names its account even when its amount rounds to 0 (a 1-wei task, a 0 % share): an unnamed entry
/// would make the market's `settle` revert, and `finalize` with it, forever.
library Payouts {
    /// @notice No winner.
    uint256 internal constant NONE = type(uint256).max;
    uint256 private constant _BPS = 10_000;

    /// @notice The task's amounts and shares, as fixed when it was posted.
    /// @param publisher The publisher.
    /// @param treasury Where forfeits go when nobody is owed them.
    /// @param reward The reward.
    /// @param publisherBond The publisher's bond.
    /// @param minerBond One miner's bond.
    /// @param totalMinerBonds All committed miners' bonds (revealed or not).
    /// @param validatorShareBps The agreeing validators' fee, of the reward.
    /// @param ommerShareBps The ommers' share, of the reward (with a winner only).
    struct Terms {
        address publisher;
        address treasury;
        uint256 reward;
        uint256 publisherBond;
        uint256 minerBond;
        uint256 totalMinerBonds;
        uint256 validatorShareBps;
        uint256 ommerShareBps;
    }

    /// @notice What the committee decided (empty medians and no agreeing validators when unvalidated).
    /// @param miners Revealed miners in reveal order.
    /// @param medians Median score per submission; a 0 forfeits that miner's bond; empty: none forfeited.
    /// @param agreeing Validators who agreed with the medians.
    /// @param winner Index of the winning submission, or NONE.
    /// @param ommers Indices of the ommer submissions (with a winner).
    /// @param invalidData The committee found the task's test data invalid (no winner): the publisher's fault.
    struct Verdict {
        address[] miners;
        uint16[] medians;
        address[] agreeing;
        uint256 winner;
        uint256[] ommers;
        bool invalidData;
    }

    /// @notice The settled split: the publisher's bond back; each revealed miner's bond back unless its
    /// median is 0; the validators' fee and the forfeited miner bonds (unrevealed, or median 0) in equal
    /// parts to the validators who agreed (to the treasury when nobody did); the ommers' share to the
    /// ommers; the rest of the reward to the winner, or, without one, to the publisher. Forfeits never
    /// reach the winner: a slot filler whose own model wins gains nothing from its sybils' bonds. Invalid
    /// test data: every revealed miner shares the reward and the publisher's bond (less the fee).
    /// @param terms The task's amounts and shares.
    /// @param v The verdict.
    /// @return payouts The list (sums to reward + publisherBond + totalMinerBonds).
    function settled(Terms memory terms, Verdict memory v) public pure returns (ITaskMarket.Payout[] memory payouts) {
        uint256 n = v.miners.length;
        uint256 k = v.agreeing.length;
        payouts = new ITaskMarket.Payout[](2 + n + k);
        uint256 forfeited = terms.totalMinerBonds - _payBonds(v, payouts, terms.minerBond);
        uint256 rest = terms.reward;
        rest -= _payValidators(v, payouts, 1 + n, terms.reward * terms.validatorShareBps / _BPS, forfeited);
        // nobody agreed: the forfeits go to the treasury
        payouts[1 + n + k] = ITaskMarket.Payout(terms.treasury, k == 0 ? forfeited : 0);
        if (v.winner != NONE) {
            rest -= _payOmmers(v, payouts, terms.reward * terms.ommerShareBps / _BPS);
            payouts[1 + v.winner].amount += rest;
            payouts[0] = ITaskMarket.Payout(terms.publisher, terms.publisherBond);
        } else if (v.invalidData) {
            uint256 pool = rest + terms.publisherBond;
            uint256 part = pool / n;
            for (uint256 j = 0; j < n; ++j) {
                payouts[1 + j].amount += part;
            }
            payouts[1].amount += pool - part * n;
            payouts[0].account = terms.publisher;
        } else {
            payouts[0] = ITaskMarket.Payout(terms.publisher, terms.publisherBond + rest);
        }
    }

    /// @notice The split without any revealed model: the reward and bond back to the publisher, the
    /// (unrevealed) miners' bonds to the treasury, never to the publisher (who could fill the slots with
    /// sybils that never reveal).
    /// @param terms The task's amounts.
    /// @return payouts `[publisher, treasury]`.
    function withoutSubmissions(Terms memory terms) public pure returns (ITaskMarket.Payout[] memory payouts) {
        payouts = new ITaskMarket.Payout[](2);
        payouts[0] = ITaskMarket.Payout(terms.publisher, terms.reward + terms.publisherBond);
        payouts[1] = ITaskMarket.Payout(terms.treasury, terms.totalMinerBonds);
    }

    /// @notice A defaulted task's publisher bond among its committed miners (claimed one by one).
    /// @param publisherBond The bond.
    /// @param committers Miners who committed (> 0).
    /// @return share Each miner's part.
    /// @return dust What is left (to the treasury).
    function defaultShares(uint256 publisherBond, uint256 committers)
        internal
        pure
        returns (uint256 share, uint256 dust)
    {
        share = publisherBond / committers;
        dust = publisherBond % committers;
    }

    /// @dev Each revealed miner's bond back into `payouts[1 + j]`, unless its median is 0; returns the total.
    function _payBonds(Verdict memory v, ITaskMarket.Payout[] memory payouts, uint256 bond)
        private
        pure
        returns (uint256 returned)
    {
        uint16[] memory medians = v.medians;
        for (uint256 j = 0; j < v.miners.length; ++j) {
            ITaskMarket.Payout memory payout = payouts[1 + j];
            payout.account = v.miners[j];
            // median 0: the committee found the model invalid (a copy, a failed check), its bond is forfeited
            if (medians.length != 0 && medians[j] == 0) continue;
            payout.amount = bond;
            returned += bond;
        }
    }

    /// @dev Equal parts of `fee` and of `forfeited` to the validators who agreed (the forfeits' rounding
    /// dust to the first); returns the part of the fee handed out.
    function _payValidators(
        Verdict memory v,
        ITaskMarket.Payout[] memory payouts,
        uint256 offset,
        uint256 fee,
        uint256 forfeited
    ) private pure returns (uint256 paid) {
        uint256 count = v.agreeing.length;
        if (count == 0) return 0;
        uint256 part = fee / count;
        uint256 forfeitPart = forfeited / count;
        for (uint256 i = 0; i < count; ++i) {
            payouts[offset + i] = ITaskMarket.Payout(v.agreeing[i], part + forfeitPart);
        }
        payouts[offset].amount += forfeited - forfeitPart * count;
        return part * count;
    }

    /// @dev Equal parts of `share` added to the ommers' payouts; returns what was handed out.
    function _payOmmers(Verdict memory v, ITaskMarket.Payout[] memory payouts, uint256 share)
        private
        pure
        returns (uint256 paid)
    {
        uint256 count = v.ommers.length;
        if (count == 0 || share == 0) return 0;
        uint256 part = share / count;
        for (uint256 i = 0; i < count; ++i) {
            payouts[1 + v.ommers[i]].amount += part;
        }
        return part * count;
    }
}
