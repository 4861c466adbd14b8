/**
 * Deploys PoDL: `npx hardhat run scripts/deploy.ts [--network <name>]` (`npm run deploy`). Runs the
 * Hardhat Ignition module (ignition/modules/Podl.ts: ValidatorRegistry, TaskMarket, QueueLens,
 * RewardToken and Settlement, wired; resumable), prints the addresses and writes
 * deployments/<network>.json (every agent's `--deployment`, ignition/address-book.ts).
 *
 * Parameters are the defaults of DESIGN.md §3, then ignition/parameters/<network>.json when the
 * network has one, then `PODL_DEPLOY_PARAMS` per field: inline JSON (`{"market":{"keyWindow":30}}`),
 * a JSON file, `local` for windows of seconds, or `default`; unset, a local chain id (31337, 1337)
 * gets the windows of seconds (devnet/deploy-params.ts). The demo deploys the same contracts
 * through devnet's `deployPodl` (plain ethers, no journal).
 *
 * The committee draw's randomness: on Ethereum L1 a BlockhashRandomness is deployed (delay
 * `randomness.drawDelay`); on an L2 deploy a VrfRandomness for the chain's VRF v2.5 coordinator first and
 * pass its address in `PODL_RANDOMNESS_SOURCE`; the registry (committee draws) and the market (task seeds)
 * must be its consumers (`setConsumer`): done by the deployment when the deployer owns the source,
 * otherwise by its owner afterwards.
 * Production: `PODL_TIMELOCK_DELAY=<seconds>` hands the ownership of every contract (Ownable2Step) to a
 * PodlTimelock (OpenZeppelin TimelockController) with that minimum delay; the deployer stays proposer
 * and executor. The timelock's acceptances are queued; with a delay > 0, run the printed
 * `executeBatch` after it (docs/market.md).
 * `PODL_IPFS_BOOTSTRAP=<multiaddr>,…` names the IPFS nodes every agent dials to join the others
 * (the address book's `bootstrap`, e.g. the publisher's node; docs/publishing.md).
 */
import { fileURLToPath } from "node:url";
import { network } from "hardhat";
import { parseBootstrap } from "../devnet/bootstrap.js";
import { deployOverrides } from "../devnet/deploy-params.js";
import { defaults, handOverToTimelock, withOverrides } from "../devnet/deployment.js";
import { writeAddressBook } from "../ignition/address-book.js";
import { deployWithIgnition, networkOverrides } from "../ignition/deploy.js";

const conn = await network.getOrCreate();
const [deployer] = await conn.ethers.getSigners();
if (deployer === undefined) throw new Error(`network ${conn.networkName} has no account to deploy from`);
const { overrides, why } = await deployOverrides((await conn.ethers.provider.getNetwork()).chainId, process.env.PODL_DEPLOY_PARAMS);
process.stdout.write(`parameters: ${why}\n`);

const randomnessSource = process.env.PODL_RANDOMNESS_SOURCE?.trim() || undefined;
const perNetwork = fileURLToPath(new URL(`../ignition/parameters/${conn.networkName}.json`, import.meta.url));
const params = withOverrides(defaults, await networkOverrides(perNetwork, randomnessSource === undefined ? "Podl" : "PodlL2"), overrides);
const record = { ...(await deployWithIgnition(conn, params, { randomnessSource })), bootstrap: parseBootstrap(process.env.PODL_IPFS_BOOTSTRAP) };
const file = fileURLToPath(new URL(`../deployments/${conn.networkName}.json`, import.meta.url));
await writeAddressBook(file, record);

process.stdout.write(`PoDL deployed on ${conn.networkName} (chain ${record.chainId}) by ${record.deployer}\n`);
for (const [label, address] of Object.entries(record.contracts)) process.stdout.write(`  ${label.padEnd(18)} ${address}\n`);
process.stdout.write(`address book: deployments/${conn.networkName}.json\n`);

const delay = process.env.PODL_TIMELOCK_DELAY;
if (delay !== undefined && delay !== "") {
  if (!/^\d+$/.test(delay)) throw new Error(`PODL_TIMELOCK_DELAY must be a whole number of seconds, not "${delay}"`);
  const { ValidatorRegistry, TaskMarket, RewardToken, Settlement } = record.contracts;
  const targets = [ValidatorRegistry, TaskMarket, RewardToken, Settlement];
  const { timelock, accepted } = await handOverToTimelock(deployer, targets, BigInt(delay));
  process.stdout.write(`  ${"PodlTimelock".padEnd(18)} ${timelock} (min delay ${delay} s)\n`);
  process.stdout.write(
    accepted
      ? "ownership handed to the timelock\n"
      : `ownership transfer queued: after ${delay} s call executeBatch on the timelock with the scheduled acceptOwnership calls (salt keccak256("podl: accept ownership"))\n`,
  );
}

