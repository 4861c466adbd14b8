/**
 * The cast of a local run: Hardhat's default accounts by role, each agent's data folder and its
 * embedded IPFS node's address (known before the agent starts), and the `podl` environment.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { HDNodeWallet, Wallet, formatEther, parseEther, type JsonRpcProvider } from "ethers";
import { EmbeddedStore } from "../agents/storage/index.js";
import { freePort } from "./node.js";

/** Hardhat's well-known test mnemonic; these keys hold test ETH only. */
const MNEMONIC = "test test test test test test test test test test test junk";

export function account(index: number): Wallet {
  return new Wallet(HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey);
}

/** Account 0 deploys, 1 publishes, 2-4 mine, 5-8 validate, 9 is the copying miner of the fault test. */
export const ROLES = {
  deployer: 0,
  publisher: 1,
  miners: [2, 3, 4],
  validators: [5, 6, 7, 8],
  copier: 9,
} as const;

export interface AgentSetup {
  name: string;
  role: "publisher" | "miner" | "verifier";
  wallet: Wallet;
  dataDir: string;
  /** The embedded node's listen address and full multiaddr (with /p2p/<peer id>). */
  ipfsListen: string;
  ipfsAddress: string;
}

/**
 * Creates the agent's data folder and its IPFS node's identity (libp2p keeps its key in the
 * node's datastore), so every peer's multiaddr is known before any agent runs and each can be
 * given the others' addresses to dial.
 */
export async function prepareAgent(root: string, name: string, role: AgentSetup["role"], wallet: Wallet): Promise<AgentSetup> {
  const dataDir = join(root, name);
  await mkdir(dataDir, { recursive: true });
  const ipfsListen = `/ip4/127.0.0.1/tcp/${await freePort()}`;
  const store = await EmbeddedStore.open({ dataDir: join(dataDir, `ipfs-${role}`), listen: [ipfsListen] });
  const peerId = store.peerId();
  await store.close();
  return { name, role, wallet, dataDir, ipfsListen, ipfsAddress: `${ipfsListen}/p2p/${peerId}` };
}

/** The environment every `podl` process gets: endpoint, key, state folder, a quick poll. */
export function agentEnv(rpcUrl: string, agent: AgentSetup, pollIntervalMs: number): Record<string, string> {
  return {
    PODL_RPC_URL: rpcUrl,
    PODL_CHAIN_ID: "31337",
    PODL_PRIVATE_KEY: agent.wallet.privateKey,
    PODL_DATA_DIR: agent.dataDir,
    PODL_POLL_INTERVAL_MS: String(pollIntervalMs),
  };
}

/**
 * Tops every account up to `amount` from the deployer (on a fresh Hardhat node they already hold
 * 10,000 ETH and nothing is sent). Returns each account's balance afterwards.
 */
export async function fund(provider: JsonRpcProvider, funder: Wallet, accounts: Wallet[], amount = parseEther("100")): Promise<Map<string, bigint>> {
  const signer = funder.connect(provider);
  const balances = new Map<string, bigint>();
  for (const a of accounts) {
    const balance = await provider.getBalance(a.address);
    if (balance < amount) {
      const tx = await signer.sendTransaction({ to: a.address, value: amount - balance });
      await tx.wait();
    }
    balances.set(a.address, await provider.getBalance(a.address));
  }
  return balances;
}

export function eth(wei: bigint): string {
  const s = formatEther(wei);
  return s.endsWith(".0") ? s.slice(0, -2) : s;
}

/** Seconds before the commit deadline by which miners commit in local runs (windows are seconds long). */
export const LOCAL_COMMIT_MARGIN = 8;

/**
 * TensorFlow.js backend of local runs. The chooser would take WebGPU on a software adapter where
 * no GPU exists (lavapipe), measured ≈ 40× slower than wasm for the MNIST MLP on this machine.
 */
export const LOCAL_BACKEND = "wasm";

/**
 * `podl miner` arguments of a local run. `peers`: nodes already up to dial (the publisher's; the
 * others dial the miner). Only the publisher calls startNext, so no two agents race for it.
 */
export function minerArgs(self: AgentSetup, deploymentFile: string, peers: readonly AgentSetup[], extra: string[] = []): string[] {
  return [
    "miner",
    "--deployment",
    deploymentFile,
    "--backend",
    LOCAL_BACKEND,
    "--commit-margin",
    String(LOCAL_COMMIT_MARGIN),
    "--start-tasks",
    "false",
    "--ipfs-listen",
    self.ipfsListen,
    ...peerFlag(self, peers),
    ...extra,
  ];
}

/** `podl verifier` arguments of a local run, staking 1 ETH when not bonded; `peers`: the miners' and publisher's nodes. */
export function verifierArgs(self: AgentSetup, deploymentFile: string, peers: readonly AgentSetup[], extra: string[] = []): string[] {
  return ["verifier", "--deployment", deploymentFile, "--backend", LOCAL_BACKEND, "--stake", "1", "--ipfs-listen", self.ipfsListen, ...peerFlag(self, peers), ...extra];
}

/** `podl publish --post-only` arguments for one task; the publisher's node keeps its address across runs. */
export function postArgs(self: AgentSetup, deploymentFile: string, task: { dataset: string; spec: string; reward: string; threshold: number; trainWindow: number }, extra: string[] = []): string[] {
  return [
    "publish",
    "--post-only",
    "--deployment",
    deploymentFile,
    "--dataset",
    task.dataset,
    "--spec",
    task.spec,
    "--reward",
    task.reward,
    "--threshold",
    String(task.threshold),
    "--train-window",
    String(task.trainWindow),
    "--ipfs-listen",
    self.ipfsListen,
    ...extra,
  ];
}

/** `podl publish` serving every task in its state (shards, start, key unlocks). */
export function serveArgs(self: AgentSetup, deploymentFile: string, extra: string[] = []): string[] {
  return ["publish", "--deployment", deploymentFile, "--ipfs-listen", self.ipfsListen, ...extra];
}

function peerFlag(self: AgentSetup, peers: readonly AgentSetup[]): string[] {
  const others = peers.filter((p) => p !== self).map((p) => p.ipfsAddress);
  return others.length === 0 ? [] : ["--ipfs-peers", others.join(",")];
}
