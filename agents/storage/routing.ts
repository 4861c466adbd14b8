import { kadDHT, MessageType, passthroughMapper, type KadDHT } from "@libp2p/kad-dht";
import { ping } from "@libp2p/ping";
import type { Libp2p, PeerInfo } from "@libp2p/interface";
import { Key, type Datastore } from "interface-datastore";
import { CID } from "multiformats/cid";

/**
 * Content routing among the agents: a Kademlia DHT of their own (PoDL's protocol id, not the public
 * IPFS DHT's), where each node announces the roots it adds or pins and looks up the providers of a
 * root it does not hold. Every agent is a DHT server, and addresses are kept as they are: loopback
 * and private addresses are what a single host or a LAN dials (libp2p's default mapper drops them).
 */
export const DHT_PROTOCOL = "/podl/kad/1.0.0";

/** libp2p services the DHT needs (it pings peers before it keeps them). */
export function routingServices() {
  return {
    ping: ping(),
    dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper }),
  };
}

/** Announced roots are kept in the node's datastore, so a node that restarts (on a new port, say) announces them again. */
const ANNOUNCED = "/podl/announced";
/** One announcement's limit: a lookup waits for a first peer in the routing table. */
const ANNOUNCE_TIMEOUT_MS = 60_000;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/** Between two provider lookups while a fetch waits. */
const LOOKUP_INTERVAL_MS = 3_000;
/**
 * Before a fetch looks its root up: bitswap asks the connected peers at once, and one of them
 * usually holds it. A lookup per fetch from the start doubled the time of a validator's
 * checkpoint fetches between connected nodes (docs/storage.md, "Routing costs").
 */
const LOOKUP_GRACE_MS = 1_000;
/**
 * Provider records written at once. Each is a DHT query, tens of milliseconds of CPU across the
 * peers; a miner adds a checkpoint every few milliseconds, and announcing all 177 of an MNIST run at
 * once made each add ten times slower. The newest root waiting goes first: it is the one about to
 * be asked for (an artifact after its checkpoints, a task document after its shards).
 */
const ANNOUNCE_CONCURRENCY = 2;
/** Announcements start once no root was added for this long: a burst of adds (an upload) runs first. */
const ANNOUNCE_QUIET_MS = 500;

type DhtNode = Libp2p<{ dht: KadDHT }>;

export class ContentRouting {
  readonly #libp2p: DhtNode;
  readonly #datastore: Datastore;
  readonly #closing: AbortSignal;
  /** Announcements in flight, awaited on close. */
  readonly #pending = new Set<Promise<number>>();
  /** Provide attempts running, and those waiting for a slot (the last waiting is served first). */
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  #lastAnnounced = 0;

  constructor(libp2p: Libp2p, datastore: Datastore, closing: AbortSignal) {
    this.#libp2p = libp2p as DhtNode;
    this.#datastore = datastore;
    this.#closing = closing;
    // on close, waiting attempts run at once and end on the aborted signal
    closing.addEventListener("abort", () => this.#waiting.splice(0).forEach((go) => go()), { once: true });
  }

  /**
   * Records `cid` as ours and tells the DHT, in the background, retrying with back-off until at least
   * one peer took the provider record (or the node closes). Resolves to the number of peers that took it.
   */
  announce(cid: CID): Promise<number> {
    this.#lastAnnounced = performance.now();
    const job = (async () => {
      // remembered for the next start only: a read-only or full disk must not stop the announcement
      await Promise.resolve(this.#datastore.put(new Key(`${ANNOUNCED}/${cid.toString()}`), new Uint8Array())).catch(() => undefined);
      return await this.#provideUntilTaken(cid);
    })();
    this.#pending.add(job);
    void job.finally(() => this.#pending.delete(job)).catch(() => undefined);
    return job;
  }

  /** Announces again every root this node announced before (at start: its address may be new). */
  async reannounce(): Promise<void> {
    for await (const key of this.#datastore.queryKeys({ prefix: ANNOUNCED })) {
      let cid: CID;
      try {
        cid = CID.parse(key.baseNamespace());
      } catch {
        continue; // not written by announce(): nothing to announce
      }
      void this.announce(cid).catch(() => undefined);
    }
  }

  async #provideUntilTaken(cid: CID): Promise<number> {
    for (let quiet = 0; quiet < ANNOUNCE_QUIET_MS && !this.#closing.aborted; quiet = performance.now() - this.#lastAnnounced) {
      await sleep(ANNOUNCE_QUIET_MS - quiet, this.#closing);
    }
    for (let attempt = 0; !this.#closing.aborted; attempt++) {
      const signal = AbortSignal.any([this.#closing, AbortSignal.timeout(ANNOUNCE_TIMEOUT_MS)]);
      let taken = 0;
      const release = await this.#slot();
      try {
        for await (const event of this.#libp2p.services.dht.provide(cid, { signal })) {
          if (event.name === "PEER_RESPONSE" && event.messageType === MessageType.ADD_PROVIDER) taken++;
        }
      } catch {
        taken = 0; // no peer yet, or all dropped: try again after the back-off
      } finally {
        release();
      }
      if (taken > 0) return taken;
      await sleep(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt), this.#closing);
    }
    return 0;
  }

  /** Waits for one of ANNOUNCE_CONCURRENCY slots; the returned function hands it to the newest waiting. */
  async #slot(): Promise<() => void> {
    if (this.#running < ANNOUNCE_CONCURRENCY) this.#running++;
    else await new Promise<void>((go) => this.#waiting.push(go)); // handed a running slot
    return () => {
      const next = this.#waiting.pop();
      if (next !== undefined) next();
      else this.#running--;
    };
  }

  /**
   * While `signal` is open, after a grace second, looks up the providers of `cid` every few seconds and dials those not
   * connected: bitswap sends its want list to a peer as soon as it connects. Lookup and dial
   * failures are expected (no record yet, a provider gone) and end only that round.
   */
  async seek(cid: CID, signal: AbortSignal): Promise<void> {
    const self = this.#libp2p.peerId;
    await sleep(LOOKUP_GRACE_MS, signal);
    while (!signal.aborted) {
      try {
        for await (const provider of this.#libp2p.contentRouting.findProviders(cid, { signal })) {
          if (provider.id.equals(self) || this.#libp2p.getConnections(provider.id).length > 0) continue;
          // libp2p has put the provider's addresses in its peer store
          await this.#libp2p.dial(provider.id, { signal }).catch(() => undefined);
        }
      } catch {
        // the lookup ended early (no peer, aborted): the next round tries again
      }
      await sleep(LOOKUP_INTERVAL_MS, signal);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}

/**
 * Dials each peer a discovery service reports (mDNS on a LAN) while not connected to it: libp2p
 * reports discovered peers but no longer dials them by itself.
 */
export function dialDiscovered(libp2p: Libp2p, closing: AbortSignal): void {
  const dial = (event: CustomEvent<PeerInfo>) => {
    const peer = event.detail;
    if (closing.aborted || libp2p.getConnections(peer.id).length > 0) return;
    void libp2p.dial(peer.id, { signal: AbortSignal.any([closing, AbortSignal.timeout(ANNOUNCE_TIMEOUT_MS)]) }).catch(() => undefined);
  };
  libp2p.addEventListener("peer:discovery", dial);
  closing.addEventListener("abort", () => libp2p.removeEventListener("peer:discovery", dial), { once: true });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
