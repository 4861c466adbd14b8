import { localWindows, overridesFromEnv, type ParamOverrides } from "./deployment.js";

/** Chain ids of local development chains (Hardhat, Anvil/Ganache). */
export const LOCAL_CHAIN_IDS: readonly bigint[] = [31337n, 1337n];

/**
 * The parameter overrides `scripts/deploy.ts` applies: `PODL_DEPLOY_PARAMS` when set (`default`
 * for DESIGN.md's windows of minutes, `local`, JSON or a JSON file); otherwise the local windows
 * on a local chain id (a newcomer's `npx hardhat node` then settles a task in minutes, not
 * hours) and the defaults elsewhere. `why` says which, for the deploy log.
 */
export async function deployOverrides(chainId: bigint, env: string | undefined): Promise<{ overrides: ParamOverrides; why: string }> {
  const value = env?.trim() ?? "";
  if (value === "default") return { overrides: {}, why: "PODL_DEPLOY_PARAMS=default: DESIGN.md's parameters" };
  if (value !== "") return { overrides: await overridesFromEnv(value), why: `PODL_DEPLOY_PARAMS=${value.length > 40 ? `${value.slice(0, 40)}…` : value}` };
  if (LOCAL_CHAIN_IDS.includes(chainId)) return { overrides: localWindows, why: `local chain ${chainId}: windows of seconds (PODL_DEPLOY_PARAMS=default for DESIGN.md's)` };
  return { overrides: {}, why: `chain ${chainId}: DESIGN.md's parameters` };
}
