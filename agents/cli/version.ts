import { readFileSync } from "node:fs";

/** The package's version (package.json next to agents/), for `podl --version`. */
export function podlVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}`;
}
