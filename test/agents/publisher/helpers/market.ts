import { ContractFactory, type JsonRpcProvider, type Wallet } from "ethers";
import { artifacts } from "hardhat";
import { TaskMarket__factory, ValidatorRegistry__factory, type TaskMarket } from "../../../../types/index.js";
import { account } from "../../helpers/chain.js";
import { ETH_MIN_REWARD, ONE, ZERO, testParams } from "../../../market/helpers/market.js";

/** Named test accounts (Hardhat's default mnemonic). */
export const accounts = {
  owner: account(0),
  publisher: account(1),
  keeper: account(2),
  settlement: account(3),
  miner: account(4),
  validators: [account(10), account(11), account(12)],
};

/** Deploys artifact `name` from `from` and returns its address. */
export async function deploy(name: string, args: unknown[], from: Wallet, provider: JsonRpcProvider): Promise<string> {
  const artifact = await artifacts.readArtifact(name);
  const contract = await new ContractFactory(artifact.abi, artifact.bytecode, from.connect(provider)).deploy(...args);
  await contract.waitForDeployment();
  return await contract.getAddress();
}

/**
 * The real ValidatorRegistry (three staked validators, so `startNext` may run) and TaskMarket on the
 * served test network, with an outside account as the settlement module so a test can settle.
 */
export async function deployMarket(provider: JsonRpcProvider): Promise<{ market: TaskMarket; block: number }> {
  const owner = accounts.owner.connect(provider);
  const randomness = await deploy("BlockhashRandomness", [2n], owner, provider);
  const registryAddress = await deploy(
    "ValidatorRegistry",
    [owner.address, ZERO, randomness, { minStake: ONE, unbondingPeriod: 3600n, warmupBlocks: 1n, maxValidators: 64n }],
    owner,
    provider,
  );
  for (const v of accounts.validators) {
    await (await ValidatorRegistry__factory.connect(registryAddress, v.connect(provider)).stake(ONE, { value: ONE })).wait();
  }
  const marketAddress = await deploy("TaskMarket", [owner.address, registryAddress, testParams], owner, provider);
  const market = TaskMarket__factory.connect(marketAddress, provider);
  await (await market.connect(owner).setSettlement(accounts.settlement.address)).wait();
  await (await market.connect(owner).setRewardToken(ZERO, ETH_MIN_REWARD, ONE)).wait();
  return { market, block: await provider.getBlockNumber() };
}

/** Mines past the randomness source's delay (2 blocks), so that the seeds of started tasks are known. */
export async function mineToSeed(provider: JsonRpcProvider): Promise<void> {
  await provider.send("hardhat_mine", ["0x3"]);
}

/** Moves the chain clock past `timestamp` with one new block. */
export async function passTime(provider: JsonRpcProvider, timestamp: bigint): Promise<void> {
  await provider.send("evm_setNextBlockTimestamp", [`0x${(timestamp + 1n).toString(16)}`]);
  await provider.send("evm_mine", []);
}
