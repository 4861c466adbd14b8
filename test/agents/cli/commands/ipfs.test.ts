import { expect } from "chai";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../../agents/cli/podl.js";
import { pseudoRandomBytes } from "../../storage/helpers/data.js";

/** Runs `podl …` in-process and collects what it prints. */
async function podl(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  return { code, out, err };
}

describe("storage: podl ipfs add / get", function () {
  this.timeout(60_000);
  let root: string;

  before(async function () {
    root = await mkdtemp(join(tmpdir(), "podl-storage-cli-"));
  });
  after(async function () {
    await rm(root, { recursive: true, force: true });
  });

  it("adds a file and a folder, prints their CIDs, and gets the file back byte for byte", async function () {
    const node = join(root, "node");
    const bytes = await pseudoRandomBytes(3 * (1 << 20) + 5, 11);
    await writeFile(join(root, "data.bin"), bytes);
    const added = await podl("ipfs", "add", join(root, "data.bin"), "--ipfs-dir", node);
    expect(added.code, added.err.join("\n")).to.equal(0);
    expect(added.out).to.have.length(1);
    expect(added.out[0]).to.match(/^bafy/);

    await mkdir(join(root, "folder", "sub"), { recursive: true });
    await writeFile(join(root, "folder", "sub", "a.txt"), "a");
    const folder = await podl("ipfs", "add", join(root, "folder"), "--ipfs-dir", node);
    expect(folder.code, folder.err.join("\n")).to.equal(0);
    expect(folder.out[0]).to.match(/^bafy/).and.not.equal(added.out[0]);

    const got = await podl("ipfs", "get", added.out[0]!, join(root, "copy.bin"), "--ipfs-dir", node, "--timeout-ms", "5000");
    expect(got.code, got.err.join("\n")).to.equal(0);
    expect((await readFile(join(root, "copy.bin"))).equals(bytes)).to.equal(true);
  });

  it("refuses content over --max-bytes and a CID no peer has, writing no file", async function () {
    const node = join(root, "node2");
    await writeFile(join(root, "big.bin"), await pseudoRandomBytes(2 << 20, 12));
    const cid = (await podl("ipfs", "add", join(root, "big.bin"), "--ipfs-dir", node)).out[0]!;
    const capped = await podl("ipfs", "get", cid, join(root, "capped.bin"), "--ipfs-dir", node, "--max-bytes", "1000");
    expect(capped.code).to.equal(1);
    expect(capped.err.join("\n")).to.contain("[TOO_LARGE]");
    expect(existsSync(join(root, "capped.bin"))).to.equal(false);

    const missing = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    const lost = await podl("ipfs", "get", missing, join(root, "lost.bin"), "--ipfs-dir", node, "--timeout-ms", "300");
    expect(lost.code).to.equal(1);
    expect(lost.err.join("\n")).to.contain("[NOT_FOUND]");
    expect(existsSync(join(root, "lost.bin"))).to.equal(false);
  });

  it("answers bad arguments with usage errors (exit 2) before starting a node", async function () {
    const node = join(root, "node3");
    expect((await podl("ipfs", "get", "notacid")).code).to.equal(2);
    expect((await podl("ipfs", "get", "bafy", join(root, "x"), "--ipfs-dir", node, "--timeout-ms", "soon")).code).to.equal(2);
    expect(existsSync(node)).to.equal(false);
    const bad = await podl("ipfs", "get", "notacid", join(root, "x"), "--ipfs-dir", node);
    expect(bad.code).to.equal(1);
    expect(bad.err.join("\n")).to.contain("[CID_INVALID]");
  });
});
