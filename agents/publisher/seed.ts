import { ZeroHash } from "ethers";
import { decodeRevert, revertData } from "../chain/revert.js";
import type { TaskMarket } from "../../types/index.js";

/**
 * The seed a training-key unlock sent now would use: the stored one, else the randomness when it is
 * ready (`unlockTrainingData` stores it itself, so no `fixSeed` transaction and no extra round in the
 * key window), "pending" while it is not, "expired" when `fixSeed` must renew the request. Read with
 * `fixSeed`'s static call, which returns the seed it would store.
 */
export async function seedForUnlock(market: TaskMarket, taskId: bigint, stored: string): Promise<string | "pending" | "expired"> {
  if (stored !== ZeroHash) return stored;
  try {
    const seed = await market.fixSeed.staticCall(taskId);
    return seed === ZeroHash ? "expired" : seed;
  } catch (e) {
    const decoded = decodeRevert(revertData(e), [market.interface]);
    if (decoded.data === undefined) throw e;
    // A keeper fixed it since the task was read.
    if (decoded.name === "SeedAlreadyFixed") return (await market.getTask(taskId)).seed;
    return "pending";
  }
}
