import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The package's root folder (the one holding package.json, engines/ and agents/explorer/web/), the
 * same whether this module runs from source (agents/) or from the build (dist/agents/): files the
 * agents read at run time are found from here, not by counting `..` from the module.
 */
export const PACKAGE_ROOT = packageRoot(import.meta.dirname);

function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
