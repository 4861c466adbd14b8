import { readFileSync } from "node:fs";
import { isAddress } from "ethers";
import { z } from "zod";
import { AgentError } from "./errors.js";

const address = z.string().refine((a) => isAddress(a), "must be a 0x address");

/**
 * Config keys every agent uses to find the contracts: the address book scripts/deploy.ts writes,
 * and per-address overrides. Spread into a role schema: `agentConfigSchema.extend({ ...deploymentConfigShape, ... })`.
 */
export const deploymentConfigShape = {
  deployment: z.string().min(1).optional().describe("address book written by scripts/deploy.ts (deployments/<network>.json)"),
  market: address.optional().describe("TaskMarket address (default: from --deployment)"),
  registry: address.optional().describe("ValidatorRegistry address (default: from --deployment, else the market's)"),
  settlement: address.optional().describe("Settlement address (default: from --deployment, else the market's)"),
  queueLens: address.optional().describe("QueueLens address (default: from --deployment)"),
  rewardToken: address.optional().describe("RewardToken address (default: from --deployment)"),
  startBlock: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe("first block to follow (default: the deployment's block)"),
};

export type DeploymentConfig = { [K in keyof typeof deploymentConfigShape]: z.infer<(typeof deploymentConfigShape)[K]> };

/** The contracts an agent talks to. Optional ones may be asked of the market (`registry()`, `settlement()`). */
export interface AddressBook {
  market: string;
  registry?: string;
  settlement?: string;
  queueLens?: string;
  rewardToken?: string;
  /** Where event cursors start. */
  startBlock: number;
  /** IPFS nodes that introduce an agent's node to the others (multiaddrs with /p2p/<peer id>); may be empty. */
  bootstrap: string[];
}

const DeploymentFileSchema = z.object({
  block: z.number().int().min(0).optional(),
  contracts: z.record(z.string(), address).default({}),
  bootstrap: z.array(z.string().startsWith("/", "must be a multiaddr, e.g. /ip4/10.0.0.5/tcp/4001/p2p/12D3…")).default([]),
});

/** Flags win over the deployment file; CONFIG_INVALID when the file is unreadable or no market is known. */
export function addressBook(config: Partial<DeploymentConfig>): AddressBook {
  let file: z.infer<typeof DeploymentFileSchema> = { contracts: {}, bootstrap: [] };
  if (config.deployment !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(config.deployment, "utf8"));
    } catch (cause) {
      throw new AgentError("CONFIG_INVALID", `cannot read deployment ${config.deployment}: ${(cause as Error).message}`, { cause, context: { file: config.deployment } });
    }
    const parsed = DeploymentFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new AgentError("CONFIG_INVALID", `deployment ${config.deployment}: ${issue.path.join(".")}: ${issue.message}`, { context: { file: config.deployment } });
    }
    file = parsed.data;
  }
  const c = file.contracts;
  const market = config.market ?? c.TaskMarket;
  if (market === undefined) throw new AgentError("CONFIG_INVALID", "no market: use --market <address> or --deployment deployments/<network>.json");
  const book: AddressBook = { market, startBlock: config.startBlock ?? file.block ?? 0, bootstrap: file.bootstrap };
  const optional = { registry: config.registry ?? c.ValidatorRegistry, settlement: config.settlement ?? c.Settlement, queueLens: config.queueLens ?? c.QueueLens, rewardToken: config.rewardToken ?? c.RewardToken };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) book[key as keyof typeof optional] = value;
  return book;
}
