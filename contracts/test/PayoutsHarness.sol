// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITaskMarket} from "../interfaces/ITaskMarket.sol";
import {Payouts} from "../libraries/Payouts.sol";

/// @title PayoutsHarness
/// @notice Exposes the Payouts library (ours), for its fuzz suite.
contract PayoutsHarness {
    /// @notice `Payouts.settled`.
    /// @param terms The task's amounts and shares.
    /// @param verdict The committee's verdict.
    /// @return The list.
    function settled(Payouts.Terms calldata terms, Payouts.Verdict calldata verdict)
        external
        pure
        returns (ITaskMarket.Payout[] memory)
    {
        return Payouts.settled(terms, verdict);
    }

    /// @notice `Payouts.withoutSubmissions`.
    /// @param terms The task's amounts.
    /// @return The list.
    function withoutSubmissions(Payouts.Terms calldata terms) external pure returns (ITaskMarket.Payout[] memory) {
        return Payouts.withoutSubmissions(terms);
    }

    /// @notice `Payouts.defaultShares`.
    /// @param publisherBond The bond.
    /// @param committers Committed miners.
    /// @return share Each one's part.
    /// @return dust The rest.
    function defaultShares(uint256 publisherBond, uint256 committers)
        external
        pure
        returns (uint256 share, uint256 dust)
    {
        return Payouts.defaultShares(publisherBond, committers);
    }
}
