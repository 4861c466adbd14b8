// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ITaskMarket
/// @notice The PoDL task market: queue, escrow, task phases, model commitments and reveals, the credit
/// ledger and the learning chain. Settlement (committee scores, medians, payouts) lives in a separate
/// module that calls `settle`; see docs/market.md.
/// @dev Every transition that a deadline unlocks is permissionless. Value leaves only through `withdraw`.
interface ITaskMarket {
    /// @notice Task phases. `Revealing` and `Attesting` are also derived from time in `getTask`.
    enum Phase {
        None,
        Queued,
        Started,
        Committing,
        Revealing,
        Attesting,
        Settled,
        Cancelled,
        Defaulted,
        Unvalidated
    }

    /// @notice How a settlement ended.
    enum Outcome {
        Validated,
        NoValidSubmission,
        Unvalidated
    }

    /// @notice The terms of a listed reward token (`setRewardToken`).
    /// @param minReward Smallest reward, in the token's own units (> 0).
    /// @param unitScale Reference units per 1e18 token units: the ranking counts a reward of `reward` as
    /// `reward * unitScale / 1e18` reference units (ETH: 1e18, so the reference unit is the wei); 0 means
    /// not listed.
    struct RewardTokenTerms {
        uint128 minReward;
        uint128 unitScale;
    }

    /// @notice Market parameters, changed only by the owner within the bounds in docs/market.md.
    /// @param maxQueue Queue bound, DLBC's L (2..128).
    /// @param maxActive Tasks started and not yet terminal (1..64).
    /// @param minCommittee Bonded validators required by `startNext` (1..64).
    /// @param publisherBondBps Publisher bond as a share of the reward (100..5000 bps; at least 1 unit).
    /// @param minerBondBps Miner bond as a share of the reward (100..5000 bps, so filling k submission
    /// slots costs at least k % of the reward; at least 1 unit).
    /// @param keyWindow Seconds the publisher has to unlock the training keys after the start.
    /// @param testKeyWindow Seconds the publisher has to unlock the test keys after the commit deadline.
    /// @param revealWindow Seconds miners have to reveal after the commit deadline.
    /// @param maxQueueTime Seconds a task may wait in the queue before anyone may cancel it.
    /// @param minTrainWindow Smallest train window a task may ask for (seconds).
    /// @param maxTrainWindow Largest train window a task may ask for (seconds).
    /// @param medianBandwidth Miners' median download bandwidth, bytes per second (DLBC's dn).
    /// @param medianCompute Miners' median compute, FLOPs per second (DLBC's dc).
    /// @param rankScale Ranking scale k (UD60x18, 0.01..10).
    struct MarketParams {
        uint16 maxQueue;
        uint16 maxActive;
        uint16 minCommittee;
        uint16 publisherBondBps;
        uint16 minerBondBps;
        uint32 keyWindow;
        uint32 testKeyWindow;
        uint32 revealWindow;
        uint32 maxQueueTime;
        uint32 minTrainWindow;
        uint32 maxTrainWindow;
        uint64 medianBandwidth;
        uint64 medianCompute;
        uint64 rankScale;
    }

    /// @notice What a publisher asks for in `postTask`.
    /// @param token Reward token; address(0) for ETH.
    /// @param reward Reward escrowed (the publisher bond is added on top).
    /// @param datasetRoot keccak256 of the shard leaves in index order (`Commitments.shardLeaf`,
    /// docs/market.md): one leaf per shard index.
    /// @param specCid IPFS CID of the task spec JSON (emitted, not stored; 1..128 bytes).
    /// @param shardCount Number of shards (10..256).
    /// @param testShards Number of test shards (1..shardCount-1).
    /// @param accuracyThreshold Minimum median accuracy for a valid model (1..10000 bps).
    /// @param maxSubmissions Miners that may commit (1..64).
    /// @param trainWindow Seconds from the training-key unlock to the commit deadline.
    /// @param modelBytes Declared model size in bytes (ranking, DLBC's dn).
    /// @param dataBytes Declared dataset size in bytes (ranking, DLBC's dn).
    /// @param flops Declared training FLOPs (ranking, DLBC's dc).
    struct TaskRequest {
        address token;
        uint256 reward;
        bytes32 datasetRoot;
        string specCid;
        uint16 shardCount;
        uint16 testShards;
        uint16 accuracyThreshold;
        uint8 maxSubmissions;
        uint32 trainWindow;
        uint64 modelBytes;
        uint64 dataBytes;
        uint128 flops;
    }

    /// @notice A task as `getTask` returns it (phase derived from time).
    /// @param publisher Who posted the task.
    /// @param token Reward token; address(0) for ETH.
    /// @param phase Current phase.
    /// @param reward Escrowed reward.
    /// @param publisherBond Escrowed publisher bond.
    /// @param minerBond Bond each miner posts with its first commitment.
    /// @param totalMinerBonds Sum of the miner bonds held for this task.
    /// @param seed Task seed: 0 until the randomness requested by `startNext` is ready, then
    /// `keccak256(abi.encode(chainHead at start, randomness, taskId))` (computed by the view before
    /// `fixSeed` stores it).
    /// @param datasetRoot Dataset commitment (hash of the ordered shard leaves).
    /// @param accuracyThreshold Minimum median accuracy (bps).
    /// @param shardCount Number of shards.
    /// @param testShards Number of test shards.
    /// @param maxSubmissions Bound on committing miners.
    /// @param submissionCount Miners that committed.
    /// @param revealedCount Miners that revealed.
    /// @param trainWindow Seconds from training-key unlock to the commit deadline.
    /// @param deadline Queue expiry while queued, training-key deadline once started.
    /// @param commitDeadline Last second of the commit window.
    /// @param revealDeadline Last second of the reveal window (`revealWindow` after the test-key unlock; 0
    /// before it).
    /// @param testKeyDeadline Last second of the test-key window.
    /// @param testUnlockedAt Time of the test-key unlock (0 before).
    /// @param testUnlockBlock Block of the test-key unlock (0 before).
    /// @param queueLengthAtStart Tasks left waiting in the queue when this one started (0 before);
    /// sets the publisher's share of the block reward (DLBC eq. 5), so nobody can move that share by
    /// posting or cancelling tasks around `finalize`.
    /// @param randomnessId The randomness source's request for the seed (0 before start; renewed by
    /// `fixSeed` if it expired).
    struct Task {
        address publisher;
        address token;
        Phase phase;
        uint256 reward;
        uint256 publisherBond;
        uint256 minerBond;
        uint256 totalMinerBonds;
        bytes32 seed;
        bytes32 datasetRoot;
        uint16 accuracyThreshold;
        uint16 shardCount;
        uint16 testShards;
        uint8 maxSubmissions;
        uint8 submissionCount;
        uint8 revealedCount;
        uint32 trainWindow;
        uint40 deadline;
        uint40 commitDeadline;
        uint40 revealDeadline;
        uint40 testKeyDeadline;
        uint40 testUnlockedAt;
        uint64 testUnlockBlock;
        uint16 queueLengthAtStart;
        uint256 randomnessId;
    }

    /// @notice A revealed model, in reveal order. The model CID is in the `ModelRevealed` event.
    /// @param miner The miner.
    /// @param modelHash keccak256 of the artifact bytes.
    /// @param checkpointRoot Root of the checkpoint leaves.
    /// @param committedAt Time of the miner's live commitment.
    /// @param commitSeq Order of the live commitment within the task (1, 2, ...; earliest wins ties).
    /// @param revealed Always true in `getRevealed`.
    struct Submission {
        address miner;
        bytes32 modelHash;
        bytes32 checkpointRoot;
        uint40 committedAt;
        uint32 commitSeq;
        bool revealed;
    }

    /// @notice One shard key with what its leaf binds.
    /// @param index Shard index (0..shardCount-1).
    /// @param cidHash keccak256 of the shard ciphertext's CID string.
    /// @param key The shard's AES-256 key.
    struct ShardKey {
        uint256 index;
        bytes32 cidHash;
        bytes32 key;
    }

    /// @notice One credit handed out by `settle`.
    /// @param account Who is credited.
    /// @param amount Amount in the task's token.
    struct Payout {
        address account;
        uint256 amount;
    }

    /// @notice What the settlement module hands to `settle`.
    /// @param outcome How the task ended.
    /// @param payouts Credits; their sum must equal `taskPool(taskId)`.
    /// @param winner Index into `getRevealed` (type(uint256).max for none).
    /// @param winnerScore Median score of the winner (bps).
    /// @param ommersHash Hash of the ommers list (see docs/settlement.md).
    struct Settlement {
        Outcome outcome;
        Payout[] payouts;
        uint256 winner;
        uint16 winnerScore;
        bytes32 ommersHash;
    }

    /// @notice Emitted when a task enters the queue.
    /// @param taskId The task.
    /// @param publisher Its publisher.
    /// @param token Reward token (address(0) = ETH).
    /// @param reward Escrowed reward.
    /// @param publisherBond Escrowed publisher bond.
    /// @param datasetRoot Merkle root of the shard leaves.
    /// @param specCid IPFS CID of the task spec.
    event TaskPosted(
        uint256 indexed taskId,
        address indexed publisher,
        address indexed token,
        uint256 reward,
        uint256 publisherBond,
        bytes32 datasetRoot,
        string specCid
    );
    /// @notice Emitted when a task leaves the queue and starts; its seed follows (`TaskSeeded`).
    /// @param taskId The task.
    /// @param randomnessId The randomness source's request the seed will come from.
    /// @param keyDeadline Last second for the training-key unlock.
    /// @param score The task's DLBC score when it was picked (UD60x18).
    event TaskStarted(uint256 indexed taskId, uint256 randomnessId, uint40 keyDeadline, uint256 score);
    /// @notice Emitted when a task's seed is stored (`fixSeed`, or the training-key unlock).
    /// @param taskId The task.
    /// @param seed Task seed (split, SML, init, watermark derive from it).
    event TaskSeeded(uint256 indexed taskId, bytes32 seed);
    /// @notice Emitted when a task's seed randomness expired unread and was requested again.
    /// @param taskId The task.
    /// @param randomnessId The new request.
    event TaskRandomnessRenewed(uint256 indexed taskId, uint256 randomnessId);
    /// @notice Emitted when the training keys are released.
    /// @param taskId The task.
    /// @param commitDeadline Last second of the commit window.
    /// @param keys The training shard keys, in index order.
    /// @param testLeaves The test shards' leaves, in index order (with the keys they rebuild the dataset
    /// commitment, which miners check before committing).
    event TrainingDataUnlocked(uint256 indexed taskId, uint40 commitDeadline, ShardKey[] keys, bytes32[] testLeaves);
    /// @notice Emitted when a miner commits or replaces its commitment.
    /// @param taskId The task.
    /// @param miner The miner.
    /// @param commitment The commitment (Commitments.modelCommitment).
    /// @param commitSeq Order of this commitment within the task.
    /// @param replaced Whether it replaced an earlier commitment of the same miner.
    event ModelCommitted(
        uint256 indexed taskId,
        address indexed miner,
        bytes32 commitment,
        uint32 commitSeq,
        bool replaced
    );
    /// @notice Emitted when the test keys are released.
    /// @param taskId The task.
    /// @param keys The test shard keys.
    event TestDataUnlocked(uint256 indexed taskId, ShardKey[] keys);
    /// @notice Emitted when a miner reveals its model.
    /// @param taskId The task.
    /// @param miner The miner.
    /// @param modelHash keccak256 of the artifact bytes.
    /// @param checkpointRoot Root of the checkpoint leaves.
    /// @param modelCid IPFS CID of the artifact.
    event ModelRevealed(
        uint256 indexed taskId,
        address indexed miner,
        bytes32 modelHash,
        bytes32 checkpointRoot,
        string modelCid
    );
    /// @notice Emitted when a task is cancelled (withdrawn or expired in the queue, or training keys missed).
    /// @param taskId The task.
    /// @param caller Who cancelled it.
    event TaskCancelled(uint256 indexed taskId, address indexed caller);
    /// @notice Emitted when a task posted to a full queue displaces the worst-ranked queued task (whose
    /// publisher is refunded reward and bond in full).
    /// @param taskId The evicted task (now Cancelled).
    /// @param by The task that took its place.
    event TaskEvicted(uint256 indexed taskId, uint256 indexed by);
    /// @notice Emitted when the publisher missed the test-key window.
    /// @param taskId The task.
    /// @param caller Who called the timeout.
    /// @param committers Miners that committed; each may claim its bond and an equal share of the
    /// publisher bond (`claimDefaultShare`).
    event TaskDefaulted(uint256 indexed taskId, address indexed caller, uint256 committers);
    /// @notice Emitted when the settlement module settles a task.
    /// @param taskId The task.
    /// @param outcome How it ended.
    /// @param pool Amount distributed.
    event TaskSettled(uint256 indexed taskId, Outcome outcome, uint256 pool);

    /// @notice Emitted when a task's payouts are posted at settlement: the market stores only their hash,
    /// each payee's credit waits for `claimPayouts` with this list.
    /// @param taskId The task.
    /// @param payoutsHash keccak256(abi.encode(payouts)).
    /// @param payouts The list, in the settlement module's order (amounts in the task's token).
    event PayoutsPosted(uint256 indexed taskId, bytes32 payoutsHash, Payout[] payouts);

    /// @notice Emitted when a posted payout is credited to its account.
    /// @param taskId The task.
    /// @param index Its index in the posted list.
    /// @param account The payee credited.
    /// @param amount The amount credited.
    event PayoutClaimed(uint256 indexed taskId, uint256 index, address indexed account, uint256 amount);
    /// @notice Emitted when a settled task with a winner appends a learning block.
    /// @param height New chain height.
    /// @param taskId The task.
    /// @param winner The winning miner.
    /// @param head New chain head.
    /// @param modelHash Winning model hash.
    /// @param score Winner's median score (bps).
    event LearningBlock(
        uint256 indexed height,
        uint256 indexed taskId,
        address indexed winner,
        bytes32 head,
        bytes32 modelHash,
        uint16 score
    );
    /// @notice Emitted when an account is credited.
    /// @param account Who is credited.
    /// @param token Token (address(0) = ETH).
    /// @param amount Amount added.
    event Credited(address indexed account, address indexed token, uint256 amount);
    /// @notice Emitted when an account withdraws its credit.
    /// @param account Who withdrew.
    /// @param token Token (address(0) = ETH).
    /// @param amount Amount paid.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);
    /// @notice Emitted when the parameters change (and once at deployment).
    /// @param params The new parameters.
    event ParamsUpdated(MarketParams params);
    /// @notice Emitted when the owner points new tasks at a settlement module.
    /// @param settlement The settlement module for tasks posted from now on.
    event SettlementSet(address indexed settlement);

    /// @notice Emitted when the owner names a new treasury.
    /// @param treasury Receives what no party of a task may keep (forfeits that would otherwise reward
    /// the party who caused them).
    event TreasurySet(address indexed treasury);

    /// @notice Emitted when the owner lists, re-prices or delists (`unitScale` 0) a reward token.
    /// @param token The token; address(0) for ETH.
    /// @param minReward Smallest reward in the token's units (0 when delisted).
    /// @param unitScale Reference units per 1e18 token units (0 when delisted).
    event RewardTokenSet(address indexed token, uint256 minReward, uint256 unitScale);

    /// @notice Thrown when a parameter is outside its documented bounds.
    /// @param field Position of the field in `MarketParams` (0 = maxQueue, ..., 13 = rankScale).
    /// @param value Offending value.
    error ParamOutOfBounds(uint256 field, uint256 value);
    /// @notice Thrown when the settlement module address is zero.
    error SettlementZero();
    /// @notice Thrown by `postTask` when the reward token is not on the owner's list (`setRewardToken`).
    /// @param token The token.
    error TokenNotListed(address token);
    /// @notice Thrown by `setRewardToken` when the terms are out of bounds: `unitScale` 0 (delisting) needs
    /// `minReward` 0; otherwise `minReward` 1..2**96-1, `unitScale` 1..1e36 and the minimum worth at least
    /// one reference unit.
    /// @param token The token.
    /// @param minReward The minimum asked for.
    /// @param unitScale The scale asked for.
    error RewardTokenTermsOutOfBounds(address token, uint256 minReward, uint256 unitScale);

    /// @notice Thrown when the treasury would be the zero address.
    error TreasuryZero();
    /// @notice Thrown when a caller other than the task's settlement module calls `settle`.
    /// @param caller The caller.
    error NotSettlement(address caller);
    /// @notice Thrown when the reward is below its token's `minReward`, above 2**96-1, worth under one or
    /// over 2**96-1 reference units, or too small for a non-zero publisher bond.
    /// @param reward The reward.
    error RewardOutOfBounds(uint256 reward);
    /// @notice Thrown when the shard count is outside 10..256.
    /// @param shardCount The shard count.
    error ShardCountOutOfBounds(uint256 shardCount);
    /// @notice Thrown when the test shard count is outside 1..shardCount-1.
    /// @param testShards The test shard count.
    /// @param shardCount The shard count.
    error TestShardsOutOfBounds(uint256 testShards, uint256 shardCount);
    /// @notice Thrown when the accuracy threshold is outside 1..10000 bps.
    /// @param accuracyThreshold The threshold.
    error AccuracyThresholdOutOfBounds(uint256 accuracyThreshold);
    /// @notice Thrown when maxSubmissions is outside 1..64.
    /// @param maxSubmissions The bound asked for.
    error MaxSubmissionsOutOfBounds(uint256 maxSubmissions);
    /// @notice Thrown when the train window is outside the market's bounds.
    /// @param trainWindow The window asked for.
    error TrainWindowOutOfBounds(uint256 trainWindow);
    /// @notice Thrown when the dataset root is zero.
    error DatasetRootZero();
    /// @notice Thrown when a CID is empty or longer than 128 bytes.
    /// @param length Its length.
    error CidLengthOutOfBounds(uint256 length);
    /// @notice Thrown when the declared workload gives a transfer time above 2**64-1 ns or a compute
    /// time above 2**64 s at the market's medians.
    /// @param modelBytes Declared model bytes.
    /// @param dataBytes Declared data bytes.
    /// @param flops Declared FLOPs.
    error WorkloadOutOfBounds(uint256 modelBytes, uint256 dataBytes, uint256 flops);
    /// @notice Thrown when the queue holds `maxQueue` tasks and the new task does not rank strictly better
    /// than the worst of them.
    /// @param length Queue length.
    /// @param maxQueue The bound.
    error QueueFull(uint256 length, uint256 maxQueue);
    /// @notice Thrown when the queue is empty.
    error QueueEmpty();
    /// @notice Thrown when `maxActive` tasks are running.
    /// @param active Running tasks.
    /// @param maxActive The bound.
    error ActiveSetFull(uint256 active, uint256 maxActive);
    /// @notice Thrown when fewer than `minCommittee` validators are bonded.
    /// @param bonded Bonded validators.
    /// @param required `minCommittee`.
    error NotEnoughValidators(uint256 bonded, uint256 required);
    /// @notice Thrown when the ETH sent is not the amount owed.
    /// @param sent ETH sent.
    /// @param required ETH owed.
    error EthAmountMismatch(uint256 sent, uint256 required);
    /// @notice Thrown when ETH comes with an ERC20 payment.
    /// @param sent ETH sent.
    error EthSentWithToken(uint256 sent);
    /// @notice Thrown when a token delivered less than was transferred (fee on transfer).
    /// @param token The token.
    /// @param expected Amount transferred.
    /// @param received Amount that arrived.
    error TokenShortfall(address token, uint256 expected, uint256 received);
    /// @notice Thrown when a task does not exist.
    /// @param taskId The task.
    error TaskUnknown(uint256 taskId);
    /// @notice Thrown when a task is not in the phase a call needs.
    /// @param taskId The task.
    /// @param phase Its current phase.
    error TaskNotInPhase(uint256 taskId, Phase phase);
    /// @notice Thrown when a publisher-only call comes from someone else.
    /// @param taskId The task.
    /// @param caller The caller.
    error NotPublisher(uint256 taskId, address caller);
    /// @notice Thrown when a window a call needs has closed.
    /// @param taskId The task.
    /// @param deadline Last second of the window.
    error WindowClosed(uint256 taskId, uint256 deadline);
    /// @notice Thrown when a call comes before its window opens (or a timeout before it has passed).
    /// @param taskId The task.
    /// @param opensAfter The window opens once block.timestamp exceeds this.
    error TooEarly(uint256 taskId, uint256 opensAfter);
    /// @notice Thrown when a task's seed is needed or fixed before its randomness is ready (pending, or
    /// expired: `fixSeed` renews it).
    /// @param taskId The task.
    /// @param randomnessId The randomness source's request.
    error SeedNotReady(uint256 taskId, uint256 randomnessId);
    /// @notice Thrown when `fixSeed` is called for a task whose seed is already stored.
    /// @param taskId The task.
    error SeedAlreadyFixed(uint256 taskId);
    /// @notice Thrown when the number of keys is not the number of shards to unlock.
    /// @param count Keys given.
    /// @param expected Keys needed.
    error KeyCountMismatch(uint256 count, uint256 expected);
    /// @notice Thrown when a shard key is not the next one in index order (a test shard's key given as
    /// a training key, a key missing, repeated, out of order or past the shard count).
    /// @param expected The shard index expected at this position.
    /// @param index The index given.
    error ShardIndexMismatch(uint256 expected, uint256 index);
    /// @notice Thrown when the keys and leaves do not rebuild the dataset commitment (or, for the test
    /// keys, the test leaves fixed at the training unlock).
    /// @param taskId The task.
    error DatasetRootMismatch(uint256 taskId);
    /// @notice Thrown when a commitment is zero.
    error CommitmentZero();
    /// @notice Thrown when `maxSubmissions` miners have committed.
    /// @param taskId The task.
    /// @param maxSubmissions The bound.
    error SubmissionsFull(uint256 taskId, uint256 maxSubmissions);
    /// @notice Thrown when the caller has no commitment for the task.
    /// @param taskId The task.
    /// @param miner The caller.
    error NotCommitted(uint256 taskId, address miner);
    /// @notice Thrown when the opening does not match the caller's commitment.
    /// @param taskId The task.
    /// @param miner The caller.
    error CommitmentMismatch(uint256 taskId, address miner);
    /// @notice Thrown when a miner reveals before the test keys are unlocked.
    /// @param taskId The task.
    error TestKeysLocked(uint256 taskId);
    /// @notice Thrown when a miner claims its share of a defaulted task twice.
    /// @param taskId The task.
    /// @param miner The caller.
    error AlreadyClaimed(uint256 taskId, address miner);
    /// @notice Thrown when the caller already revealed.
    /// @param taskId The task.
    /// @param miner The caller.
    error AlreadyRevealed(uint256 taskId, address miner);
    /// @notice Thrown when the payouts do not add up to the task pool.
    /// @param total Sum of the payouts.
    /// @param pool `taskPool(taskId)`.
    error PayoutMismatch(uint256 total, uint256 pool);
    /// @notice Thrown when a payout goes to address(0).
    error PayoutAccountZero();

    /// @notice Thrown when a claim's payout list is not the one posted for the task (or none was).
    /// @param taskId The task.
    error PayoutsNotPosted(uint256 taskId);

    /// @notice Thrown when a claim names an index past the posted list.
    /// @param index The index.
    /// @param length The list's length.
    error PayoutIndexOutOfBounds(uint256 index, uint256 length);

    /// @notice Thrown when a posted payout was already claimed.
    /// @param taskId The task.
    /// @param index Its index in the posted list.
    error PayoutAlreadyClaimed(uint256 taskId, uint256 index);
    /// @notice Thrown when the winner index does not fit the outcome.
    /// @param winner The index.
    /// @param revealed Revealed submissions.
    error InvalidWinner(uint256 winner, uint256 revealed);
    /// @notice Thrown when a reveal index is not below the number of reveals.
    /// @param index The index.
    /// @param revealed The number of reveals.
    error RevealIndexOutOfBounds(uint256 index, uint256 revealed);
    /// @notice Thrown when `withdraw` finds no credit.
    /// @param account The caller.
    /// @param token The token.
    error NothingToWithdraw(address account, address token);
    /// @notice Thrown when an ETH payment fails.
    /// @param account The recipient.
    /// @param amount The amount.
    error EthTransferFailed(address account, uint256 amount);

    /// @notice Queues a task and escrows `reward` plus the publisher bond (ETH: exactly in msg.value;
    /// ERC20: pulled with transferFrom, which must deliver the full amount). On a full queue the task
    /// displaces the worst-ranked queued task if it ranks strictly better (`TaskEvicted`; that publisher
    /// is refunded in full), else `QueueFull`. Declared workload terms must be non-zero.
    /// @param request What the task is.
    /// @return taskId The new task's id (1, 2, ...).
    function postTask(TaskRequest calldata request) external payable returns (uint256 taskId);

    /// @notice Withdraws a queued task; publisher only. Reward and bond are credited back.
    /// @param taskId The task.
    function cancelQueued(uint256 taskId) external;

    /// @notice Cancels a task that waited more than `maxQueueTime`; anyone. Reward and bond are
    /// credited back to the publisher.
    /// @param taskId The task.
    function expireQueued(uint256 taskId) external;

    /// @notice Starts the queued task with the lowest DLBC score; anyone. Requests the seed's randomness
    /// from the registry's randomness source: the seed (and so the train/test split) is unknown in this
    /// transaction and known a few blocks later (`fixSeed`); the key window counts from now.
    /// @return taskId The started task.
    function startNext() external returns (uint256 taskId);

    /// @notice Stores a started task's seed once its randomness is ready; anyone. If the randomness
    /// expired unread, requests it again (`TaskRandomnessRenewed`) and stores nothing.
    /// @param taskId The task.
    /// @return seed The seed (0 when the request was renewed).
    function fixSeed(uint256 taskId) external returns (bytes32 seed);

    /// @notice Releases the training shard keys, all at once, publisher only, within `keyWindow` of the
    /// start, once the seed is known (fixes it if `fixSeed` was not called; reverts with `SeedNotReady`
    /// before). With the test shards' leaves they must rebuild the dataset commitment
    /// (`keccak256(abi.encodePacked(leaf_0, ..., leaf_{n-1}))`), so each index has one fixed leaf and the
    /// test keys are fixed now too. Opens the commit window.
    /// @param taskId The task.
    /// @param keys Training shard keys in index order.
    /// @param testLeaves Test shard leaves in index order.
    function unlockTrainingData(uint256 taskId, ShardKey[] calldata keys, bytes32[] calldata testLeaves) external;

    /// @notice Cancels a started task whose training keys were not released in time; anyone. The reward
    /// is credited back to the publisher; the publisher bond is forfeited: 10 % to the caller (keeper
    /// tip), the rest to the treasury.
    /// @param taskId The task.
    function timeoutTrainingKeys(uint256 taskId) external;

    /// @notice Commits to a model (first time with the miner bond; later calls replace the commitment
    /// without a further bond) until the commit deadline.
    /// @param taskId The task.
    /// @param commitment Commitments.modelCommitment(market, chainId, taskId, miner, modelHash,
    /// checkpointRoot, salt).
    function commitModel(uint256 taskId, bytes32 commitment) external payable;

    /// @notice Releases the test shard keys after the commit deadline, within `testKeyWindow`;
    /// publisher only. Each must match the leaf fixed for its index at the training unlock.
    /// @param taskId The task.
    /// @param keys Test shard keys in index order.
    function unlockTestData(uint256 taskId, ShardKey[] calldata keys) external;

    /// @notice Opens the caller's commitment once the test keys are unlocked, within `revealWindow` of
    /// the unlock (so a publisher who defaults has seen no model).
    /// @param taskId The task.
    /// @param modelCid IPFS CID of the artifact (1..128 bytes).
    /// @param modelHash keccak256 of the artifact bytes.
    /// @param checkpointRoot Root of the checkpoint leaves.
    /// @param salt The commitment's salt.
    function revealModel(
        uint256 taskId,
        string calldata modelCid,
        bytes32 modelHash,
        bytes32 checkpointRoot,
        bytes32 salt
    ) external;

    /// @notice Marks a task `Defaulted` when the test keys were not released by `testKeyDeadline`;
    /// anyone. No model was revealed. The publisher gets its reward back and loses its bond: each
    /// committed miner claims its own bond plus an equal share of the publisher bond
    /// (`claimDefaultShare`; the rounding dust goes to the treasury). Without committers the caller
    /// gets 10 % of the publisher bond and the treasury the rest.
    /// @param taskId The task.
    function timeoutTestKeys(uint256 taskId) external;

    /// @notice Credits a committed miner of a Defaulted task with its bond and its equal share of the
    /// publisher bond; once per miner.
    /// @param taskId The task.
    function claimDefaultShare(uint256 taskId) external;

    /// @notice Settles a task awaiting attestation; the task's own settlement module only (`settlementOf`),
    /// once.
    /// @param taskId The task.
    /// @param s Outcome, payouts (summing to `taskPool`) and the winner. The payouts are posted, not
    /// credited: the market stores their hash and emits them (`PayoutsPosted`); see `claimPayouts`.
    function settle(uint256 taskId, Settlement calldata s) external;

    /// @notice Credits posted payouts of a settled task to their accounts (anyone may claim on a payee's
    /// behalf: the credit always goes to the account the list names); once per index.
    /// @param taskId The task.
    /// @param payouts The list of its `PayoutsPosted` event.
    /// @param indices The entries to credit.
    function claimPayouts(uint256 taskId, Payout[] calldata payouts, uint256[] calldata indices) external;

    /// @notice Pays out the caller's credit in `token` (address(0) = ETH).
    /// @param token The token.
    function withdraw(address token) external;

    /// @notice Points tasks posted from now on at a settlement module (owner only; not zero). Tasks already
    /// posted keep theirs, so a new module can replace a faulty one without touching live tasks.
    /// @param settlement The module.
    function setSettlement(address settlement) external;

    /// @notice The settlement module of a task: the one set when it was posted (the current one for a task
    /// posted before any was set).
    /// @param taskId The task.
    /// @return The module.
    function settlementOf(uint256 taskId) external view returns (address);

    /// @notice Names the treasury (owner only; not zero).
    /// @param treasury_ The new treasury.
    function setTreasury(address treasury_) external;

    /// @notice Receives what no party of a task may keep (see docs/security.md).
    /// @return The treasury; the initial owner until the owner names another.
    function treasury() external view returns (address);

    /// @notice Lists a reward token, changes its terms, or delists it (`minReward` and `unitScale` 0); owner
    /// only. Acts on posts from then on: a queued or running task keeps its token, its reward and its rank
    /// (the queue word holds the reward in reference units, fixed at post).
    /// @param token The token; address(0) for ETH (listed at deployment with minimum 1 wei, scale 1e18).
    /// @param minReward Smallest reward in the token's own units (1..2**96-1).
    /// @param unitScale Reference units per 1e18 token units (1..1e36), e.g. 1e30 for a 6-decimal token
    /// worth one ETH per whole token.
    function setRewardToken(address token, uint256 minReward, uint256 unitScale) external;

    /// @notice The terms of a reward token (`unitScale` 0 if it is not listed).
    /// @param token The token; address(0) for ETH.
    /// @return The terms.
    function rewardToken(address token) external view returns (RewardTokenTerms memory);

    /// @notice Replaces the parameters; owner only, within bounds. They apply to tasks posted afterwards:
    /// a task keeps the bond rates, windows and settlement module of its post (the medians of the
    /// ranking as well); only `maxQueue`, `maxActive`, `minCommittee` and the ranking scale, which
    /// govern the queue as a whole, act at once.
    /// @param params The new parameters.
    function setParams(MarketParams calldata params) external;

    /// @notice A task, with its phase derived from time.
    /// @param taskId The task.
    /// @return The task.
    function getTask(uint256 taskId) external view returns (Task memory);

    /// @notice Revealed submissions in reveal order.
    /// @param taskId The task.
    /// @return The submissions.
    function getRevealed(uint256 taskId) external view returns (Submission[] memory);

    /// @notice The miner and commitment order of each revealed submission, in reveal order, one word
    /// each: `commitSeq << 160 | uint160(miner)`. What settlement needs, at one storage slot per
    /// submission (`getRevealed` reads four).
    /// @param taskId The task.
    /// @return words The packed words.
    function revealedMiners(uint256 taskId) external view returns (uint256[] memory words);

    /// @notice The model hash of a revealed submission.
    /// @param taskId The task.
    /// @param index Index into the reveal order (< revealedCount).
    /// @return The model hash.
    function modelHashOf(uint256 taskId, uint256 index) external view returns (bytes32);

    /// @notice Whether `account` committed to the task.
    /// @param taskId The task.
    /// @param account The account.
    /// @return Whether it holds a commitment.
    function isMiner(uint256 taskId, address account) external view returns (bool);

    /// @notice Everything `settle` must distribute: reward, publisher bond and all miner bonds.
    /// @param taskId The task.
    /// @return The pool.
    function taskPool(uint256 taskId) external view returns (uint256);

    /// @notice Bitmap of the task's test shards (bit i set = shard i is a test shard); 0 until the seed
    /// is known.
    /// @param taskId The task.
    /// @return The bitmap.
    function testShardBitmap(uint256 taskId) external view returns (uint256);

    /// @notice DLBC score of a queued task at the current queue length (UD60x18, lower starts first).
    /// @param taskId The task.
    /// @return The score.
    function rankOf(uint256 taskId) external view returns (uint256);

    /// @notice The queue as `Ranking.pack` words (task id, dn, log2 dc, reward), unordered. The ordered
    /// queue is `QueueLens.queuePage`.
    /// @return The words.
    function queueWords() external view returns (uint256[] memory);

    /// @notice Credit of `account` in `token`.
    /// @param account The account.
    /// @param token The token (address(0) = ETH).
    /// @return The credit.
    function creditOf(address account, address token) external view returns (uint256);

    /// @notice The claimed payouts of a settled task: bit i set once entry i of its posted list was claimed.
    /// @param taskId The task.
    /// @return bitmap The bitmap.
    function claimedPayouts(uint256 taskId) external view returns (uint256 bitmap);

    /// @notice keccak256 of a settled task's posted payout list (zero before settlement).
    /// @param taskId The task.
    /// @return The hash.
    function payoutsHash(uint256 taskId) external view returns (bytes32);

    /// @notice Learning chain head.
    /// @return The head.
    function chainHead() external view returns (bytes32);

    /// @notice Learning chain height.
    /// @return The height.
    function chainHeight() external view returns (uint256);

    /// @notice Tasks in the queue.
    /// @return The length.
    function queueLength() external view returns (uint256);

    /// @notice Tasks started and not yet terminal.
    /// @return The count.
    function activeCount() external view returns (uint256);

    /// @notice Tasks ever posted (ids run 1..taskCount).
    /// @return The count.
    function taskCount() external view returns (uint256);

    /// @notice Current parameters.
    /// @return The parameters.
    function params() external view returns (MarketParams memory);

    /// @notice The validator registry `startNext` asks for bonded validators.
    /// @return The registry address.
    function registry() external view returns (address);

    /// @notice The settlement module for new tasks (address(0) until set).
    /// @return The module address.
    function settlement() external view returns (address);
}
