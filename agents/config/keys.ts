import { readFileSync, writeFileSync } from "node:fs";
import { Wallet, encryptKeystoreJson, isKeystoreJson } from "ethers";
import { AgentError } from "./errors.js";

export const PRIVATE_KEY_ENV = "PODL_PRIVATE_KEY";
export const KEYSTORE_PASSWORD_ENV = "PODL_KEYSTORE_PASSWORD";

export interface KeySources {
  /** Path of an encrypted JSON keystore (Web3 Secret Storage, as geth and ethers write it). */
  keystore?: string | undefined;
  /** File whose first line is the keystore password; otherwise PODL_KEYSTORE_PASSWORD. */
  keystorePasswordFile?: string | undefined;
  env: Record<string, string | undefined>;
}

/**
 * The agent's signing key: from the keystore when one is configured, else from PODL_PRIVATE_KEY.
 * Errors never carry the key or the password (and no ethers error that might quote them).
 */
export async function loadWallet(sources: KeySources): Promise<Wallet> {
  if (sources.keystore !== undefined) {
    const json = readText(sources.keystore, "keystore");
    if (!isKeystoreJson(json)) throw new AgentError("KEY_INVALID", `${sources.keystore} is not an encrypted JSON keystore`);
    const password = keystorePassword(sources);
    let wallet: Awaited<ReturnType<typeof Wallet.fromEncryptedJson>>;
    try {
      wallet = await Wallet.fromEncryptedJson(json, password);
    } catch {
      throw new AgentError("KEY_INVALID", `cannot decrypt ${sources.keystore}: wrong password or damaged keystore`);
    }
    // A keystore may hold a mnemonic-derived account; agents only need its key.
    return new Wallet(wallet.privateKey);
  }
  const raw = sources.env[PRIVATE_KEY_ENV];
  if (raw === undefined || raw.trim() === "") {
    throw new AgentError(
      "KEY_MISSING",
      `no signing key: set ${PRIVATE_KEY_ENV}, or --keystore with ${KEYSTORE_PASSWORD_ENV} or --keystore-password-file`,
    );
  }
  const hex = raw.trim().startsWith("0x") ? raw.trim() : `0x${raw.trim()}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) {
    throw new AgentError("KEY_INVALID", `${PRIVATE_KEY_ENV} must be 32 bytes of hex`);
  }
  return new Wallet(hex);
}

/**
 * Writes `wallet` as an encrypted keystore readable only by its owner; refuses to overwrite a
 * file. `scryptN` below the ethers default (2^17) is for tests only.
 */
export async function writeKeystore(path: string, wallet: Wallet, password: string, options: { scryptN?: number } = {}): Promise<void> {
  if (password.length === 0) throw new AgentError("KEY_INVALID", "a keystore password must not be empty");
  const scrypt = options.scryptN === undefined ? undefined : { N: options.scryptN };
  const json = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, password, scrypt ? { scrypt } : {});
  try {
    writeFileSync(path, json, { mode: 0o600, flag: "wx" });
  } catch (cause) {
    throw new AgentError("KEY_INVALID", `cannot write keystore ${path} (it must not exist yet)`, { cause });
  }
}

/** The keystore password: the first line of `keystorePasswordFile`, else PODL_KEYSTORE_PASSWORD. */
export function keystorePassword(sources: Omit<KeySources, "keystore">): string {
  if (sources.keystorePasswordFile !== undefined) {
    const line = readText(sources.keystorePasswordFile, "keystore password file").split(/\r?\n/)[0] ?? "";
    if (line === "") throw new AgentError("KEY_MISSING", `${sources.keystorePasswordFile} holds no password`);
    return line;
  }
  const env = sources.env[KEYSTORE_PASSWORD_ENV];
  if (env === undefined || env === "") {
    throw new AgentError("KEY_MISSING", `the keystore needs a password: set ${KEYSTORE_PASSWORD_ENV} or --keystore-password-file`);
  }
  return env;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new AgentError("KEY_MISSING", `cannot read ${what} ${path}`, { cause });
  }
}
