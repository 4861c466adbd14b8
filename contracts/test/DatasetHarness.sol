// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Commitments} from "../libraries/Commitments.sol";

/// @title DatasetHarness
/// @notice Exposes the dataset commitment (ours) for the differential test: the leaves of `keys` and the
/// hash of the ordered leaf list, as TaskMarket builds it.
contract DatasetHarness {
    /// @notice `Commitments.shardLeaf` of each shard `i` and the dataset root over them.
    /// @param cidHashes keccak256 of each shard's CID, in index order.
    /// @param keys Each shard's key, in index order.
    /// @return leaves The leaves.
    /// @return root keccak256(abi.encodePacked(leaves)).
    function commitment(bytes32[] calldata cidHashes, bytes32[] calldata keys)
        external
        pure
        returns (bytes32[] memory leaves, bytes32 root)
    {
        leaves = new bytes32[](keys.length);
        for (uint256 i = 0; i < keys.length; ++i) leaves[i] = Commitments.shardLeaf(i, cidHashes[i], keys[i]);
        root = keccak256(abi.encodePacked(leaves));
    }
}
