import { ContractFactory, type JsonRpcProvider, type Wallet } from "ethers";
import { artifacts } from "hardhat";
import { RewardToken__factory, Settlement__factory, TaskMarket__factory, ValidatorRegistry__factory } from "../../../../types/index.js";
import type { Settlement, TaskMarket, ValidatorRegistry } from "../../../../types/index.js";
import { deployPayoutsLibrary } from "../../../../devnet/settlement-library.js";
import { account } from "../../helpers/chain.js";
import { drawDelay, marketParams, registryParams, settlementParams } from "../../../validators/helpers/world.js";

/** Named test accounts (Hardhat's default mnemonic, as SEAM-agents.md assigns them). */
export const accounts = {
  owner: account(0),
  publisher: account(1),
  badCid: account(3),
  oversized: account(4),
  verifier: account(5),
  scripted: account(6),
  copier: account(9),
};

export interface Contracts {
  market: TaskMarket;
  registry: ValidatorRegistry;
  settlement: Settlement;
  /** First block to follow. */
  block: number;
}

async function deploy(name: string, args: unknown[], from: Wallet): Promise<string> {
  const artifact = await artifacts.readArtifact(name);
  const contract = await new ContractFactory(artifact.abi, artifact.bytecode, from).deploy(...args);
  await contract.waitForDeployment();
  return await contract.getAddress();
}

/**
 * The real registry, market, reward token and settlement on the served test network, wired as
 * scripts/deploy.ts wires them, with the validators tests' parameters; a committee of two out of
 * exactly two bonded validators, so both are always drawn.
 */
export async function deployContracts(provider: JsonRpcProvider): Promise<Contracts> {
  const owner = accounts.owner.connect(provider);
  const randomness = await deploy("BlockhashRandomness", [drawDelay], owner);
  const registry = await deploy("ValidatorRegistry", [owner.address, "0x0000000000000000000000000000000000000000", randomness, registryParams], owner);
  const market = await deploy("TaskMarket", [owner.address, registry, { ...marketParams, minCommittee: 2n }], owner);
  const rewardToken = await deploy("RewardToken", [owner.address], owner);
  const settlementContract = await new Settlement__factory(await deployPayoutsLibrary(owner), owner).deploy(
    owner.address, market, registry, rewardToken, { ...settlementParams, committeeSize: 2n },
  );
  const settlement = await (await settlementContract.waitForDeployment()).getAddress();
  await (await TaskMarket__factory.connect(market, owner).setSettlement(settlement)).wait();
  await (await ValidatorRegistry__factory.connect(registry, owner).setSettlement(settlement)).wait();
  await (await RewardToken__factory.connect(rewardToken, owner).setMinter(settlement)).wait();
  await (await Settlement__factory.connect(settlement, owner).setMintRate("0x0000000000000000000000000000000000000000", 1000n * 10n ** 18n)).wait();
  return {
    market: TaskMarket__factory.connect(market, provider),
    registry: ValidatorRegistry__factory.connect(registry, provider),
    settlement: Settlement__factory.connect(settlement, provider),
    block: await provider.getBlockNumber(),
  };
}

/** Moves the chain clock past `timestamp` with one new block. */
export async function passTime(provider: JsonRpcProvider, timestamp: bigint): Promise<void> {
  await provider.send("evm_setNextBlockTimestamp", [`0x${(timestamp + 1n).toString(16)}`]);
  await provider.send("evm_mine", []);
}
