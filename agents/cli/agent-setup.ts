import { join } from "node:path";
import type { AgentRuntime } from "../core/runtime.js";
import { AgentError } from "../config/errors.js";
import { selectBackend, type BackendName } from "../ml/backend.js";
import { isMlError } from "../ml/errors.js";
import { EmbeddedStore, openContentStore, type ContentStore } from "../storage/index.js";

/** What the training agents (miner, verifier) share at start: a TensorFlow.js backend and an IPFS store. */

/** The backend (`force` from --backend, else the first that works); a refused one is CONFIG_INVALID. */
export async function chooseBackend(force: BackendName | undefined, rt: AgentRuntime): Promise<BackendName> {
  try {
    return (await selectBackend({ ...(force === undefined ? {} : { force }), log: rt.log })).name;
  } catch (e) {
    if (!isMlError(e)) throw e;
    throw new AgentError("CONFIG_INVALID", `--backend ${force}: ${e.message} [${e.code}]`, { cause: e, context: { mlCode: e.code } });
  }
}

export interface StoreFlags {
  dataDir: string;
  ipfsApi?: string | undefined;
  ipfsListen?: string | undefined;
  ipfsPeers?: string | undefined;
}

/**
 * Kubo when --ipfs-api is set, else an embedded node in `<data-dir>/<folder>` that joins the agents'
 * network through `bootstrap` (the address book's) and dials --ipfs-peers.
 */
export async function openAgentStore(config: StoreFlags, folder: string, rt: AgentRuntime, bootstrap: readonly string[] = []): Promise<ContentStore> {
  const store = await openContentStore({
    dataDir: join(config.dataDir, folder),
    bootstrap: [...bootstrap],
    ...(config.ipfsApi !== undefined ? { ipfsApi: config.ipfsApi } : {}),
    ...(config.ipfsListen !== undefined ? { listen: config.ipfsListen.split(",") } : {}),
  });
  if (store instanceof EmbeddedStore) {
    rt.log.info({ peerId: store.peerId(), addresses: store.addresses() }, "embedded IPFS node started");
    if (config.ipfsPeers !== undefined) await dialAll(store, config.ipfsPeers.split(","), rt);
  }
  return store;
}

/** Dials each peer; one that does not answer is a warning (it may come up later, or not be needed). */
export async function dialAll(store: EmbeddedStore, addresses: readonly string[], rt: AgentRuntime): Promise<void> {
  for (const address of addresses) {
    try {
      await store.dial(address.trim());
    } catch (e) {
      rt.log.warn({ address, err: (e as Error).message }, "could not dial an IPFS peer");
    }
  }
}
