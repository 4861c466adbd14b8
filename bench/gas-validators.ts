/**
 * Gas of the validator and settlement operations, measured on the in-process Hardhat network with the
 * real contracts. `measureValidatorGas` returns a flat `{ operation: gasUsed }` object that the gas
 * harness (bench/gas.ts) merges into bench/results/gas.json.
 *
 * Keys: stake (first stake), stakeTopUp, requestUnbond, withdrawStake, drawRequest_5of5 (the first
 * `drawCommittee` call, which requests the draw), drawCommittee_5of5 (the call that draws),
 * commitScores, revealScores (16 submissions), revealScores_64, finalize_5x16, finalize_15x64,
 * drawCommittee_15of15, claimPayouts_one_5x16 (a payee claims its entry after finalize_5x16),
 * claimPayouts_rest_5x16 (a keeper claims the other entries at once), claimMints_one_5x16 (a block
 * reward claimed), and the counts used.
 *
 * Run alone (`npx hardhat run bench/gas-validators.ts`) it merges its figures into
 * bench/results/gas.json, keeping the other keys there.
 */
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import type { ContractTransactionResponse } from "ethers";
import {
  type Actor,
  bySigner,
  deployWorld,
  drawDelay,
  ONE,
  registryParams,
  saltOf,
  stakeAll,
  taskToAttesting,
  type World,
} from "../test/validators/helpers/world.js";
import { unclaimedMints, unclaimedPayouts } from "../agents/chain/payouts.js";

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  return Number(receipt!.gasUsed);
}

/** Funded wallets beyond Hardhat's twenty accounts. */
async function wallets(conn: NetworkConnection, count: number): Promise<Actor[]> {
  const out: Actor[] = [];
  for (let i = 0; i < count; i++) {
    const wallet = conn.ethers.Wallet.createRandom().connect(conn.ethers.provider);
    await conn.networkHelpers.setBalance(wallet.address, 1000n * ONE);
    out.push(wallet);
  }
  return out;
}

type Scenario = { validators: number; submissions: number };

/** One full task with `validators` honest members and `submissions` revealed models; returns gas figures. */
async function scenario(conn: NetworkConnection, s: Scenario) {
  const w: World = await deployWorld(conn, { settlement: { committeeSize: BigInt(s.validators) } });
  const publisher = w.accounts[0]!;
  const validators = await wallets(conn, s.validators);
  const miners = await wallets(conn, s.submissions);
  await stakeAll(w, validators, Array(s.validators).fill(2n * ONE));
  const run = await taskToAttesting(
    w,
    publisher,
    miners.map((m) => ({ signer: m, reveal: true })),
  );
  // the first call requests the draw (stake snapshot, randomness request); the draw comes once it is ready
  const requestGas = await gasOf(w.settlement.drawCommittee(run.taskId));
  await w.helpers.mine(Number(drawDelay));
  const drawGas = await gasOf(w.settlement.drawCommittee(run.taskId));
  const members = bySigner(validators, [...(await w.settlement.committee(run.taskId, 0n))]);
  // distinct medians: a winner, three ommers, the rest spread above and below the 80 % threshold
  const scores = miners.map((_, j) => BigInt(9500 - j * 50));
  const commit: number[] = [];
  for (const m of members) {
    const c = await w.settlement.scoresCommitment(run.taskId, 0n, m.address, scores, saltOf(m.address));
    commit.push(await gasOf(w.settlement.connect(m).commitScores(run.taskId, c)));
  }
  const reveal: number[] = [];
  for (const m of members) {
    reveal.push(await gasOf(w.settlement.connect(m).revealScores(run.taskId, scores, saltOf(m.address))));
  }
  const tx = await w.settlement.finalize(run.taskId);
  const finalize = await gasOf(Promise.resolve(tx));
  // pull payouts: a payee claims its own entry, then a keeper claims the rest for everyone; the winner
  // claims its block reward
  const posted = (await unclaimedPayouts(w.market, run.taskId))!;
  const claimOne = await gasOf(w.market.claimPayouts(run.taskId, posted.payouts, [1]));
  const claimRest = await gasOf(w.market.claimPayouts(run.taskId, posted.payouts, posted.indices.filter((i) => i !== 1)));
  const mints = (await unclaimedMints(w.rewardToken, run.taskId))!;
  const claimMint = await gasOf(w.rewardToken.claimMints(run.taskId, mints.payouts, [mints.indices[0]!]));
  return {
    w, requestGas, drawGas, commit: Math.max(...commit), reveal: Math.max(...reveal), finalize, finalizeHash: tx.hash,
    claimOne, claimRest, claimRestCount: posted.indices.length - 1, claimMint,
  };
}

/**
 * The `finalize` transaction of a scenario, with names for the call-frame breakdown
 * (bench/gas-frames.ts): lower-case address or selector → contract or function name.
 */
export async function measureFinalize(conn: NetworkConnection, s: Scenario) {
  const { w, finalizeHash } = await scenario(conn, s);
  const names = new Map<string, string>();
  const contracts = { TaskMarket: w.market, ValidatorRegistry: w.registry, RewardToken: w.rewardToken, Settlement: w.settlement };
  for (const [name, contract] of Object.entries(contracts)) {
    names.set((await contract.getAddress()).toLowerCase(), name);
    contract.interface.forEachFunction((f) => names.set(f.selector, f.name));
  }
  return { hash: finalizeHash, names };
}

/** Stake, top-up, unbond and withdraw of one validator on a registry that already holds five. */
async function registryOps(conn: NetworkConnection) {
  const w = await deployWorld(conn);
  await stakeAll(w, w.accounts.slice(5, 10), Array(5).fill(2n * ONE));
  const v = w.accounts[10]!;
  const stake = await gasOf(w.registry.connect(v).stake(2n * ONE, { value: 2n * ONE }));
  const stakeTopUp = await gasOf(w.registry.connect(v).stake(ONE, { value: ONE }));
  const requestUnbond = await gasOf(w.registry.connect(v).requestUnbond());
  await w.helpers.time.increase(Number(registryParams.unbondingPeriod));
  const withdrawStake = await gasOf(w.registry.connect(v).withdraw());
  return { stake, stakeTopUp, requestUnbond, withdrawStake };
}

export async function measureValidatorGas(conn: NetworkConnection): Promise<Record<string, number>> {
  const ops = await registryOps(conn);
  const small = await scenario(conn, { validators: 5, submissions: 16 });
  const large = await scenario(conn, { validators: 15, submissions: 64 });
  return {
    ...ops,
    drawRequest_5of5: small.requestGas,
    drawCommittee_5of5: small.drawGas,
    commitScores: small.commit,
    revealScores: small.reveal,
    finalize_5x16: small.finalize,
    claimPayouts_one_5x16: small.claimOne,
    claimPayouts_rest_5x16: small.claimRest,
    claimPayouts_restCount_5x16: small.claimRestCount,
    claimMints_one_5x16: small.claimMint,
    drawCommittee_15of15: large.drawGas,
    commitScores_15: large.commit,
    revealScores_64: large.reveal,
    finalize_15x64: large.finalize,
    validators_small: 5,
    submissions_small: 16,
    validators_large: 15,
    submissions_large: 64,
  };
}

const RESULTS = new URL("./results/gas.json", import.meta.url);

/** Merges `figures` into bench/results/gas.json (a flat object), keeping every other key. */
export async function mergeIntoResults(figures: Record<string, number>): Promise<void> {
  let current: Record<string, number> = {};
  try {
    current = JSON.parse(await readFile(RESULTS, "utf8")) as Record<string, number>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify({ ...current, ...figures }, null, 2)}\n`);
}

if (process.argv.some((arg) => arg.endsWith("gas-validators.ts"))) {
  const figures = await measureValidatorGas(await network.create());
  await mergeIntoResults(figures);
  for (const [key, value] of Object.entries(figures)) {
    process.stdout.write(`${key.padEnd(22)} ${value}\n`);
  }
}
