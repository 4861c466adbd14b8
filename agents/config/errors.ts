import { PodlError } from "../errors/podl-error.js";

/** Machine-readable reasons an agent operation failed (chain, config, keys, local state). */
export const AGENT_ERROR_CODES = [
  "CONFIG_INVALID", // a flag, variable or config-file entry is missing or out of bounds
  "KEY_MISSING", // no private key in the environment and no keystore configured
  "KEY_INVALID", // the keystore cannot be read or decrypted, or the key is malformed
  "RPC_UNAVAILABLE", // the JSON-RPC endpoint kept failing after every retry
  "CHAIN_MISMATCH", // the endpoint serves another chain than the one configured
  "INSUFFICIENT_FUNDS", // the sender cannot pay value + gas
  "NONCE_CONFLICT", // another sender kept taking our nonces
  "TX_REVERTED", // the transaction reverts (at estimation or on chain)
  "TX_TIMEOUT", // no receipt within the time budget
  "REORG_TOO_DEEP", // the chain reorganised below every block the cursor remembers
  "STATE_UNAVAILABLE", // the SQLite state file cannot be opened or written
  "STATE_TOO_NEW", // the state file was written by a newer schema than this code knows
  "USAGE", // the command line names an unknown subcommand or option
] as const;

export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

/** The one error type that leaves agents/{config,chain,state,cli}. */
export class AgentError extends PodlError<AgentErrorCode> {
  constructor(code: AgentErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = "AgentError";
  }
}

export function isAgentError(e: unknown, code?: AgentErrorCode): e is AgentError {
  return e instanceof AgentError && (code === undefined || e.code === code);
}
