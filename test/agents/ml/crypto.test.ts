import { expect } from "chai";
import { KEY_BYTES, NONCE_BYTES, TAG_BYTES, decrypt, encrypt, generateKey } from "../../../agents/ml/crypto.js";
import { isMlError } from "../../../agents/ml/errors.js";

function decryptFails(key: Uint8Array, sealed: Uint8Array): boolean {
  try {
    decrypt(key, sealed);
  } catch (e) {
    if (isMlError(e, "DECRYPT_FAILED")) return true;
    throw e;
  }
  return false;
}

describe("ml/crypto (AES-256-GCM)", () => {
  const plaintext = new TextEncoder().encode("x: float32[n, 4], y: int32[n]");

  it("round-trips with a fresh 32-byte key and a fresh nonce each time", () => {
    const key = generateKey();
    expect(key.length).to.equal(KEY_BYTES);
    const a = encrypt(key, plaintext);
    const b = encrypt(key, plaintext);
    expect(a.length).to.equal(NONCE_BYTES + plaintext.length + TAG_BYTES);
    expect(a.subarray(0, NONCE_BYTES)).to.not.deep.equal(b.subarray(0, NONCE_BYTES));
    expect(decrypt(key, a)).to.deep.equal(plaintext);
    expect(decrypt(key, b)).to.deep.equal(plaintext);
  });

  it("rejects corrupted ciphertext: any flipped bit in nonce, body or tag", () => {
    const key = generateKey();
    const sealed = encrypt(key, plaintext);
    for (const at of [0, NONCE_BYTES, NONCE_BYTES + 5, sealed.length - 1]) {
      const altered = sealed.slice();
      altered[at]! ^= 0x01;
      expect(decryptFails(key, altered), `byte ${at}`).to.equal(true);
    }
  });

  it("rejects the wrong key, a short key and a box shorter than nonce and tag", () => {
    const sealed = encrypt(generateKey(), plaintext);
    expect(decryptFails(generateKey(), sealed)).to.equal(true);
    expect(decryptFails(new Uint8Array(16), sealed)).to.equal(true);
    expect(decryptFails(generateKey(), sealed.subarray(0, NONCE_BYTES + TAG_BYTES - 1))).to.equal(true);
  });
});
