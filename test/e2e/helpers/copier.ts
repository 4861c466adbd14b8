/**
 * The adversary of the end-to-end test: a miner that does no training and submits a copy of
 * another miner's model as its own. It learns the victim's opening (model CID, hash, checkpoint
 * root) the moment the victim has written it, by reading the victim's state file (standing in for
 * any leak before the commit deadline), commits to the same model under its own address with its
 * own salt and bond, and reveals the same artifact. The artifact names the victim as its miner, so
 * honest validators must score it 0.
 */
import { randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { hexlify, type JsonRpcProvider, type Wallet } from "ethers";
import { modelCommitment } from "../../../agents/protocol/commitments.js";
import { TaskMarket__factory, type TaskMarket } from "../../../types/index.js";

export interface Opening {
  modelCid: string;
  modelHash: string;
  checkpointRoot: string;
}

/** The victim's opening for `taskId` from its SQLite state, once written (read-only access). */
export function leakedOpening(statePath: string, taskId: bigint): Opening | undefined {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(statePath, { readOnly: true });
  } catch {
    return undefined; // not created yet
  }
  try {
    const row = db.prepare("SELECT data FROM salts WHERE task_id = ? AND purpose = 'model' ORDER BY created_at DESC LIMIT 1").get(taskId.toString()) as
      | { data: string }
      | undefined;
    if (row === undefined) return undefined;
    const data = JSON.parse(row.data) as Partial<Opening>;
    if (data.modelCid === undefined || data.modelHash === undefined || data.checkpointRoot === undefined) return undefined;
    return { modelCid: data.modelCid, modelHash: data.modelHash, checkpointRoot: data.checkpointRoot };
  } catch {
    return undefined; // table not there yet
  } finally {
    db.close();
  }
}

export class CopyingMiner {
  readonly market: TaskMarket;
  readonly wallet: Wallet;
  readonly salt = hexlify(randomBytes(32));
  opening?: Opening;

  constructor(wallet: Wallet, provider: JsonRpcProvider, marketAddress: string) {
    this.wallet = wallet.connect(provider);
    this.market = TaskMarket__factory.connect(marketAddress, this.wallet);
  }

  /** Commits to `opening` (someone else's model) under this miner's address, with the task's bond. */
  async commit(taskId: bigint, opening: Opening): Promise<void> {
    this.opening = opening;
    const { chainId } = await this.wallet.provider!.getNetwork();
    const commitment = modelCommitment({ market: await this.market.getAddress(), chainId, taskId, miner: this.wallet.address, ...opening, salt: this.salt });
    const task = await this.market.getTask(taskId);
    await (await this.market.commitModel(taskId, commitment, { value: task.minerBond })).wait();
  }

  async reveal(taskId: bigint): Promise<void> {
    const o = this.opening!;
    await (await this.market.revealModel(taskId, o.modelCid, o.modelHash, o.checkpointRoot, this.salt)).wait();
  }
}
