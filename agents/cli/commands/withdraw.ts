import { ZeroAddress, formatEther, getAddress } from "ethers";
import { connectContracts } from "../../chain/contracts.js";
import { claimAllMints, claimAllPayouts } from "../../chain/payouts.js";
import { addressBook, deploymentConfigShape } from "../../config/deployment.js";
import { loadConfig } from "../../config/load.js";
import { agentConfigSchema } from "../../config/schema.js";
import { configFlags, configOptions, type Command } from "../command.js";
import { openRuntime } from "../../core/runtime.js";
import { tokenList } from "./status.js";

export const withdrawConfigSchema = agentConfigSchema
  .extend({
    ...deploymentConfigShape,
    tokens: tokenList.optional().describe("ERC20 tokens to withdraw market credits in besides ETH and the reward token, comma-separated"),
  })
  .strict();

/** One thing `podl withdraw` did or found, as it prints it. */
export interface WithdrawResult {
  what: string;
  amount: bigint;
  txHash?: string;
}

/**
 * `podl withdraw`: pulls everything the key is owed. Market credits (every payout is a credit) in
 * ETH, the reward token and --tokens; the validator registry's credit; the validator stake once its
 * unbonding period is over (with --unbond, starts that period).
 */
export const withdrawCommand: Command = {
  name: "withdraw",
  summary: "withdraw market credits, validator credit and unbonded stake",
  description: [
    "Withdraws the configured key's market credits (ETH, the reward token and --tokens), its validator",
    "registry credit, and its validator stake once the unbonding period is over. --unbond asks to unbond a",
    "bonded stake first (it stops being drawn for committees; withdraw it after the period). Prints what it",
    "withdrew and what is still locked; 'nothing to withdraw' is not an error.",
  ].join("\n"),
  options: {
    ...configOptions(withdrawConfigSchema),
    unbond: { type: "boolean", description: "request unbonding of a bonded validator stake" },
    json: { type: "boolean", description: "print one JSON object instead of text (amounts in wei or token base units)" },
  },
  async run({ values, io: terminal }) {
    // --json: what it withdrew and the lines it would have printed, as one object at the end.
    const notes: string[] = [];
    const json = values.json === true;
    const io = json ? { ...terminal, out: (line: string) => void notes.push(line) } : terminal;
    const config = loadConfig(withdrawConfigSchema, {
      flags: configFlags(withdrawConfigSchema, values),
      env: io.env,
      ...(typeof values.config === "string" ? { file: values.config } : {}),
    });
    const book = addressBook(config);
    const rt = await openRuntime({ agent: "withdraw", config, env: io.env , oneShot: true });
    try {
      const c = await connectContracts(book, rt.chain.provider);
      const { sender, wallet } = rt;
      const me = wallet.address;
      const done: WithdrawResult[] = [];
      // settled tasks post their payouts; claiming them turns ours into market credits
      const claimed = await claimAllPayouts(c.market, sender, me, book.startBlock);
      if (c.rewardToken) {
        const minted = await claimAllMints(c.rewardToken, sender, me, book.startBlock);
        if (minted > 0n) io.out(`claimed ${formatEther(minted)} PODL of block rewards`);
      }
      const tokens = new Set([ZeroAddress, ...(c.rewardToken ? [await c.rewardToken.getAddress()] : []), ...(config.tokens ?? []).map((t) => getAddress(t)), ...claimed]);
      for (const token of tokens) {
        const credit = await c.market.creditOf(me, token);
        if (credit === 0n) continue;
        const unit = token === ZeroAddress ? "ETH" : `token ${token}`;
        const sent = await sender.call(c.market, "withdraw", [token], { label: `withdraw market credit in ${unit}` });
        done.push({ what: `market credit in ${unit}`, amount: credit, txHash: sent.hash });
      }
      const registryCredit = await c.registry.creditOf(me);
      if (registryCredit > 0n) {
        const sent = await sender.call(c.registry, "withdrawCredit", [], { label: "withdraw validator credit" });
        done.push({ what: "validator credit", amount: registryCredit, txHash: sent.hash });
      }
      for (const r of done) io.out(`withdrew ${formatEther(r.amount)} (${r.what}), tx ${r.txHash}`);

      const v = await c.registry.getValidator(me);
      if (v.stake > 0n) {
        const params = await c.registry.params();
        const now = await rt.clock.chainNow();
        if (v.unbondingAt === 0n && values.unbond === true) {
          const sent = await sender.call(c.registry, "requestUnbond", [], { label: "request unbonding" });
          io.out(`unbonding ${formatEther(v.stake)} of stake, tx ${sent.hash}; withdraw it after ${params.unbondingPeriod} s`);
        } else if (v.unbondingAt === 0n) {
          io.out(`stake ${formatEther(v.stake)} stays bonded (--unbond starts the ${params.unbondingPeriod} s unbonding period)`);
        } else if (now < v.unbondingAt + params.unbondingPeriod || v.openCommittees > 0n) {
          const wait = v.unbondingAt + params.unbondingPeriod - now;
          io.out(`stake ${formatEther(v.stake)} is unbonding: ${wait > 0n ? `withdrawable in ${wait} s` : `waiting for ${v.openCommittees} open committee(s) to finish`}`);
        } else {
          const sent = await sender.call(c.registry, "withdraw", [], { label: "withdraw unbonded stake" });
          io.out(`withdrew ${formatEther(v.stake)} (unbonded validator stake), tx ${sent.hash}`);
          done.push({ what: "stake", amount: v.stake, txHash: sent.hash });
        }
      }
      if (done.length === 0 && v.stake === 0n) io.out(`nothing to withdraw for ${me}`);
      if (json) terminal.out(JSON.stringify({ address: me, withdrawn: done.map((r) => ({ ...r, amount: r.amount.toString() })), notes }));
      return 0;
    } finally {
      rt.close();
    }
  },
};
