// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Commitments
/// @notice The hashes that bind miners to models and publishers to shard keys.
library Commitments {
    /// @notice A miner's model commitment (DESIGN §3.4). It binds the market, chain, task and sender,
    /// so a copied commitment or artifact opens for nobody but its author.
    /// @param market The market contract.
    /// @param chainId The chain id.
    /// @param taskId The task.
    /// @param miner The committing miner.
    /// @param modelHash keccak256 of the artifact bytes.
    /// @param checkpointRoot Root of the checkpoint leaves.
    /// @param salt Secret salt.
    /// @return The commitment.
    function modelCommitment(
        address market,
        uint256 chainId,
        uint256 taskId,
        address miner,
        bytes32 modelHash,
        bytes32 checkpointRoot,
        bytes32 salt
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(market, chainId, taskId, miner, modelHash, checkpointRoot, salt));
    }

    /// @notice A shard's leaf (DESIGN §4): `keccak256(abi.encode(index, keccak256(bytes(cid)),
    /// keccak256(key)))`. The dataset commitment is the hash of all leaves in index order
    /// (`datasetRoot`), so each index has exactly one leaf.
    /// @param index Shard index.
    /// @param cidHash keccak256 of the ciphertext CID string.
    /// @param key The shard's AES-256 key.
    /// @return The leaf hash.
    function shardLeaf(uint256 index, bytes32 cidHash, bytes32 key) internal pure returns (bytes32) {
        return keccak256(abi.encode(index, cidHash, keccak256(abi.encode(key))));
    }
}
