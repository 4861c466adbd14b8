import type { Command } from "./command.js";

/**
 * Every subcommand by name and summary, its module loaded only when it runs: `podl --help` then
 * reads this table alone, and `podl miner` loads the miner's code, not the explorer's or the
 * publisher's (each command's module pulls in ethers, TensorFlow.js, Helia, …: seconds and
 * hundreds of MB when all load at once). The summary repeats the command's own; a test holds the
 * two equal. A new command joins here.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<Command>;
}

export const COMMAND_INDEX: readonly CommandEntry[] = [
  { name: "check", summary: "check the configuration, the RPC endpoint and the signing key", load: async () => (await import("./commands/check.js")).checkCommand },
  { name: "keystore create", summary: "write a new encrypted JSON keystore", load: async () => (await import("./commands/keystore.js")).keystoreCreateCommand },
  { name: "keystore address", summary: "print a keystore's address (checks its password)", load: async () => (await import("./commands/keystore.js")).keystoreAddressCommand },
  { name: "publish", summary: "publish a training task and unlock its keys on time", load: async () => (await import("./commands/publish.js")).publishCommand },
  { name: "miner", summary: "mine: train models for posted tasks, commit, reveal, withdraw the rewards", load: async () => (await import("./commands/miner.js")).minerCommand },
  { name: "verifier", summary: "validate: stake, score revealed models on committees, attest, withdraw", load: async () => (await import("./commands/verifier.js")).verifierCommand },
  { name: "status", summary: "show the queue, active tasks, the learning chain and an account's balances", load: async () => (await import("./commands/status.js")).statusCommand },
  { name: "withdraw", summary: "withdraw market credits, validator credit and unbonded stake", load: async () => (await import("./commands/withdraw.js")).withdrawCommand },
  { name: "model get", summary: "fetch a settled task's winning model and export it as a TensorFlow.js model", load: async () => (await import("./commands/model.js")).modelGetCommand },
  { name: "predict", summary: "predict with an exported model: one label per CSV row or image", load: async () => (await import("./commands/predict.js")).predictCommand },
  { name: "spec init", summary: "write a starter task spec for a CSV file or an image folder", load: async () => (await import("./commands/spec.js")).specInitCommand },
  { name: "spec check", summary: "validate a task spec file", load: async () => (await import("./commands/spec.js")).specCheckCommand },
  { name: "ipfs add", summary: "add a file or folder to IPFS and print its CID", load: async () => (await import("./commands/ipfs.js")).ipfsAddCommand },
  { name: "ipfs get", summary: "fetch a CID to a file (every block checked against its CID)", load: async () => (await import("./commands/ipfs.js")).ipfsGetCommand },
  { name: "ipfs id", summary: "print the embedded node's multiaddrs (with its peer id), e.g. for PODL_IPFS_BOOTSTRAP", load: async () => (await import("./commands/ipfs.js")).ipfsIdCommand },
  { name: "explorer", summary: "index the market and serve a web explorer (queue, tasks, scores, validators, learning chain)", load: async () => (await import("./commands/explorer.js")).explorerCommand },
];

/** Every command, loaded (tests and docs that need each one's options). */
export async function loadCommands(): Promise<Command[]> {
  return Promise.all(COMMAND_INDEX.map((entry) => entry.load()));
}
