import { ZeroAddress } from "ethers";
import { formatAmount } from "../chain/amounts.js";
import { AgentError } from "../config/errors.js";
import { approveIfNeeded } from "../core/erc20.js";
import type { VerifierContext } from "./context.js";

/**
 * Stakes `amount` (ETH, or the registry's stake token after an approval) unless this key is
 * already bonded; tops up when its stake is below `minStake`. Returns the stake after.
 */
export async function ensureStake(ctx: VerifierContext, amount: bigint): Promise<bigint> {
  const { sender, log } = ctx.rt;
  const [v, params, token] = await Promise.all([ctx.registry.getValidator(ctx.me), ctx.registry.params(), ctx.registry.stakeToken()]);
  if (v.unbondingAt !== 0n) {
    throw new AgentError("CONFIG_INVALID", `${ctx.me} is unbonding in the validator registry; it cannot stake or sit on committees until it withdraws`, {
      context: { address: ctx.me },
    });
  }
  if (v.stake >= params.minStake) {
    log.info({ stake: v.stake, minStake: params.minStake }, "already bonded in the validator registry");
    return v.stake;
  }
  const amountOf = (value: bigint) => formatAmount(value, token, ctx.rt.chain.provider);
  if (amount === 0n) {
    throw new AgentError("CONFIG_INVALID", `${ctx.me} is not bonded (stake ${await amountOf(v.stake)}, minimum ${await amountOf(params.minStake)}): pass --stake <amount>`, {
      context: { stake: v.stake, minStake: params.minStake },
    });
  }
  if (v.stake + amount < params.minStake) {
    throw new AgentError("CONFIG_INVALID", `--stake ${await amountOf(amount)} would leave a stake of ${await amountOf(v.stake + amount)}, below the registry's minimum ${await amountOf(params.minStake)}`, {
      context: { stake: v.stake, amount, minStake: params.minStake },
    });
  }
  const registryAddress = await ctx.registry.getAddress();
  if (token !== ZeroAddress) await approveIfNeeded(sender, ctx.rt.chain.provider, token, registryAddress, amount, `approve ${amount} for stake`);
  await sender.call(ctx.registry, "stake", [amount], { ...(token === ZeroAddress ? { value: amount } : {}), label: `stake ${amount}` });
  const after = (await ctx.registry.getValidator(ctx.me)).stake;
  log.info({ stake: after, token }, `staked ${amount} in the validator registry`);
  return after;
}
