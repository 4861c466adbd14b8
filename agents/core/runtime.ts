import { join } from "node:path";
import type { Interface, Wallet } from "ethers";
import { EventCursor, type CursorOptions } from "../chain/cursor.js";
import { connectChain, redactUrl, type ChainConnection } from "../chain/provider.js";
import { StallWatch } from "../chain/stall.js";
import type { RetryPolicy } from "../chain/retry.js";
import { retryStep, withBudget } from "../chain/retry-budget.js";
import { TxSender } from "../chain/sender.js";
import { loadWallet } from "../config/keys.js";
import type { AgentConfig } from "../config/schema.js";
import { createLogger, type Logger } from "../log/logger.js";
import { StateStore } from "../state/store.js";
import { chainClock, type Clock } from "./clock.js";

/** Everything an agent's state machine works with, wired once from its validated configuration. */
export interface AgentRuntime {
  agent: string;
  config: AgentConfig;
  log: Logger;
  chain: ChainConnection;
  wallet: Wallet;
  sender: TxSender;
  store: StateStore;
  retry: RetryPolicy;
  /** The chain's time, and this process's for its own waits: one clock for every agent. */
  clock: Clock;
  /** A cursor over `address`'s events, persisted in this agent's state under `name`. */
  cursor(name: string, filter: Pick<CursorOptions, "address" | "topics" | "startBlock">): EventCursor;
  close(): void;
}

export interface RuntimeOptions {
  /** Names the state file (`<dataDir>/<agent>.sqlite`) and every log line. */
  agent: string;
  config: AgentConfig;
  env: Record<string, string | undefined>;
  /** ABIs whose custom errors the sender should decode (market, registry, settlement). */
  errorInterfaces?: readonly Interface[];
  log?: Logger;
  /** A one-shot command (publish, withdraw): retries RPC calls for `--rpc-retry-budget-ms`, not `--rpc-retries` times. */
  oneShot?: boolean;
}

/**
 * Opens an agent: logger, RPC connection (chain id checked), signing key, SQLite state and a
 * transaction sender journalling into it. Settles what a previous run left in the journal
 * before returning, so the agent starts from what the chain says happened.
 */
export async function openRuntime(options: RuntimeOptions): Promise<AgentRuntime> {
  const { agent, config } = options;
  const log = options.log ?? createLogger({ agent, level: config.logLevel });
  const retry: RetryPolicy = withBudget({ retries: config.rpcRetries, baseMs: config.rpcBackoffMs, maxMs: config.rpcBackoffMaxMs }, options.oneShot === true ? config.rpcRetryBudgetMs : undefined);
  const wallet = await loadWallet({ keystore: config.keystore, keystorePasswordFile: config.keystorePasswordFile, env: options.env });
  const chain = await connectChain({
    rpcUrl: config.rpcUrl,
    chainId: config.chainId,
    confirmations: config.confirmations,
    pollIntervalMs: config.pollIntervalMs,
    retry,
    startupWaitMs: config.rpcStartupWaitMs,
    log,
  });
  let store: StateStore;
  try {
    store = StateStore.open(join(config.dataDir, `${agent}.sqlite`));
  } catch (e) {
    chain.provider.destroy();
    throw e;
  }
  const sender = new TxSender({
    wallet,
    provider: chain.provider,
    chainId: chain.chainId,
    retry,
    gasHeadroomPercent: config.gasHeadroomPercent,
    txTimeoutMs: config.txTimeoutMs,
    pollIntervalMs: config.pollIntervalMs,
    journal: store,
    errorInterfaces: options.errorInterfaces ?? [],
    log,
  });
  log.info({ address: wallet.address, chainId: chain.chainId, rpc: redactUrl(config.rpcUrl), state: store.path }, "agent started");
  // One-shot at start: rides out a lossy endpoint for the retry budget (a failure here would end the agent).
  const resumed = await retryStep("settling the journal", () => sender.resumePending(), { budgetMs: config.rpcRetryBudgetMs, pauseMs: config.rpcBackoffMaxMs, log });
  for (const tx of resumed) log.info({ txHash: tx.hash, tx: tx.label, status: tx.status }, "settled a transaction from the previous run");
  const stall = new StallWatch({ source: chain.provider, chainId: chain.chainId, log }).start();
  return {
    agent,
    config,
    log,
    chain,
    wallet,
    sender,
    store,
    retry,
    clock: chainClock(chain.provider),
    cursor: (name, filter) =>
      new EventCursor({
        name,
        provider: chain.provider,
        store,
        ...filter,
        confirmations: chain.confirmations,
        chunkBlocks: config.logChunkBlocks,
        maxReorgDepth: config.maxReorgDepth,
        retry,
        log,
      }),
    close: () => {
      stall.stop();
      store.close();
      chain.provider.destroy();
    },
  };
}
