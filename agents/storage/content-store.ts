import { createReadStream, createWriteStream } from "node:fs";
import { readdir, rename, rm, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { once } from "node:events";
import { unixfs } from "@helia/unixfs";
import * as dagPb from "@ipld/dag-pb";
import { UnixFS as UnixFSData } from "ipfs-unixfs";
import * as raw from "multiformats/codecs/raw";
import type { UnixFS } from "@helia/unixfs";
import type { Blockstore } from "interface-blockstore";
import type { CID } from "multiformats/cid";
import { IMPORT_OPTIONS, parseCid, verifyBlock } from "./cid.js";
import { StorageError, fsErrorCode, isStorageError } from "./errors.js";

export type AddInput = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface GetOptions {
  /** Largest content accepted, in bytes; bigger content fails with TOO_LARGE before or while it streams. */
  maxBytes?: number;
  /**
   * Longest wait for the next block, in ms: a CID no peer has fails with NOT_FOUND after this long, a
   * transfer that stalls part-way (peer gone) with INCOMPLETE. A transfer that keeps moving never times out;
   * bound the total time with `signal`.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called after each piece with the bytes delivered so far and the total size. */
  onProgress?: (bytes: number, total: number) => void;
}

/** Content-addressed bytes: add returns the CID (see cid.ts for the chunking), get verifies every block. */
export interface ContentStore {
  add(input: AddInput, options?: { signal?: AbortSignal }): Promise<CID>;
  /** Adds a file (its content's CID) or a folder (a UnixFS directory of everything under it). */
  addPath(path: string, options?: { signal?: AbortSignal }): Promise<CID>;
  /** Whole content in memory; for specs and shards. Use `stream` or `getToFile` for big content. */
  get(cid: CID | string, options?: GetOptions): Promise<Uint8Array>;
  /** The content in order, with the running byte cap applied. */
  stream(cid: CID | string, options?: GetOptions): AsyncIterable<Uint8Array>;
  /** Streams the content to `path` (written to `path.partial`, renamed when complete); returns its size. */
  getToFile(cid: CID | string, path: string, options?: GetOptions): Promise<number>;
  /** Whether the root block is stored locally (does not touch the network). */
  has(cid: CID | string): Promise<boolean>;
  /** Fetches every block of the DAG if needed and keeps it from garbage collection. */
  pin(cid: CID | string, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BYTES = 2 ** 31;
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Blocks requested ahead of the one being written: enough to keep bitswap busy, bounded so memory is too. */
export const READ_AHEAD_BLOCKS = 16;

/** The blocks a store reads and writes; both backends present their storage this way. */
export type BlockAccess = Pick<Blockstore, "get" | "put" | "has">;

/**
 * UnixFS add and get over a block store, shared by the embedded and Kubo backends. Adding goes
 * through Helia's importer; reading walks the DAG here, and every block read is hashed against its
 * CID here, whatever the backend already checked.
 */
export class UnixfsContent {
  readonly #blocks: BlockAccess;
  readonly #fs: UnixFS;

  constructor(blocks: BlockAccess) {
    this.#blocks = blocks;
    this.#fs = unixfs({ blockstore: blocks });
  }

  async add(input: AddInput, options: { signal?: AbortSignal } = {}): Promise<CID> {
    try {
      if (input instanceof Uint8Array) return await this.#fs.addBytes(input, { ...IMPORT_OPTIONS, signal: options.signal });
      return await this.#fs.addByteStream(toAsync(input), { ...IMPORT_OPTIONS, signal: options.signal });
    } catch (e) {
      throw wrapWriteError(e, "add");
    }
  }

  async addPath(path: string, options: { signal?: AbortSignal } = {}): Promise<CID> {
    let info;
    try {
      info = await stat(path);
    } catch (e) {
      throw new StorageError("IO_FAILED", `cannot read ${path}: ${(e as Error).message}`, { cause: e, context: { path } });
    }
    if (!info.isDirectory()) return await this.add(createReadStream(path), options);
    let root: CID | undefined;
    try {
      for await (const entry of this.#fs.addAll(walk(path, path), { ...IMPORT_OPTIONS, wrapWithDirectory: true, signal: options.signal })) root = entry.cid;
    } catch (e) {
      throw wrapWriteError(e, `add ${path}`);
    }
    if (root === undefined) throw new StorageError("IO_FAILED", `nothing to add in ${path}`, { context: { path } });
    return root;
  }

  async has(cid: CID | string): Promise<boolean> {
    return await this.#blocks.has(parseCid(cid));
  }

  async *stream(cidInput: CID | string, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    const cid = parseCid(cidInput);
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    const watchdog = new Watchdog(cid, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.signal);
    let delivered = 0;
    let total = 0;
    try {
      const rootBytes = await this.#read(cid, watchdog.signal);
      const root = cid.code === raw.code ? rootBytes : decodeNode(cid, rootBytes);
      total = root instanceof Uint8Array ? root.byteLength : fileSize(cid, root);
      if (total > maxBytes) {
        throw new StorageError("TOO_LARGE", `${cid} holds ${total} bytes, over the limit of ${maxBytes}`, {
          context: { cid: cid.toString(), size: total, maxBytes },
        });
      }
      watchdog.progress();
      for await (const piece of root instanceof Uint8Array ? [root] : this.#walk(cid, root, watchdog.signal)) {
        delivered += piece.byteLength;
        // the root's size is only a claim until the leaves arrive
        if (delivered > maxBytes || delivered > total) {
          throw new StorageError(delivered > maxBytes ? "TOO_LARGE" : "INCOMPLETE", `${cid} delivered more than ${Math.min(total, maxBytes)} bytes`, {
            context: { cid: cid.toString(), delivered, total, maxBytes },
          });
        }
        watchdog.progress();
        options.onProgress?.(delivered, total);
        yield piece;
      }
      if (delivered !== total) {
        throw new StorageError("INCOMPLETE", `${cid} ended after ${delivered} of ${total} bytes`, {
          context: { cid: cid.toString(), delivered, total },
        });
      }
    } catch (e) {
      throw watchdog.explain(e, delivered, total);
    } finally {
      watchdog.stop();
    }
  }

  /**
   * The file's bytes in order, fetching up to READ_AHEAD_BLOCKS children of a node ahead of the one
   * being delivered. Pieces are handed over one at a time, so a slow consumer slows the fetching
   * instead of growing a queue (memory stays bounded for any file size).
   */
  async *#walk(cid: CID, node: dagPb.PBNode, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    const data = unixfsOf(cid, node);
    if (data.data !== undefined && data.data.byteLength > 0) yield data.data;
    const controller = new AbortController();
    const linked = AbortSignal.any([signal, controller.signal]);
    const window: Array<Promise<{ cid: CID; bytes: Uint8Array }>> = [];
    let next = 0;
    try {
      while (next < node.Links.length || window.length > 0) {
        while (window.length < READ_AHEAD_BLOCKS && next < node.Links.length) {
          const child = node.Links[next++]!.Hash;
          const fetch = this.#read(child, linked).then((bytes) => ({ cid: child, bytes }));
          fetch.catch(() => undefined); // awaited in order below; this only silences the early rejection
          window.push(fetch);
        }
        const child = await window.shift()!;
        if (child.cid.code === raw.code) yield child.bytes;
        else yield* this.#walk(child.cid, decodeNode(child.cid, child.bytes), signal);
      }
    } finally {
      controller.abort(); // a consumer that stops early must not leave fetches running
    }
  }

  async #read(cid: CID, signal: AbortSignal): Promise<Uint8Array> {
    if (cid.code !== raw.code && cid.code !== dagPb.code) {
      throw new StorageError("NOT_A_FILE", `${cid} links to codec 0x${cid.code.toString(16)}, not a UnixFS file`, { context: { cid: cid.toString() } });
    }
    const parts: Uint8Array[] = [];
    for await (const part of this.#blocks.get(cid, { signal })) parts.push(part);
    const block = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    verifyBlock(cid, block);
    return block;
  }

  async get(cid: CID | string, options: GetOptions = {}): Promise<Uint8Array> {
    const pieces: Uint8Array[] = [];
    for await (const piece of this.stream(cid, options)) pieces.push(piece);
    return Buffer.concat(pieces);
  }

  async getToFile(cid: CID | string, path: string, options: GetOptions = {}): Promise<number> {
    const partial = `${path}.partial`;
    const out = createWriteStream(partial);
    let size = 0;
    try {
      await once(out, "open");
      for await (const piece of this.stream(cid, options)) {
        size += piece.byteLength;
        // respect the file's back-pressure so a slow disk bounds memory instead of growing it
        if (!out.write(piece)) await once(out, "drain");
      }
      out.end();
      await once(out, "finish");
      await rename(partial, path);
      return size;
    } catch (e) {
      out.destroy();
      await rm(partial, { force: true });
      if (isStorageError(e)) throw e;
      throw new StorageError(fsErrorCode(e) ?? "IO_FAILED", `could not write ${path}: ${(e as Error).message}`, { cause: e, context: { path } });
    }
  }
}

function decodeNode(cid: CID, bytes: Uint8Array): dagPb.PBNode {
  try {
    return dagPb.decode(bytes);
  } catch (cause) {
    throw new StorageError("NOT_A_FILE", `${cid} is not a dag-pb node: ${(cause as Error).message}`, { cause, context: { cid: cid.toString() } });
  }
}

function unixfsOf(cid: CID, node: dagPb.PBNode): UnixFSData {
  let data: UnixFSData;
  try {
    data = UnixFSData.unmarshal(node.Data ?? new Uint8Array());
  } catch (cause) {
    throw new StorageError("NOT_A_FILE", `${cid} is not a UnixFS node: ${(cause as Error).message}`, { cause, context: { cid: cid.toString() } });
  }
  if (data.type !== "file" && data.type !== "raw") {
    throw new StorageError("NOT_A_FILE", `${cid} is a UnixFS ${data.type}, not a file`, { context: { cid: cid.toString() } });
  }
  return data;
}

function fileSize(cid: CID, node: dagPb.PBNode): number {
  const size = unixfsOf(cid, node).fileSize();
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new StorageError("TOO_LARGE", `${cid} claims ${size} bytes`, { context: { cid: cid.toString() } });
  return Number(size);
}

/** Files under `dir`, paths relative to `base`, in a stable (sorted) order. */
async function* walk(dir: string, base: string): AsyncGenerator<{ path: string; content?: AsyncIterable<Uint8Array> }> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      yield { path: relative(base, full) };
      yield* walk(full, base);
    } else if (entry.isFile()) {
      yield { path: relative(base, full), content: createReadStream(full) };
    }
  }
}

async function* toAsync(input: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* input;
}

export function wrapWriteError(e: unknown, what: string): StorageError {
  if (isStorageError(e)) return e;
  const code = fsErrorCode(e) ?? "IO_FAILED";
  const why = code === "STORE_FULL" ? "the data directory's disk is full" : code === "STORE_READONLY" ? "the data directory is read-only" : (e as Error).message;
  return new StorageError(code, `${what} failed: ${why}`, { cause: e });
}

/**
 * Aborts a transfer when no block has arrived for `timeoutMs`, and turns the abort into the right
 * StorageError: NOT_FOUND before the first block, INCOMPLETE after, ABORTED for the caller's signal.
 */
class Watchdog {
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #cid: CID;
  readonly #timeoutMs: number;
  readonly #caller: AbortSignal | undefined;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #fired = false;

  constructor(cid: CID, timeoutMs: number, caller: AbortSignal | undefined) {
    this.#cid = cid;
    this.#timeoutMs = timeoutMs;
    this.#caller = caller;
    this.signal = caller === undefined ? this.#controller.signal : AbortSignal.any([this.#controller.signal, caller]);
    this.#arm();
  }

  progress(): void {
    this.#started = true;
    this.#arm();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  explain(e: unknown, delivered: number, total: number): StorageError {
    const context = { cid: this.#cid.toString(), delivered, total, timeoutMs: this.#timeoutMs };
    if (this.#fired) {
      return this.#started
        ? new StorageError("INCOMPLETE", `transfer of ${this.#cid} stalled after ${delivered} of ${total} bytes: no block for ${this.#timeoutMs} ms (peer gone?)`, { cause: e, context })
        : new StorageError("NOT_FOUND", `no peer provided ${this.#cid} within ${this.#timeoutMs} ms`, { cause: e, context });
    }
    if (this.#caller?.aborted === true) {
      return new StorageError("ABORTED", `fetching ${this.#cid} was aborted after ${delivered} bytes`, { cause: e, context });
    }
    if (isStorageError(e)) return e;
    return new StorageError("STORE_UNAVAILABLE", `fetching ${this.#cid} failed: ${(e as Error).message}`, { cause: e, context });
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#fired = true;
      this.#controller.abort(new StorageError("TIMEOUT", `no block of ${this.#cid} for ${this.#timeoutMs} ms`));
    }, this.#timeoutMs);
  }
}
