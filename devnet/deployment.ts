/**
 * Deploying PoDL from any ethers signer: the contracts, their wiring and the address book the
 * agents read (`--deployment`). `scripts/deploy.ts` (hardhat run) and the demo both call
 * `deployPodl`; parameters are the defaults of DESIGN.md §3 with overrides merged per field.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { Interface, ZeroAddress, ZeroHash, keccak256, toUtf8Bytes, type Signer } from "ethers";
import {
  BlockhashRandomness__factory,
  PodlTimelock__factory,
  QueueLens__factory,
  RewardToken__factory,
  Settlement__factory,
  TaskMarket__factory,
  ValidatorRegistry__factory,
  VrfRandomness__factory,
} from "../types/index.js";
import { deployPayoutsLibrary } from "./settlement-library.js";

const ONE = 10n ** 18n;
const MINUTE = 60n;

export interface DeployParams {
  registry: { minStake: bigint; unbondingPeriod: bigint; warmupBlocks: bigint; maxValidators: bigint };
  /** The committee draw's randomness source: on L1 the hash of the block `drawDelay` blocks after a request. */
  randomness: { drawDelay: bigint };
  market: {
    maxQueue: bigint;
    maxActive: bigint;
    minCommittee: bigint;
    publisherBondBps: bigint;
    minerBondBps: bigint;
    keyWindow: bigint;
    testKeyWindow: bigint;
    revealWindow: bigint;
    maxQueueTime: bigint;
    minTrainWindow: bigint;
    maxTrainWindow: bigint;
    medianBandwidth: bigint;
    medianCompute: bigint;
    rankScale: bigint;
    /** Not a MarketParams field: ETH's minimum reward in wei, listed at par (unitScale 1e18) by deployPodl. */
    ethMinReward: bigint;
  };
  settlement: {
    blockReward: bigint;
    attestCommitWindow: bigint;
    attestRevealWindow: bigint;
    committeeSize: bigint;
    epsilon: bigint;
    maxOmmers: bigint;
    validatorShareBps: bigint;
    ommerShareBps: bigint;
    slashNoRevealBps: bigint;
    slashDeviationBps: bigint;
    deviationTolerance: bigint;
    ommerBlockShareBps: bigint;
    escapeDelay: bigint;
  };
}

/** Per-field overrides, numbers or decimal strings (as they come from JSON). */
export type ParamOverrides = { [G in keyof DeployParams]?: { [K in keyof DeployParams[G]]?: bigint | number | string } };

/** Defaults of DESIGN.md §3 (windows of ten minutes). */
export const defaults: DeployParams = {
  // a stake counts for draws requested 64 blocks (about 13 minutes on L1) after it
  registry: { minStake: ONE, unbondingPeriod: 60n * MINUTE, warmupBlocks: 64n, maxValidators: 64n },
  randomness: { drawDelay: 2n },
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
    ethMinReward: 10n ** 12n,
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
    escapeDelay: 7n * 86_400n,
  },
};

/**
 * Windows of seconds for one-machine runs (demo, end-to-end test, bench). The market's lower bound
 * is 10 s per window; the reveal window leaves a miner busy training another task time to reveal.
 * The attestation windows (Settlement's bound: 60 s) get 180 s: a validator
 * fetches and replays every model on a shared 2-core machine, and only a silent committee member
 * makes anyone wait for them (reveals open and finalize runs early once every member acted).
 */
export const localWindows: ParamOverrides = {
  // the local chain mines a block a second: validators stake at start, the first draw comes minutes later
  registry: { unbondingPeriod: 60, warmupBlocks: 5 },
  market: { keyWindow: 30, testKeyWindow: 30, revealWindow: 30, minTrainWindow: 10, maxQueueTime: 3600 },
  settlement: { attestCommitWindow: 180, attestRevealWindow: 180 },
};

/** `base` with `overrides` applied field by field; an unknown group or field is an error (typos do not pass). */
export function withOverrides(base: DeployParams, ...overrides: ParamOverrides[]): DeployParams {
  const out: DeployParams = {
    registry: { ...base.registry },
    randomness: { ...base.randomness },
    market: { ...base.market },
    settlement: { ...base.settlement },
  };
  for (const o of overrides) {
    for (const [group, fields] of Object.entries(o)) {
      const target = (out as unknown as Record<string, Record<string, bigint>>)[group];
      if (target === undefined) throw new Error(`unknown parameter group "${group}" (registry, randomness, market or settlement)`);
      for (const [field, value] of Object.entries(fields ?? {})) {
        if (!(field in target)) throw new Error(`unknown parameter ${group}.${field} (known: ${Object.keys(target).join(", ")})`);
        try {
          target[field] = BigInt(value as bigint | number | string);
        } catch (cause) {
          throw new Error(`parameter ${group}.${field} must be an integer, got ${JSON.stringify(value)}`, { cause });
        }
      }
    }
  }
  return out;
}

/**
 * Overrides from `PODL_DEPLOY_PARAMS`: inline JSON (`{"market":{"keyWindow":30}}`), the name of a
 * JSON file holding it, or `local` for `localWindows`.
 */
export async function overridesFromEnv(value: string | undefined): Promise<ParamOverrides> {
  if (value === undefined || value.trim() === "") return {};
  if (value === "local") return localWindows;
  const text = value.trimStart().startsWith("{") ? value : await readFile(value, "utf8");
  try {
    return JSON.parse(text) as ParamOverrides;
  } catch (cause) {
    throw new Error(`PODL_DEPLOY_PARAMS is neither JSON nor a JSON file: ${(cause as Error).message}`, { cause });
  }
}

/** What `deployments/<network>.json` holds; every agent's `--deployment`. */
export interface DeploymentRecord {
  network: string;
  chainId: string;
  deployer: string;
  block: number;
  contracts: {
    RandomnessSource: string;
    ValidatorRegistry: string;
    TaskMarket: string;
    QueueLens: string;
    RewardToken: string;
    Settlement: string;
  };
  params: {
    registry: Record<string, string>;
    randomness: Record<string, string>;
    market: Record<string, string>;
    settlement: Record<string, string>;
  };
  /** IPFS nodes every agent dials to join the others (devnet/bootstrap.ts). */
  bootstrap?: string[];
}

/**
 * Deploys the randomness source (Ethereum L1: BlockhashRandomness), ValidatorRegistry (ETH stakes),
 * TaskMarket, QueueLens, RewardToken and Settlement from `deployer` and sets the settlement module once
 * on each contract it drives. On an L2 the registry takes a verifiable source instead (see
 * docs/settlement.md, "Committee draw").
 */
export async function deployPodl(
  deployer: Signer,
  params: DeployParams,
  networkName: string,
  options: { randomnessSource?: string } = {},
): Promise<DeploymentRecord> {
  const owner = await deployer.getAddress();
  const provider = deployer.provider;
  if (provider === null) throw new Error("the deployer signer has no provider");
  // An L2 passes its VrfRandomness (whose owner allows the registry and the market as consumers); L1 gets a
  // blockhash source. The market seeds its tasks from the registry's source.
  const randomnessAddress =
    options.randomnessSource ??
    (await (await (await new BlockhashRandomness__factory(deployer).deploy(params.randomness.drawDelay)).waitForDeployment()).getAddress());
  const registry = await (
    await new ValidatorRegistry__factory(deployer).deploy(owner, ZeroAddress, randomnessAddress, params.registry)
  ).waitForDeployment();
  const registryAddress = await registry.getAddress();
  const { ethMinReward, ...marketParams } = params.market;
  const market = await (await new TaskMarket__factory(deployer).deploy(owner, registryAddress, marketParams)).waitForDeployment();
  const marketAddress = await market.getAddress();
  const lens = await (await new QueueLens__factory(deployer).deploy(marketAddress)).waitForDeployment();
  const token = await (await new RewardToken__factory(deployer).deploy(owner)).waitForDeployment();
  const tokenAddress = await token.getAddress();
  const settlement = await (
    await new Settlement__factory(await deployPayoutsLibrary(deployer), deployer).deploy(owner, marketAddress, registryAddress, tokenAddress, params.settlement)
  ).waitForDeployment();
  const settlementAddress = await settlement.getAddress();

  // The settlement module is set once on each contract it drives.
  await (await market.setSettlement(settlementAddress)).wait();
  await (await registry.setSettlement(settlementAddress)).wait();
  await (await token.setMinter(settlementAddress)).wait();
  // Reward tokens (issue 9 finding 13): ETH is the reference unit; other tokens are listed by the owner
  // with their minimum and their scale into wei (`setRewardToken`).
  await (await market.setRewardToken(ZeroAddress, ethMinReward, ONE)).wait();
  // Block rewards are bounded by value paid (issue 9 finding 4): ETH tasks mint at most 1,000 PODL per
  // ETH of reward; a token without a rate mints nothing.
  await (await settlement.setMintRate(ZeroAddress, 1000n * 10n ** 18n)).wait();
  // A VRF source spends its subscription only for the consumers its owner allows: the registry (committee
  // draws) and the market (task seeds). Done here when the deployer owns it; otherwise its owner does it.
  if (options.randomnessSource !== undefined) {
    const vrf = VrfRandomness__factory.connect(randomnessAddress, deployer);
    if ((await vrf.owner()) === owner) {
      await (await vrf.setConsumer(registryAddress, true)).wait();
      await (await vrf.setConsumer(marketAddress, true)).wait();
    }
  }

  const strings = (o: Record<string, bigint>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.toString()]));
  return {
    network: networkName,
    chainId: (await provider.getNetwork()).chainId.toString(),
    deployer: owner,
    block: await provider.getBlockNumber(),
    contracts: {
      RandomnessSource: randomnessAddress,
      ValidatorRegistry: registryAddress,
      TaskMarket: marketAddress,
      QueueLens: await lens.getAddress(),
      RewardToken: tokenAddress,
      Settlement: settlementAddress,
    },
    params: {
      registry: strings(params.registry),
      randomness: strings(params.randomness),
      market: strings(params.market),
      settlement: strings(params.settlement),
    },
  };
}

export async function writeDeployment(file: string, record: DeploymentRecord): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Hands the ownership of `targets` (Ownable2Step contracts owned by `deployer`) to a new PodlTimelock
 * (OpenZeppelin TimelockController) with `minDelay` seconds: the deployer proposes and executes, nobody
 * administers. Ownable2Step needs the new owner to accept, so the acceptances are queued in the timelock;
 * with `minDelay` 0 they run at once, otherwise `executeBatch` (same arguments) runs them after the
 * delay. Returns the timelock and whether the acceptances ran.
 */
export async function handOverToTimelock(deployer: Signer, targets: readonly string[], minDelay: bigint): Promise<{ timelock: string; accepted: boolean }> {
  const admin = await deployer.getAddress();
  const timelock = await (await new PodlTimelock__factory(deployer).deploy(minDelay, [admin], [admin], ZeroAddress)).waitForDeployment();
  const address = await timelock.getAddress();
  const ownable = new Interface(["function transferOwnership(address)", "function acceptOwnership()"]);
  for (const target of targets) await (await deployer.sendTransaction({ to: target, data: ownable.encodeFunctionData("transferOwnership", [address]) })).wait();
  const values = targets.map(() => 0n);
  const calls = targets.map(() => ownable.encodeFunctionData("acceptOwnership"));
  const salt = keccak256(toUtf8Bytes("podl: accept ownership"));
  await (await timelock.scheduleBatch([...targets], values, calls, ZeroHash, salt, minDelay)).wait();
  if (minDelay !== 0n) return { timelock: address, accepted: false };
  await (await timelock.executeBatch([...targets], values, calls, ZeroHash, salt)).wait();
  return { timelock: address, accepted: true };
}

