import { ZeroAddress, type ContractRunner } from "ethers";
import type { AddressBook } from "../config/deployment.js";
import { AgentError } from "../config/errors.js";
import {
  QueueLens__factory,
  RewardToken__factory,
  Settlement__factory,
  TaskMarket__factory,
  ValidatorRegistry__factory,
  type QueueLens,
  type RewardToken,
  type Settlement,
  type TaskMarket,
  type ValidatorRegistry,
} from "../../types/index.js";

/** The PoDL contracts, TypeChain-typed; the optional ones are absent when neither the book nor the market names them. */
export interface PodlContracts {
  market: TaskMarket;
  registry: ValidatorRegistry;
  settlement?: Settlement;
  queueLens?: QueueLens;
  rewardToken?: RewardToken;
}

/**
 * Connects the address book's contracts to `runner`, asking the market for the registry and the
 * settlement module when the book does not name them. CONFIG_INVALID when the market address
 * holds no code (a wrong address or another chain's deployment file).
 */
export async function connectContracts(book: AddressBook, runner: ContractRunner & { getCode(address: string): Promise<string> }): Promise<PodlContracts> {
  if ((await runner.getCode(book.market)) === "0x") {
    throw new AgentError("CONFIG_INVALID", `no contract at market address ${book.market} on this chain (wrong --market or --deployment?)`, { context: { market: book.market } });
  }
  const market = TaskMarket__factory.connect(book.market, runner);
  const registry = ValidatorRegistry__factory.connect(book.registry ?? (await market.registry()), runner);
  const settlementAddress = book.settlement ?? (await market.settlement());
  const contracts: PodlContracts = { market, registry };
  // Unset, or an account without code (tests settle from one): nothing to ask about attestation.
  if (settlementAddress !== ZeroAddress && (await runner.getCode(settlementAddress)) !== "0x") contracts.settlement = Settlement__factory.connect(settlementAddress, runner);
  if (book.queueLens !== undefined) contracts.queueLens = QueueLens__factory.connect(book.queueLens, runner);
  if (book.rewardToken !== undefined) contracts.rewardToken = RewardToken__factory.connect(book.rewardToken, runner);
  return contracts;
}
