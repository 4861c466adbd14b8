// npm skips EDR's platform package when npm itself runs on a Node older than EDR's `engines`
// (the system Node here is 20; the project runs on the pinned `node` devDependency). Install
// the matching platform package so Hardhat works on such a machine with no manual upgrade.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const modules = new URL("../node_modules/", import.meta.url);
const edrManifest = new URL("@nomicfoundation/edr/package.json", modules);
if (!existsSync(edrManifest)) process.exit(0); // no EDR in the tree: nothing to complete
const edrVersion = JSON.parse(readFileSync(edrManifest, "utf8")).version;

const { platform, arch } = process;
const libc = platform === "linux" ? (process.report.getReport().header.glibcVersionRuntime ? "gnu" : "musl") : undefined;
const name = `@nomicfoundation/edr-${platform}-${arch}${libc ? `-${libc}` : ""}`;
if (existsSync(new URL(`${name}/package.json`, modules))) process.exit(0);

console.log(`postinstall: installing ${name}@${edrVersion} (npm skipped it: it ran on a Node older than EDR accepts)`);
execFileSync("npm", ["install", "--no-save", "--ignore-scripts", "--engine-strict=false", `${name}@${edrVersion}`], {
  stdio: "inherit",
});
