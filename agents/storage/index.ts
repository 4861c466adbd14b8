import { EmbeddedStore } from "./embedded.js";
import type { EmbeddedStoreOptions } from "./embedded.js";
import type { ContentStore } from "./content-store.js";

export { CID, IMPORT_OPTIONS, parseCid, verifyBlock } from "./cid.js";
export { DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_MS } from "./content-store.js";
export type { AddInput, ContentStore, GetOptions } from "./content-store.js";
export { EmbeddedStore } from "./embedded.js";
export type { EmbeddedStoreOptions } from "./embedded.js";
export type { KuboStore } from "./kubo.js";
export { STORAGE_ERROR_CODES, StorageError, isStorageError } from "./errors.js";
export type { StorageErrorCode } from "./errors.js";

export interface OpenStoreOptions extends EmbeddedStoreOptions {
  /** Kubo RPC URL (`--ipfs-api`); when set, no embedded node is started. */
  ipfsApi?: string;
}

/**
 * The embedded node by default; Kubo's RPC when `ipfsApi` is given (checked to answer). Kubo's
 * client is loaded only then: it weighs ~50 MB resident that an agent on the embedded node never uses.
 */
export async function openContentStore(options: OpenStoreOptions): Promise<ContentStore> {
  if (options.ipfsApi !== undefined) {
    const { KuboStore } = await import("./kubo.js");
    const kubo = new KuboStore(options.ipfsApi);
    await kubo.ping();
    return kubo;
  }
  return await EmbeddedStore.open(options);
}
