import { Wallet } from "ethers";
import { AgentError } from "../../config/errors.js";
import { KEYSTORE_PASSWORD_ENV, PRIVATE_KEY_ENV, keystorePassword, loadWallet, writeKeystore } from "../../config/keys.js";
import type { Command } from "../command.js";

export const keystoreCreateCommand: Command = {
  name: "keystore create",
  summary: "write a new encrypted JSON keystore",
  description: `Writes an encrypted JSON keystore holding a fresh key (or the key in ${PRIVATE_KEY_ENV} with --from-env), readable only by you; never overwrites a file. The password comes from ${KEYSTORE_PASSWORD_ENV} or --password-file.`,
  args: "<file>",
  options: {
    "from-env": { type: "boolean", description: `encrypt the key in ${PRIVATE_KEY_ENV} instead of a fresh one` },
    "password-file": { type: "string", description: "file whose first line is the password", value: "file" },
  },
  async run({ values, positionals, io }) {
    const file = onePath(positionals);
    const wallet = values["from-env"] === true ? await loadWallet({ env: io.env }) : new Wallet(Wallet.createRandom().privateKey);
    await writeKeystore(file, wallet, keystorePassword({ keystorePasswordFile: passwordFile(values), env: io.env }));
    io.out(`${wallet.address} written to ${file}`);
    return 0;
  },
};

export const keystoreAddressCommand: Command = {
  name: "keystore address",
  summary: "print a keystore's address (checks its password)",
  description: `Decrypts a keystore with ${KEYSTORE_PASSWORD_ENV} or --password-file and prints its address.`,
  args: "<file>",
  options: {
    "password-file": { type: "string", description: "file whose first line is the password", value: "file" },
  },
  async run({ values, positionals, io }) {
    const file = onePath(positionals);
    const wallet = await loadWallet({ keystore: file, keystorePasswordFile: passwordFile(values), env: io.env });
    io.out(wallet.address);
    return 0;
  },
};

function onePath(positionals: string[]): string {
  if (positionals.length !== 1) throw new AgentError("USAGE", `expected one keystore file, got ${positionals.length} arguments`);
  return positionals[0]!;
}

function passwordFile(values: Record<string, string | boolean | undefined>): string | undefined {
  const file = values["password-file"];
  return typeof file === "string" ? file : undefined;
}
