import type { Provider } from "ethers";
import type { TxSender } from "../chain/sender.js";
import { IERC20__factory } from "../../types/index.js";

const IERC20 = IERC20__factory.createInterface();

/** What `owner` holds of `token`. */
export async function tokenBalance(provider: Provider, token: string, owner: string): Promise<bigint> {
  return await IERC20__factory.connect(token, provider).balanceOf(owner);
}

/**
 * Lets `spender` take `amount` of `token` from the sender's account: approves exactly `amount`
 * unless the allowance already covers it (the first step of every ERC20 payment to a contract).
 */
export async function approveIfNeeded(sender: TxSender, provider: Provider, token: string, spender: string, amount: bigint, label: string): Promise<void> {
  const allowance = await IERC20__factory.connect(token, provider).allowance(sender.address, spender);
  if (allowance >= amount) return;
  await sender.send({ to: token, data: IERC20.encodeFunctionData("approve", [spender, amount]), label, iface: IERC20 });
}
