import { createCipheriv, createHash } from "node:crypto";

const CHUNK = 1 << 20;

/** `size` bytes of AES-CTR keystream keyed by `seed`: incompressible, reproducible, generated as it is read. */
export async function* pseudoRandom(size: number, seed: number): AsyncGenerator<Uint8Array> {
  const key = createHash("sha256").update(`podl-storage-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let left = size; left > 0; left -= CHUNK) yield cipher.update(zeros.subarray(0, Math.min(CHUNK, left)));
}

export async function pseudoRandomBytes(size: number, seed: number): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for await (const piece of pseudoRandom(size, seed)) pieces.push(piece);
  return Buffer.concat(pieces);
}
