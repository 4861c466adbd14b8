import { once } from "node:events";
import { join } from "node:path";
import { DEFAULT_DATA_DIR } from "../../config/schema.js";
import type { Command, CommandInput, OptionSpec } from "../command.js";
import { DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_MS } from "../../storage/content-store.js";
import type { ContentStore } from "../../storage/content-store.js";
import { EmbeddedStore } from "../../storage/embedded.js";
import { StorageError, isStorageError } from "../../storage/errors.js";
import { openContentStore } from "../../storage/index.js";

/** Where `podl ipfs` keeps its embedded node unless told otherwise. */
export const IPFS_CLI_DIR = join(DEFAULT_DATA_DIR, "ipfs");

const STORE_OPTIONS: Record<string, OptionSpec> = {
  "ipfs-dir": { type: "string", description: `embedded node's blocks and key (default ${IPFS_CLI_DIR})`, value: "dir" },
  "ipfs-api": { type: "string", description: "use a Kubo node's RPC API instead of the embedded node", value: "url" },
  "ipfs-listen": { type: "string", description: "embedded node's libp2p listen addresses, comma-separated (default loopback, random port)", value: "multiaddrs" },
  "ipfs-peers": { type: "string", description: "peers to dial first, comma-separated, e.g. /ip4/10.0.0.5/tcp/4001/p2p/12D3…", value: "multiaddrs" },
  mdns: { type: "boolean", description: "find peers on the LAN by mDNS" },
};

/** `podl ipfs add <file|folder>`: prints the CID; with --serve, keeps the node up so peers can fetch it. */
export const ipfsAddCommand: Command = {
  name: "ipfs add",
  summary: "add a file or folder to IPFS and print its CID",
  description:
    "Adds a file (the CID of its bytes) or a folder (a UnixFS directory of everything under it) with PoDL's chunking (1 MiB raw leaves, CIDv1), so the CID is the one every PoDL node computes. Prints the CID on standard output. With --serve the node stays up, printing its addresses, until Ctrl-C.",
  args: "<file|folder>",
  options: { ...STORE_OPTIONS, serve: { type: "boolean", description: "keep the node running so peers can fetch the content" } },
  async run(input) {
    if (input.positionals.length !== 1) return usage(input, ipfsAddCommand, `expected one file or folder, got ${input.positionals.length} arguments`);
    return await withStore(input, ipfsAddCommand, async (store) => {
      const cid = await store.addPath(input.positionals[0]!);
      input.io.out(cid.toString());
      if (input.values.serve === true) {
        if (store instanceof EmbeddedStore) for (const address of store.addresses()) input.io.err(`serving at ${address}`);
        input.io.err("serving; Ctrl-C to stop");
        await Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
      }
    });
  },
};

/** `podl ipfs get <cid> <file>`: streams the content to a file, every block checked against its CID. */
export const ipfsGetCommand: Command = {
  name: "ipfs get",
  summary: "fetch a CID to a file (every block checked against its CID)",
  description:
    "Fetches a UnixFS file by CID from the peers given (or the Kubo node) and streams it to <file>, through <file>.partial, renamed only when complete and verified. Fails rather than write more than --max-bytes, and when no block arrives for --timeout-ms.",
  args: "<cid> <file>",
  options: {
    ...STORE_OPTIONS,
    "max-bytes": { type: "string", description: `refuse content larger than this (default ${DEFAULT_MAX_BYTES})`, value: "bytes" },
    "timeout-ms": { type: "string", description: `give up when no block arrives for this long (default ${DEFAULT_TIMEOUT_MS})`, value: "ms" },
  },
  async run(input) {
    if (input.positionals.length !== 2) return usage(input, ipfsGetCommand, `expected <cid> <file>, got ${input.positionals.length} arguments`);
    const [cid, path] = input.positionals as [string, string];
    let limits: { maxBytes?: number; timeoutMs?: number };
    try {
      limits = { maxBytes: positiveInt(input.values["max-bytes"], "--max-bytes"), timeoutMs: positiveInt(input.values["timeout-ms"], "--timeout-ms") };
    } catch (e) {
      return usage(input, ipfsGetCommand, (e as Error).message);
    }
    return await withStore(input, ipfsGetCommand, async (store) => {
      const size = await store.getToFile(cid, path, limits);
      input.io.err(`wrote ${size} bytes to ${path}`);
    });
  },
};

/**
 * `podl ipfs id`: the embedded node's multiaddrs (creating its key on first use), comma-separated on
 * one line: what the deploy script's PODL_IPFS_BOOTSTRAP takes, before the node's agent ever ran.
 */
export const ipfsIdCommand: Command = {
  name: "ipfs id",
  summary: "print the embedded node's multiaddrs (with its peer id), e.g. for PODL_IPFS_BOOTSTRAP",
  description:
    "Starts the embedded node in --ipfs-dir (creating its key the first time) on --ipfs-listen, prints its multiaddrs, each ending in /p2p/<peer id>, comma-separated on one line, and stops it. An agent later started on the same folder and listen address has these addresses: name them in the address book (PODL_IPFS_BOOTSTRAP=… npm run deploy) and the other agents join through that node.",
  args: "",
  options: { "ipfs-dir": STORE_OPTIONS["ipfs-dir"]!, "ipfs-listen": STORE_OPTIONS["ipfs-listen"]! },
  async run(input) {
    if (input.positionals.length !== 0) return usage(input, ipfsIdCommand, `expected no arguments, got ${input.positionals.length}`);
    return await withStore(input, ipfsIdCommand, async (store) => {
      if (store instanceof EmbeddedStore) input.io.out(store.addresses().join(","));
    });
  },
};

function usage({ io }: CommandInput, command: Command, why: string): number {
  io.err(`podl ${command.name}: ${why}; see podl ${command.name} --help`);
  return 2;
}

/** Opens the store the flags name, runs `work`, closes it; a StorageError is reported with its code (exit status 1). */
async function withStore({ values, io }: CommandInput, command: Command, work: (store: ContentStore) => Promise<void>): Promise<number> {
  const list = (value: unknown) => (typeof value === "string" ? value.split(",").map((s) => s.trim()).filter((s) => s.length > 0) : undefined);
  let store: ContentStore | undefined;
  try {
    store = await openContentStore({
      dataDir: typeof values["ipfs-dir"] === "string" ? values["ipfs-dir"] : IPFS_CLI_DIR,
      ...(typeof values["ipfs-api"] === "string" ? { ipfsApi: values["ipfs-api"] } : {}),
      ...(list(values["ipfs-listen"]) !== undefined ? { listen: list(values["ipfs-listen"]) } : {}),
      peers: list(values["ipfs-peers"]) ?? [],
      mdns: values.mdns === true,
    });
    await work(store);
    return 0;
  } catch (e) {
    if (!isStorageError(e)) throw e;
    io.err(`podl ${command.name}: ${e.message} [${e.code}]`);
    return 1;
  } finally {
    await store?.close();
  }
}

function positiveInt(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== "string" || !Number.isSafeInteger(n) || n <= 0) {
    throw new StorageError("OPTION_INVALID", `${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}
