// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskMarket} from "./ITaskMarket.sol";

/// @title IQueueLens
/// @notice The market's queue in start order, page by page. A separate read-only contract because the
/// sort does not fit in TaskMarket under the 24 KiB code limit; it reads `queueWords` and `params` and
/// scores with the same Ranking library as `startNext`.
interface IQueueLens {
    /// @notice The market this lens reads.
    /// @return The market.
    function market() external view returns (ITaskMarket);

    /// @notice A page of the queue in start order (lowest score first, ties by task id).
    /// @param offset Rank of the first entry.
    /// @param limit Entries wanted.
    /// @return taskIds Task ids.
    /// @return scores Their scores (UD60x18, seconds per whole token).
    function queuePage(uint256 offset, uint256 limit)
        external
        view
        returns (uint256[] memory taskIds, uint256[] memory scores);
}
