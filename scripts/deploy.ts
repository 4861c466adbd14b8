/**
 * Deploys PoDL (`npm run demo` = `hardhat run scripts/deploy.ts`; `--network <name>` for a testnet):
 * ValidatorRegistry, TaskMarket, QueueLens, RewardToken and Settlement, wires the settlement module
 * into the market, the registry and the token, prints the addresses and writes
 * deployments/<network>.json. Adding a contract is one `deploy(...)` call.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { network } from "hardhat";

const ONE = 10n ** 18n;
const MINUTE = 60n;

/** Defaults of DESIGN.md §3 (demo windows of ten minutes). */
export const defaults = {
  registry: { minStake: ONE, unbondingPeriod: 60n * MINUTE, drawDelay: 2n, maxValidators: 64n },
  market: {
    maxQueue: 64n,
    maxActive: 8n,
    minCommittee: 3n,
    publisherBondBps: 500n,
    minerBondBps: 100n,
    keyWindow: 10n * MINUTE,
    testKeyWindow: 10n * MINUTE,
    revealWindow: 10n * MINUTE,
    maxQueueTime: 7n * 24n * 60n * MINUTE,
    minTrainWindow: MINUTE,
    maxTrainWindow: 30n * 24n * 60n * MINUTE,
    medianBandwidth: 10_000_000n, // 10 MB/s
    medianCompute: 100_000_000_000n, // 100 GFLOP/s
    rankScale: ONE,
    minReward: 10n ** 12n,
  },
  settlement: {
    blockReward: 100n * ONE,
    attestCommitWindow: 10n * MINUTE,
    attestRevealWindow: 10n * MINUTE,
    committeeSize: 5n,
    epsilon: 10n,
    maxOmmers: 3n,
    validatorShareBps: 500n,
    ommerShareBps: 1000n,
    slashNoRevealBps: 1000n,
    slashDeviationBps: 500n,
    deviationTolerance: 500n,
    ommerBlockShareBps: 1000n,
  },
};

const conn = await network.getOrCreate();
const { ethers } = conn;
const [deployer] = await ethers.getSigners();
if (deployer === undefined) throw new Error(`network ${conn.networkName} has no account to deploy from`);
const owner = deployer.address;
const addresses: Record<string, string> = {};

async function deploy(label: string, contract: string, args: unknown[]): Promise<string> {
  const deployed = await ethers.deployContract(contract, args);
  await deployed.waitForDeployment();
  addresses[label] = await deployed.getAddress();
  return addresses[label];
}

const ZERO = ethers.ZeroAddress;
const registry = await deploy("ValidatorRegistry", "ValidatorRegistry", [owner, ZERO, defaults.registry]);
const market = await deploy("TaskMarket", "TaskMarket", [owner, registry, defaults.market]);
await deploy("QueueLens", "QueueLens", [market]);
const rewardToken = await deploy("RewardToken", "RewardToken", [owner]);
const settlement = await deploy("Settlement", "Settlement", [owner, market, registry, rewardToken, defaults.settlement]);

// The settlement module is set once on each contract it drives.
await (await (await ethers.getContractAt("TaskMarket", market)).setSettlement(settlement)).wait();
await (await (await ethers.getContractAt("ValidatorRegistry", registry)).setSettlement(settlement)).wait();
await (await (await ethers.getContractAt("RewardToken", rewardToken)).setMinter(settlement)).wait();

const { chainId } = await ethers.provider.getNetwork();
const record = {
  network: conn.networkName,
  chainId: chainId.toString(),
  deployer: owner,
  block: await ethers.provider.getBlockNumber(),
  contracts: addresses,
};
await mkdir(new URL("../deployments/", import.meta.url), { recursive: true });
const file = new URL(`../deployments/${conn.networkName}.json`, import.meta.url);
await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);

process.stdout.write(`PoDL deployed on ${conn.networkName} (chain ${chainId}) by ${owner}\n`);
for (const [label, address] of Object.entries(addresses)) process.stdout.write(`  ${label.padEnd(18)} ${address}\n`);
process.stdout.write(`address book: deployments/${conn.networkName}.json\n`);
