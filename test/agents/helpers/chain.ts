import { ContractFactory, HDNodeWallet, Wallet, type BaseContract, type JsonRpcProvider } from "ethers";
import { artifacts, network } from "hardhat";
import { connectChain } from "../../../agents/chain/index.js";
import type { RetryPolicy } from "../../../agents/chain/index.js";

/** Hardhat's default accounts (its well-known test mnemonic). */
const MNEMONIC = "test test test test test test test test test test test junk";

export const FAST_RETRY: RetryPolicy = { retries: 8, baseMs: 5, maxMs: 50 };

export function account(index: number): Wallet {
  return new Wallet(HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey);
}

/**
 * A fresh in-process Hardhat network served over HTTP, so the agents' code talks JSON-RPC to it
 * exactly as it talks to a real node.
 */
export async function startChain(): Promise<{ url: string; provider: JsonRpcProvider; close: () => Promise<void> }> {
  const server = await network.createServer("default", "127.0.0.1", 0);
  const { address, port } = await server.listen();
  const url = `http://${address}:${port}`;
  const { provider } = await connectChain({ rpcUrl: url, pollIntervalMs: 50, retry: FAST_RETRY });
  // Hardhat fixes a simulated chain's genesis date when the config is resolved, at the start of the
  // test run, so a chain created minutes later runs behind the wall clock that agents (rightly) also
  // read. Mine one block at the current time so this chain's clock is the real one, as on a live network.
  await provider.send("evm_mine", [Math.floor(Date.now() / 1000)]);
  return {
    url,
    provider,
    close: async () => {
      provider.destroy();
      await server.close();
    },
  };
}

/** Deploys the outside-token test double (an OpenZeppelin ERC20 anyone may mint). */
export async function deployToken(provider: JsonRpcProvider, deployer: Wallet): Promise<BaseContract & { getAddress(): Promise<string> }> {
  const artifact = await artifacts.readArtifact("PlainTokenDouble");
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, deployer.connect(provider));
  const token = await factory.deploy();
  await token.waitForDeployment();
  return token;
}

export async function mine(provider: JsonRpcProvider, blocks: number): Promise<void> {
  await provider.send("hardhat_mine", [`0x${blocks.toString(16)}`]);
}
