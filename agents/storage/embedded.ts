import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { withBitswap } from "@helia/bitswap";
import type { HeliaWithLibp2p } from "@helia/libp2p";
import { createLibp2p } from "libp2p";
import type { Libp2pOptions } from "libp2p";
import type { ServiceMap } from "@libp2p/interface";
import { loadOrCreateSelfKey } from "@libp2p/config";
import type { Helia, HeliaInit } from "helia";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { mdns } from "@libp2p/mdns";
import { multiaddr } from "@multiformats/multiaddr";
import { FsBlockstore } from "blockstore-fs";
import { NextToLast } from "blockstore-fs/sharding";
import { NotFoundError } from "interface-store";
import { FsDatastore } from "datastore-fs";
import { MemoryDatastore } from "datastore-core";
import type { CID } from "multiformats/cid";
import { parseCid } from "./cid.js";
import { DEFAULT_TIMEOUT_MS, UnixfsContent, wrapWriteError } from "./content-store.js";
import type { AddInput, ContentStore, GetOptions } from "./content-store.js";
import { StorageError, fsErrorCode, isStorageError } from "./errors.js";
import { ContentRouting, dialDiscovered, routingServices } from "./routing.js";

export interface EmbeddedStoreOptions {
  /** Blocks go to `<dataDir>/blocks`, the node's key and pins to `<dataDir>/datastore`. */
  dataDir: string;
  /** libp2p listen multiaddrs; loopback on a random port by default. Use /ip4/0.0.0.0/tcp/4001 to serve a LAN. */
  listen?: string[];
  /** Peers to dial at start (e.g. the publisher's address from the task spec), as /ip4/…/tcp/…/p2p/<id>. */
  peers?: string[];
  /** How often peers given to `dial` that are not connected are dialled again (ms); default 5000. */
  redialIntervalMs?: number;
  /**
   * Nodes that introduce this one to the others (the address book's `bootstrap`): dialled at start
   * and again whenever not connected, like `peers`, but one that does not answer is not an error.
   */
  bootstrap?: string[];
  /** Local discovery by mDNS; default: on when a listen address is not loopback (the node serves a LAN). */
  mdns?: boolean;
}

/**
 * blockstore-fs with one change: a block is read with one readFile (one allocation, one or two
 * syscalls) instead of a stream of 64 KiB chunks that is then concatenated. Serving 1 MiB blocks,
 * the stream cost a fifth of the server's CPU in buffer churn and the garbage collection it caused.
 */
class BlockFiles extends FsBlockstore {
  readonly #sharding = new NextToLast();

  constructor(location: string) {
    super(location, { shardingStrategy: new NextToLast() });
  }

  override async *get(key: CID, options?: { signal?: AbortSignal }): AsyncGenerator<Uint8Array> {
    const { dir, file } = this.#sharding.encode(key);
    try {
      yield await readFile(join(this.path, dir, file), { signal: options?.signal });
    } catch (e) {
      throw new NotFoundError(String(e));
    }
  }
}

const DEFAULT_REDIAL_INTERVAL_MS = 5_000;
/** How long the start waits for each bootstrap node. */
const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000;
/** A redial round's limit: a peer on a host that drops packets must not hold the next round back for long. */
const REDIAL_TIMEOUT_MS = 10_000;

/** The default ContentStore: a Helia node with blocks on disk, speaking bitswap over libp2p TCP. */
export class EmbeddedStore implements ContentStore {
  readonly #helia: Awaited<ReturnType<typeof startHelia>>;
  readonly #content: UnixfsContent;
  readonly #routing: ContentRouting;
  readonly #blocksDir: string;
  /** Every address given to `dial`, by the peer id it names (an address without one is not kept). */
  readonly #peers = new Map<string, string>();
  readonly #closing = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #redialing: Promise<void> | undefined;

  private constructor(helia: Awaited<ReturnType<typeof startHelia>>, options: EmbeddedStoreOptions) {
    this.#helia = helia;
    this.#content = new UnixfsContent(helia.blockstore);
    this.#routing = new ContentRouting(helia.libp2p, helia.datastore, this.#closing.signal);
    if (discoversByMdns(options)) dialDiscovered(helia.libp2p, this.#closing.signal);
    this.#blocksDir = join(options.dataDir, "blocks");
    this.#timer = setInterval(() => this.#redial(), options.redialIntervalMs ?? DEFAULT_REDIAL_INTERVAL_MS).unref();
  }

  static async open(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    const helia = await startHelia(options);
    const store = new EmbeddedStore(helia, options);
    try {
      for (const peer of options.peers ?? []) await store.dial(peer);
    } catch (e) {
      await store.close();
      throw e;
    }
    await store.#joinNetwork(options.bootstrap ?? []);
    return store;
  }

  /**
   * Dials the bootstrap nodes (not this node itself, which may be one of them) and announces again
   * what this node announced before; a bootstrap node that does not answer is dialled again later.
   */
  async #joinNetwork(bootstrap: readonly string[]): Promise<void> {
    const self = this.peerId();
    const others = bootstrap.filter((a) => !a.endsWith(`/p2p/${self}`));
    // a bootstrap node that is down or unreachable must not hold the start back: it is redialled later
    await Promise.allSettled(others.map((address) => this.dial(address, { signal: AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS) })));
    void this.#routing.reannounce();
  }

  /** Multiaddrs other nodes can dial, each ending in /p2p/<peer id>. */
  addresses(): string[] {
    return this.#helia.libp2p.getMultiaddrs().map((a) => a.toString());
  }

  peerId(): string {
    return this.#helia.libp2p.peerId.toString();
  }

  /**
   * Connects to a peer, and keeps its address: while that peer is not connected (it was down, came
   * up late, or the connection dropped), it is dialled again before each fetch and every
   * `redialIntervalMs`, in the background, so a fetch reaches a peer that comes up after the start.
   * A failed dial still throws here (the caller decides whether that is fatal).
   */
  async dial(address: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    let addr;
    try {
      addr = multiaddr(address);
    } catch (cause) {
      throw new StorageError("STORE_UNAVAILABLE", `not a multiaddr: ${JSON.stringify(address)}`, { cause, context: { address } });
    }
    // The last /p2p component names the peer (one before it would be a relay).
    const peerId = addr.getComponents().findLast((c) => c.name === "p2p")?.value;
    if (peerId !== undefined) this.#peers.set(peerId, address);
    try {
      await this.#helia.libp2p.dial(addr, { signal: options.signal ?? AbortSignal.timeout(DEFAULT_TIMEOUT_MS) });
    } catch (cause) {
      throw new StorageError("STORE_UNAVAILABLE", `could not dial ${address}: ${(cause as Error).message}`, { cause, context: { address } });
    }
  }

  /** Adds and announces the root in the DHT (in the background). */
  async add(input: AddInput, options?: { signal?: AbortSignal }): Promise<CID> {
    return this.#announced(await this.#diagnose(() => this.#content.add(input, options)));
  }

  async addPath(path: string, options?: { signal?: AbortSignal }): Promise<CID> {
    return this.#announced(await this.#diagnose(() => this.#content.addPath(path, options)));
  }

  #announced(cid: CID): CID {
    void this.#routing.announce(cid).catch(() => undefined);
    return cid;
  }

  /** Resolves once the DHT holds at least one provider record of `cid` from this node (the number of peers that took it). */
  announce(cidInput: CID | string): Promise<number> {
    return this.#routing.announce(parseCid(cidInput));
  }

  /**
   * Unless `cid` is here already, looks its providers up in the DHT and dials them until the
   * returned function is called (when the fetch has ended).
   */
  async #lookUp(cid: CID | string): Promise<() => void> {
    const parsed = parseCid(cid);
    if (await this.#content.has(parsed)) return () => undefined;
    const fetched = new AbortController();
    void this.#routing.seek(parsed, AbortSignal.any([fetched.signal, this.#closing.signal]));
    return () => fetched.abort();
  }

  /**
   * blockstore-fs keeps only the message of a failed write, and on some file systems a read-only
   * mount shows up as ENOENT from mkdir; when a write fails for a reason we cannot read, try a write
   * of our own to find out whether the disk is read-only or full.
   */
  async #diagnose<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      if (!isStorageError(e, "IO_FAILED")) throw e;
      const probe = join(this.#blocksDir, `.probe-${process.pid}`);
      try {
        await writeFile(probe, new Uint8Array(64 * 1024));
        await rm(probe, { force: true });
      } catch (cause) {
        const code = fsErrorCode(cause);
        if (code !== undefined) throw wrapWriteError(cause, "add");
      }
      throw e;
    }
  }

  /**
   * Dials the kept peers that are not connected, all at once, without waiting: bitswap sends its
   * want list to a peer as soon as it connects. One round at a time; failures are expected (a peer
   * still down) and ignored until the next round.
   */
  #redial(): void {
    if (this.#redialing !== undefined || this.#closing.signal.aborted) return;
    const connected = new Set(this.#helia.libp2p.getConnections().map((c) => c.remotePeer.toString()));
    const down = [...this.#peers].filter(([peerId]) => !connected.has(peerId)).map(([, address]) => address);
    if (down.length === 0) return;
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(REDIAL_TIMEOUT_MS)]);
    this.#redialing = Promise.allSettled(down.map((a) => this.#helia.libp2p.dial(multiaddr(a), { signal }))).then(() => {
      this.#redialing = undefined;
    });
  }

  async get(cid: CID | string, options?: GetOptions): Promise<Uint8Array> {
    this.#redial();
    const stop = await this.#lookUp(cid);
    try {
      return await this.#content.get(cid, options);
    } finally {
      stop();
    }
  }

  async *stream(cid: CID | string, options?: GetOptions): AsyncIterable<Uint8Array> {
    this.#redial();
    const stop = await this.#lookUp(cid);
    try {
      yield* this.#content.stream(cid, options);
    } finally {
      stop();
    }
  }

  async getToFile(cid: CID | string, path: string, options?: GetOptions): Promise<number> {
    this.#redial();
    const stop = await this.#lookUp(cid);
    try {
      return await this.#content.getToFile(cid, path, options);
    } finally {
      stop();
    }
  }

  has(cid: CID | string): Promise<boolean> {
    return this.#content.has(cid);
  }

  async pin(cidInput: CID | string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    const cid = parseCid(cidInput);
    const signal = options.signal ?? AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.#redial();
    const stop = await this.#lookUp(cid);
    try {
      if (await this.#helia.pins.isPinned(cid, { signal })) return;
      for await (const _ of this.#helia.pins.add(cid, { signal }));
    } catch (e) {
      if (signal.aborted) throw new StorageError("NOT_FOUND", `could not fetch all of ${cid} to pin it in time`, { cause: e, context: { cid: cid.toString() } });
      throw wrapWriteError(e, `pin ${cid}`);
    } finally {
      stop();
    }
    // a pinned root is served for good: say so
    this.#announced(cid);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#closing.abort();
    await this.#redialing;
    await this.#routing.close();
    await this.#helia.stop();
  }
}

/**
 * `new Helia(init)`, which is all `createHeliaLight` does, taken from helia's own module instead of its
 * entry point: helia's entry point imports @helia/libp2p and @helia/http for `createHelia`, and with them
 * libp2p's whole default stack (DHT, WebRTC, AutoTLS, relays): 27 MB of heap that every full garbage
 * collection marks (bench/storage.ts: ~60 MB less RSS). The path is checked by every storage test.
 */
let heliaClass: Promise<new (init: HeliaInit & { name: string; version: string }) => Helia> | undefined;
async function createHeliaLight(init: HeliaInit): Promise<Helia> {
  heliaClass ??= (async () => {
    const dir = dirname(createRequire(import.meta.url).resolve("helia"));
    const loaded = (await import(pathToFileURL(join(dir, "helia.js")).href)) as { Helia?: unknown };
    if (typeof loaded.Helia !== "function") {
      throw new StorageError("STORE_UNAVAILABLE", `helia's Helia class is not in ${join(dir, "helia.js")} (helia upgraded?)`);
    }
    return loaded.Helia as new (init: HeliaInit & { name: string; version: string }) => Helia;
  })();
  const HeliaClass = await heliaClass;
  return new HeliaClass({ name: "helia", version: "7", ...init });
}

/**
 * What @helia/libp2p's withLibp2pLight does (the node's key from Helia's datastore, libp2p started and
 * stopped with Helia), without importing @helia/libp2p (see createHeliaLight).
 */
function withLibp2p<S extends ServiceMap>(helia: Helia, options: Libp2pOptions<S>): HeliaWithLibp2p {
  let libp2p: Awaited<ReturnType<typeof createLibp2p>> | undefined;
  Object.defineProperty(helia, "libp2p", {
    enumerable: true,
    get() {
      if (libp2p === undefined) throw new Error("the IPFS node is not started");
      return libp2p;
    },
  });
  helia.addMixin({
    name: "libp2p",
    start: async (started) => {
      libp2p ??= await createLibp2p({ ...options, privateKey: await loadOrCreateSelfKey(started.datastore) });
      await libp2p.start();
    },
    stop: async () => {
      await libp2p?.stop();
    },
  });
  return helia as HeliaWithLibp2p;
}

async function startHelia(options: EmbeddedStoreOptions) {
  const blocks = join(options.dataDir, "blocks");
  const data = join(options.dataDir, "datastore");
  try {
    await mkdir(blocks, { recursive: true });
    await mkdir(data, { recursive: true });
  } catch (e) {
    throw new StorageError(fsErrorCode(e) ?? "STORE_UNAVAILABLE", `cannot use data directory ${options.dataDir}: ${(e as Error).message}`, {
      cause: e,
      context: { dataDir: options.dataDir },
    });
  }
  const helia = withBitswap(
    withLibp2p(await createHeliaLight({ blockstore: new BlockFiles(blocks), datastore: new FsDatastore(data) }), {
      addresses: { listen: options.listen ?? ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      // yamux and bitswap keep their defaults: a yamux initial window above the spec's 256 KiB is
      // assumed, not negotiated, and would overrun a Kubo peer's; wider windows granted by update, and
      // other bitswap message sizes, debounce and read-ahead values measured no better (docs/storage.md)
      streamMuxers: [yamux()],
      peerDiscovery: discoversByMdns(options) ? [mdns()] : [],
      services: { identify: identify(), ...routingServices() },
      // peer and DHT records stay in memory: peers come from the address book, the task document, the
      // DHT or mDNS, and a read-only or full data directory must not stop the node from starting or serving
      datastore: new MemoryDatastore(),
    }),
  );
  try {
    await helia.start();
  } catch (e) {
    await helia.stop().catch(() => undefined);
    throw new StorageError(fsErrorCode(e) ?? "STORE_UNAVAILABLE", `IPFS node did not start in ${options.dataDir}: ${(e as Error).message}`, {
      cause: e,
      context: { dataDir: options.dataDir },
    });
  }
  return helia;
}

/** `mdns` when given, else whether a listen address is not loopback (e.g. /ip4/0.0.0.0/tcp/4001): the node serves a LAN. */
function discoversByMdns(options: EmbeddedStoreOptions): boolean {
  return options.mdns ?? (options.listen ?? []).some((a) => !/^\/ip4\/127\.|^\/ip6\/::1\//.test(a));
}
