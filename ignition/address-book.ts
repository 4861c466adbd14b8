import type { Provider } from "ethers";
import { writeDeployment, type DeployParams, type DeploymentRecord } from "../devnet/deployment.js";

/** What an Ignition deployment of PoDL returns, one contract per role. */
export interface DeployedPodl {
  randomness: { getAddress(): Promise<string> };
  registry: { getAddress(): Promise<string> };
  market: { getAddress(): Promise<string> };
  queueLens: { getAddress(): Promise<string> };
  rewardToken: { getAddress(): Promise<string> };
  settlement: { getAddress(): Promise<string> };
}

/**
 * The address book every agent reads (`--deployment`): network, chain, deployer, the addresses,
 * the parameters, and the block the agents' event cursors start from (the chain's head once the
 * deployment is complete: no task can have been posted before it).
 */
export async function addressBook(deployed: DeployedPodl, params: DeployParams, info: { network: string; deployer: string; provider: Provider }): Promise<DeploymentRecord> {
  const strings = (o: Record<string, bigint>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.toString()]));
  return {
    network: info.network,
    chainId: (await info.provider.getNetwork()).chainId.toString(),
    deployer: info.deployer,
    block: await info.provider.getBlockNumber(),
    contracts: {
      RandomnessSource: await deployed.randomness.getAddress(),
      ValidatorRegistry: await deployed.registry.getAddress(),
      TaskMarket: await deployed.market.getAddress(),
      QueueLens: await deployed.queueLens.getAddress(),
      RewardToken: await deployed.rewardToken.getAddress(),
      Settlement: await deployed.settlement.getAddress(),
    },
    params: {
      registry: strings(params.registry),
      randomness: strings(params.randomness),
      market: strings(params.market),
      settlement: strings(params.settlement),
    },
  };
}

/** Writes `record` as `file` (deployments/<network>.json), creating the folder. */
export const writeAddressBook: (file: string, record: DeploymentRecord) => Promise<void> = writeDeployment;
