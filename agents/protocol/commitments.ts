import { AbiCoder, keccak256 } from "ethers";
import { assertBytes32 } from "./bytes32.js";

/** What a miner's model commitment binds (DESIGN §3.4). */
export interface ModelCommitmentInput {
  market: string;
  chainId: bigint;
  taskId: bigint;
  miner: string;
  modelHash: string;
  checkpointRoot: string;
  salt: string;
}

const coder = AbiCoder.defaultAbiCoder();

/**
 * `keccak256(abi.encode(market, chainId, taskId, miner, modelHash, checkpointRoot, salt))`, the
 * value `TaskMarket.commitModel` takes and `revealModel` recomputes (Commitments.sol).
 */
export function modelCommitment(input: ModelCommitmentInput): string {
  return keccak256(
    coder.encode(
      ["address", "uint256", "uint256", "address", "bytes32", "bytes32", "bytes32"],
      [
        input.market,
        input.chainId,
        input.taskId,
        input.miner,
        assertBytes32(input.modelHash, "modelHash"),
        assertBytes32(input.checkpointRoot, "checkpointRoot"),
        assertBytes32(input.salt, "salt"),
      ],
    ),
  );
}
