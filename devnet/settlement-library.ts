/**
 * Settlement calls the Payouts library (contracts/libraries/Payouts.sol) by DELEGATECALL, which keeps the
 * payout rules out of Settlement's 24 KiB: a deployment deploys the library once and links its address
 * into Settlement's bytecode.
 */
import type { Signer } from "ethers";
import { Payouts__factory } from "../types/index.js";

/** The link key of the library in Settlement's bytecode (solc's fully qualified name). */
export const PAYOUTS_LIBRARY = "project/contracts/libraries/Payouts.sol:Payouts";

/** Deploys the Payouts library; returns the link map Settlement's factory takes. */
export async function deployPayoutsLibrary(deployer: Signer): Promise<{ [PAYOUTS_LIBRARY]: string }> {
  const library = await (await new Payouts__factory(deployer).deploy()).waitForDeployment();
  return { [PAYOUTS_LIBRARY]: await library.getAddress() };
}
