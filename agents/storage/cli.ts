import { parseArgs } from "node:util";
import { EmbeddedStore } from "./embedded.js";
import { openContentStore } from "./index.js";
import type { ContentStore } from "./content-store.js";
import { StorageError, isStorageError } from "./errors.js";

export const IPFS_USAGE = `usage:
  ipfs add <file|folder> [--serve]   add and print the CID; --serve keeps the node up for peers
  ipfs get <cid> <file>              fetch a CID to a file (every block verified)
options:
  --data-dir DIR      embedded node's blocks and keys (default .data/ipfs)
  --ipfs-api URL      use a Kubo node's RPC API instead of the embedded node
  --listen MULTIADDR  embedded node's listen address (default /ip4/127.0.0.1/tcp/0; repeatable)
  --peer MULTIADDR    dial this peer first (repeatable), e.g. /ip4/10.0.0.5/tcp/4001/p2p/12D3…
  --mdns              find peers on the LAN by mDNS
  --max-bytes N       refuse content larger than N bytes (get; default 2 GiB)
  --timeout-ms N      give up when no block arrives for N ms (get; default 30000)`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Resolves when the user asks the process to stop (used by --serve). */
  stopped: () => Promise<void>;
}

/** `podl ipfs …` / scripts/ipfs.ts; returns the exit status. */
export async function runIpfsCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "data-dir": { type: "string", default: ".data/ipfs" },
        "ipfs-api": { type: "string" },
        listen: { type: "string", multiple: true },
        peer: { type: "string", multiple: true },
        mdns: { type: "boolean", default: false },
        serve: { type: "boolean", default: false },
        "max-bytes": { type: "string" },
        "timeout-ms": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n${IPFS_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || command === undefined) {
    io.err(IPFS_USAGE);
    return values.help ? 0 : 2;
  }
  if (!((command === "add" && args.length === 1) || (command === "get" && args.length === 2))) {
    io.err(`unknown command or wrong arguments: ${positionals.join(" ")}\n${IPFS_USAGE}`);
    return 2;
  }
  let store: ContentStore | undefined;
  try {
    const maxBytes = positiveInt(values["max-bytes"], "--max-bytes");
    const timeoutMs = positiveInt(values["timeout-ms"], "--timeout-ms");
    store = await openContentStore({
      dataDir: values["data-dir"],
      ipfsApi: values["ipfs-api"],
      listen: values.listen,
      peers: values.peer,
      mdns: values.mdns,
    });
    if (command === "add") {
      const cid = await store.addPath(args[0]!);
      io.out(cid.toString());
      if (values.serve) {
        if (store instanceof EmbeddedStore) for (const address of store.addresses()) io.err(`serving at ${address}`);
        io.err("serving; Ctrl-C to stop");
        await io.stopped();
      }
    } else {
      const size = await store.getToFile(args[0]!, args[1]!, { maxBytes, timeoutMs });
      io.err(`wrote ${size} bytes to ${args[1]}`);
    }
    return 0;
  } catch (e) {
    if (!isStorageError(e)) throw e;
    io.err(`error ${e.code}: ${e.message}`);
    return 1;
  } finally {
    await store?.close();
  }
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new StorageError("OPTION_INVALID", `${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}
