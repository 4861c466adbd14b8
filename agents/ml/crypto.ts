import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { MlError } from "./errors.js";

/**
 * AES-256-GCM for data shards (DESIGN §4; format in docs/shard-v1.md):
 * `nonce (12 bytes) | ciphertext | tag (16 bytes)`. Every shard has its own random key, so a
 * random nonce never repeats under one key.
 */

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export function generateKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_BYTES));
}

export function encrypt(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const out = new Uint8Array(NONCE_BYTES + body.length + TAG_BYTES);
  out.set(nonce, 0);
  out.set(body, NONCE_BYTES);
  out.set(cipher.getAuthTag(), NONCE_BYTES + body.length);
  return out;
}

/** Throws MlError DECRYPT_FAILED when the key is wrong or any byte of the sealed box changed. */
export function decrypt(key: Uint8Array, sealed: Uint8Array): Uint8Array {
  checkKey(key);
  if (sealed.length < NONCE_BYTES + TAG_BYTES) {
    throw new MlError("DECRYPT_FAILED", `ciphertext of ${sealed.length} bytes is shorter than nonce and tag`, {
      context: { bytes: sealed.length },
    });
  }
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce);
    decipher.setAuthTag(tag);
    return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]));
  } catch (cause) {
    throw new MlError("DECRYPT_FAILED", "AES-256-GCM authentication failed: wrong key or altered ciphertext", { cause });
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) {
    throw new MlError("DECRYPT_FAILED", `AES-256-GCM needs a ${KEY_BYTES}-byte key, got ${key.length} bytes`, {
      context: { keyBytes: key.length },
    });
  }
}
