import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { createHash } from "node:crypto";
import { StorageError } from "./errors.js";

export { CID };

/**
 * The one chunking every PoDL node uses, so the same bytes get the same CID everywhere: IPIP-499's
 * `unixfs-v1-2025` profile. CIDv1, sha2-256, raw leaves, fixed 1 MiB chunks, balanced DAG with up to
 * 1024 links per node (a 1 GiB file is one root over 1024 leaves). Why: 1 MiB blocks are the largest
 * that every bitswap implementation accepts (boxo caps blocks at 2 MiB), they make per-block costs
 * (want-list entries, disk files, hash calls) 4x fewer than Kubo's historical 256 KiB, and the profile
 * is the default of Helia's unixfs and of Kubo's `unixfs-v1-2025` import settings.
 */
export const IMPORT_OPTIONS = { profile: "unixfs-v1-2025" } as const;

/** Multicodec of UnixFS nodes (dag-pb). */
const DAG_PB = 0x70;
const SHA2_256 = 0x12;
const IDENTITY = 0x00;
/** Codecs a ContentStore reads: UnixFS (dag-pb) nodes and raw leaves. */
const CODECS = new Set<number>([raw.code, DAG_PB]);
/** Longest CID string we parse; real CIDv1 sha2-256 strings are ~60 characters. */
const MAX_CID_LENGTH = 200;

/** Parses and checks a CID from untrusted input (spec JSON, CLI flag). */
export function parseCid(input: unknown): CID {
  if (input instanceof CID) return checkCid(input, String(input));
  if (typeof input !== "string" || input.length === 0 || input.length > MAX_CID_LENGTH) {
    throw new StorageError("CID_INVALID", `not a CID: expected a string of 1..${MAX_CID_LENGTH} characters`, {
      context: { input: typeof input === "string" ? input.slice(0, 80) : typeof input },
    });
  }
  let cid: CID;
  try {
    cid = CID.parse(input.trim());
  } catch (cause) {
    throw new StorageError("CID_INVALID", `not a CID: ${JSON.stringify(input.slice(0, 80))}`, { cause, context: { input } });
  }
  return checkCid(cid, input);
}

function checkCid(cid: CID, input: string): CID {
  if (!CODECS.has(cid.code)) {
    throw new StorageError("CID_INVALID", `CID ${input} uses codec 0x${cid.code.toString(16)}; only raw and dag-pb are stored`, { context: { input } });
  }
  if (cid.multihash.code !== SHA2_256 && cid.multihash.code !== IDENTITY) {
    throw new StorageError("CID_INVALID", `CID ${input} uses hash 0x${cid.multihash.code.toString(16)}; only sha2-256 is accepted`, { context: { input } });
  }
  return cid;
}

/** Throws CID_MISMATCH unless `bytes` hash to `cid`'s multihash. */
export function verifyBlock(cid: CID, bytes: Uint8Array): void {
  const digest = cid.multihash.code === IDENTITY ? bytes : createHash("sha256").update(bytes).digest();
  if (Buffer.compare(digest, cid.multihash.digest) !== 0) {
    throw new StorageError("CID_MISMATCH", `block ${cid} does not match its CID (${bytes.byteLength} bytes)`, {
      context: { cid: cid.toString(), size: bytes.byteLength },
    });
  }
}
