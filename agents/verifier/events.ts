import { getAddress, type Result } from "ethers";
import type { ShardKeyJson, VerifierContext } from "./context.js";

/** Events → state: upserts, so a replayed event changes nothing. */
export function onEvent(ctx: VerifierContext, name: string, args: Result): void {
  const taskId = (args as unknown as { taskId?: bigint }).taskId;
  if (taskId === undefined) return;
  switch (name) {
    case "TaskPosted":
      ctx.merge(taskId, { specCid: args.specCid as string, token: getAddress(args.token as string) });
      return;
    case "TrainingDataUnlocked":
      ctx.merge(taskId, { trainKeys: keysOf(args.getValue("keys") as Result) });
      return;
    case "TestDataUnlocked":
      ctx.merge(taskId, { testKeys: keysOf(args.getValue("keys") as Result) });
      return;
    case "ModelRevealed": {
      const data = ctx.data(taskId);
      ctx.merge(taskId, { cids: { ...data?.cids, [getAddress(args.miner as string)]: args.modelCid as string } });
      return;
    }
    case "CommitteeDrawn":
      ctx.mergeRound(taskId, Number(args.round), { members: (args.members as string[]).map((a) => getAddress(a)), seed2: args.seed as string });
      return;
    case "CommitteeSeated":
      ctx.mergeRound(taskId, Number(args.round), {
        members: (args.members as string[]).map((a) => getAddress(a)),
        commitDeadline: Number(args.commitDeadline),
        revealDeadline: Number(args.revealDeadline),
      });
      return;
    case "ScoresCommitted":
      if (getAddress(args.validator as string) === ctx.me) ctx.mergeRound(taskId, Number(args.round), { committed: true });
      return;
    case "ScoresRevealed":
      if (getAddress(args.validator as string) === ctx.me) ctx.mergeRound(taskId, Number(args.round), { revealed: true });
      return;
    default:
  }
}

function keysOf(keys: Result): ShardKeyJson[] {
  return [...keys].map((k) => {
    const key = k as { index: bigint; cidHash: string; key: string };
    return { index: Number(key.index), cidHash: key.cidHash, key: key.key };
  });
}
