import { Interface, ZeroAddress, formatUnits } from "ethers";

const ERC20 = new Interface(["function decimals() view returns (uint8)"]);

/**
 * An on-chain amount as a person typed it: `1.5 ETH`, or `1.5 tokens of 0x…` in the token's own
 * decimals (what `--reward` and `--stake` take), so errors speak the unit of the flag.
 */
export async function formatAmount(value: bigint, token: string, provider: { call(tx: { to: string; data: string }): Promise<string> }): Promise<string> {
  if (token === ZeroAddress) return `${formatUnits(value, 18)} ETH`;
  const decimals = Number(ERC20.decodeFunctionResult("decimals", await provider.call({ to: token, data: ERC20.encodeFunctionData("decimals") }))[0]);
  return `${formatUnits(value, decimals)} tokens of ${token}`;
}
