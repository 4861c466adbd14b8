import { create } from "kubo-rpc-client";
import type { KuboRPCClient } from "kubo-rpc-client";
import type { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { parseCid } from "./cid.js";
import { DEFAULT_TIMEOUT_MS, UnixfsContent } from "./content-store.js";
import type { AddInput, BlockAccess, ContentStore, GetOptions } from "./content-store.js";
import { StorageError, isStorageError } from "./errors.js";

/**
 * ContentStore over a Kubo node's RPC API (`--ipfs-api http://127.0.0.1:5001`). Files are chunked
 * here, by the same importer as the embedded node, and written block by block, so the CIDs do not
 * depend on the Kubo version or its import settings; reads fetch block by block and every block is
 * hashed against its CID (UnixfsContent) before its bytes are used.
 */
export class KuboStore implements ContentStore {
  readonly #client: KuboRPCClient;
  readonly #url: string;
  readonly #content: UnixfsContent;

  constructor(url: string) {
    this.#url = url;
    try {
      this.#client = create({ url });
    } catch (cause) {
      throw new StorageError("STORE_UNAVAILABLE", `not a Kubo RPC URL: ${JSON.stringify(url)}`, { cause, context: { url } });
    }
    this.#content = new UnixfsContent(this.#blocks());
  }

  /** Fails with STORE_UNAVAILABLE unless the RPC answers. */
  async ping(signal: AbortSignal = AbortSignal.timeout(DEFAULT_TIMEOUT_MS)): Promise<void> {
    await this.#rpc("version", () => this.#client.version({ signal }));
  }

  async add(input: AddInput, options: { signal?: AbortSignal } = {}): Promise<CID> {
    const cid = await this.#content.add(input, options);
    // blocks were put unpinned; one recursive pin of the root keeps them from Kubo's GC
    await this.#rpc("pin/add", () => this.#client.pin.add(cid, { recursive: true, signal: options.signal }));
    return cid;
  }

  async addPath(path: string, options: { signal?: AbortSignal } = {}): Promise<CID> {
    const cid = await this.#content.addPath(path, options);
    await this.#rpc("pin/add", () => this.#client.pin.add(cid, { recursive: true, signal: options.signal }));
    return cid;
  }

  get(cid: CID | string, options?: GetOptions): Promise<Uint8Array> {
    return this.#content.get(cid, options);
  }

  stream(cid: CID | string, options?: GetOptions): AsyncIterable<Uint8Array> {
    return this.#content.stream(cid, options);
  }

  getToFile(cid: CID | string, path: string, options?: GetOptions): Promise<number> {
    return this.#content.getToFile(cid, path, options);
  }

  has(cid: CID | string): Promise<boolean> {
    return this.#content.has(cid);
  }

  async pin(cidInput: CID | string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    const cid = parseCid(cidInput);
    const signal = options.signal ?? AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    await this.#rpc("pin/add", () => this.#client.pin.add(cid, { recursive: true, signal }));
  }

  async close(): Promise<void> {
    // the HTTP client holds no connection that outlives a request
  }

  #blocks(): BlockAccess {
    const client = this.#client;
    const rpc = this.#rpc.bind(this);
    return {
      async *get(cid, options) {
        yield await rpc("block/get", () => client.block.get(cid, { signal: options?.signal }));
      },
      async put(cid, bytes, options) {
        let block: Uint8Array;
        if (bytes instanceof Uint8Array) {
          block = bytes;
        } else {
          const parts: Uint8Array[] = [];
          for await (const part of bytes) parts.push(part);
          block = Buffer.concat(parts);
        }
        const stored = await rpc("block/put", () =>
          client.block.put(block, {
            mhtype: "sha2-256",
            signal: options?.signal,
            searchParams: new URLSearchParams({ "cid-codec": cid.code === raw.code ? "raw" : "dag-pb" }),
          }),
        );
        // Kubo hashed the bytes itself; its multihash must be ours
        if (!Buffer.from(stored.multihash.bytes).equals(cid.multihash.bytes)) {
          throw new StorageError("CID_MISMATCH", `Kubo stored block ${cid} as ${stored}`, { context: { cid: cid.toString(), stored: stored.toString() } });
        }
        return cid;
      },
      async has(cid, options) {
        try {
          // offline: answer from the local repo instead of searching the network
          await client.block.stat(cid, { signal: options?.signal, searchParams: new URLSearchParams({ offline: "true" }) });
          return true;
        } catch (e) {
          // Kubo answers a missing block with "... not found locally (offline)"; anything else is the RPC failing
          if (/not found/i.test((e as Error).message)) return false;
          throw new StorageError("STORE_UNAVAILABLE", `Kubo RPC block/stat failed: ${(e as Error).message}`, { cause: e });
        }
      },
    };
  }

  async #rpc<T>(command: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (cause) {
      if (isStorageError(cause)) throw cause;
      throw new StorageError("STORE_UNAVAILABLE", `Kubo RPC ${command} at ${this.#url} failed: ${(cause as Error).message}`, {
        cause,
        context: { url: this.#url, command },
      });
    }
  }
}
