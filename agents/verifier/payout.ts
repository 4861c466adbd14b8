import { ZeroAddress } from "ethers";
import type { VerifierContext } from "./context.js";

/** Withdraws what the market owes in `token` and what the registry credited from slashes. */
export async function withdrawAll(ctx: VerifierContext, token: string): Promise<void> {
  const { sender, log } = ctx.rt;
  const owed = await ctx.market.creditOf(ctx.me, token);
  if (owed > 0n) {
    await sender.call(ctx.market, "withdraw", [token], { label: `withdraw ${owed} of ${token === ZeroAddress ? "ETH" : token}` });
    log.info({ amount: owed, token }, `withdrew ${owed} ${token === ZeroAddress ? "wei" : `units of ${token}`} from the market`);
  }
  const slashed = await ctx.registry.creditOf(ctx.me);
  if (slashed > 0n) {
    await sender.call(ctx.registry, "withdrawCredit", [], { label: `withdrawCredit ${slashed}` });
    log.info({ amount: slashed }, `withdrew ${slashed} of slashing proceeds from the registry`);
  }
}
