// npm run bench:storage: add and fetch throughput between two embedded IPFS nodes in separate
// processes on loopback, node start-up time, and the fetching process's peak RSS for 500 MB.
// Writes bench/results/storage.json and bench/results/storage.md.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { cpus, loadavg, tmpdir } from "node:os";
import { defaultCrypto } from "@chainsafe/libp2p-noise/crypto";
import { join } from "node:path";
import { PeerProcess } from "../test/agents/storage/helpers/peer-protocol.js";
import type { PeerReply } from "../test/agents/storage/helpers/peer-protocol.js";

const MB = 1_000_000;
const SIZES = { "1MB": 1 * MB, "50MB": 50 * MB, "500MB": 500 * MB } as const;
type SizeKey = keyof typeof SIZES;
const RUNS = Number(process.env.BENCH_STORAGE_RUNS ?? 3);

interface Sample {
  size: SizeKey;
  addMBps: number;
  fetchMBps: number;
  fetchMs: number;
  /** CPU time per MB fetched, in the fetching and the serving process: less sensitive to a busy machine than MB/s. */
  fetchCpuMsPerMB: number;
  serveCpuMsPerMB: number;
  peakRssMB: number;
}

async function transfer(root: string, size: SizeKey, run: number, startups: number[]): Promise<Sample> {
  const dir = join(root, `${size}-${run}`);
  await mkdir(dir, { recursive: true });
  const server = await PeerProcess.start(join(dir, "server"));
  const client = await PeerProcess.start(join(dir, "client"));
  startups.push(server.startupMs, client.startupMs);
  try {
    const added = await server.request<Extract<PeerReply, { op: "added" }>>({ op: "add", size: SIZES[size], seed: run });
    await client.request({ op: "dial", address: server.addresses[0]! });
    const serveCpu0 = (await server.request<Extract<PeerReply, { op: "usage" }>>({ op: "usage" })).cpuMs;
    const got = await client.request<Extract<PeerReply, { op: "got" }>>({
      op: "get",
      cid: added.cid,
      path: join(dir, "fetched"),
      timeoutMs: 30_000,
      hash: true,
    });
    const serveCpu = (await server.request<Extract<PeerReply, { op: "usage" }>>({ op: "usage" })).cpuMs - serveCpu0;
    if (got.sha256 !== added.sha256 || got.size !== SIZES[size]) throw new Error(`${size}: fetched bytes differ from the added ones`);
    const sample = {
      size,
      addMBps: SIZES[size] / MB / (added.ms / 1000),
      fetchMBps: SIZES[size] / MB / (got.ms / 1000),
      fetchMs: got.ms,
      fetchCpuMsPerMB: got.cpuMs / (SIZES[size] / MB),
      serveCpuMsPerMB: serveCpu / (SIZES[size] / MB),
      peakRssMB: got.peakRssMB,
    };
    console.log(`${size} run ${run}: add ${sample.addMBps.toFixed(1)} MB/s, fetch ${sample.fetchMBps.toFixed(1)} MB/s (CPU ms/MB: fetcher ${sample.fetchCpuMsPerMB.toFixed(1)}, server ${sample.serveCpuMsPerMB.toFixed(1)}), fetcher peak RSS ${sample.peakRssMB.toFixed(0)} MB`);
    return sample;
  } finally {
    await Promise.all([server.close(), client.close()]);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * CPU ms per MB that noise's own cipher calls (ChaCha20-Poly1305, one call per 65,519-byte noise message,
 * @chainsafe/libp2p-noise's default crypto) cost to encrypt and to decrypt: the encryption's share of a
 * transfer's CPU, measured in this process so that it is not lost in the transfer's noise.
 */
function noiseCipherCost(): { encryptCpuMsPerMB: number; decryptCpuMsPerMB: number } {
  const MESSAGE = 65_519;
  const messages = Math.ceil((50 * MB) / MESSAGE);
  const key = randomBytes(32);
  const nonce = new Uint8Array(12);
  const ad = new Uint8Array(0);
  const plain = randomBytes(MESSAGE);
  const cpu = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const sealed: Uint8Array[] = [];
  let t0 = cpu();
  for (let i = 0; i < messages; i++) {
    const out = defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key);
    if (i < 8) sealed.push(out.subarray());
  }
  const encrypt = cpu() - t0;
  t0 = cpu();
  for (let i = 0; i < messages; i++) {
    const box = sealed[i % sealed.length]!;
    defaultCrypto.chaCha20Poly1305Decrypt(box, nonce, ad, key, box.subarray(0, box.byteLength - 16));
  }
  const decrypt = cpu() - t0;
  const mb = (messages * MESSAGE) / MB;
  const round2 = (x: number) => Math.round(x * 100) / 100;
  return { encryptCpuMsPerMB: round2(encrypt / mb), decryptCpuMsPerMB: round2(decrypt / mb) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "podl-bench-storage-"));
  const samples: Sample[] = [];
  const startups: number[] = [];
  const loadBefore = loadavg()[0]!;
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const size of Object.keys(SIZES) as SizeKey[]) samples.push(await transfer(root, size, run, startups));
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const per = (key: "addMBps" | "fetchMBps") =>
    Object.fromEntries((Object.keys(SIZES) as SizeKey[]).map((s) => [s, round1(median(samples.filter((x) => x.size === s).map((x) => x[key])))]));
  const noise = noiseCipherCost();
  const cpuPerMB = (key: "fetchCpuMsPerMB" | "serveCpuMsPerMB") => round1(median(samples.filter((x) => x.size !== "1MB").map((x) => x[key])));
  const results = {
    startupMs: round1(median(startups)),
    fetchMBps: per("fetchMBps"),
    addMBps: per("addMBps"),
    peakRssMB500: round1(Math.max(...samples.filter((x) => x.size === "500MB").map((x) => x.peakRssMB))),
    /** Medians over the 50 MB and 500 MB transfers: what a transfer costs, whatever else the machine runs. */
    cpuMsPerMB: { fetcher: cpuPerMB("fetchCpuMsPerMB"), server: cpuPerMB("serveCpuMsPerMB"), noiseEncrypt: noise.encryptCpuMsPerMB, noiseDecrypt: noise.decryptCpuMsPerMB },
    runs: RUNS,
    samples: samples.map((s) => ({ ...s, addMBps: round1(s.addMBps), fetchMBps: round1(s.fetchMBps), fetchMs: Math.round(s.fetchMs), fetchCpuMsPerMB: round1(s.fetchCpuMsPerMB), serveCpuMsPerMB: round1(s.serveCpuMsPerMB), peakRssMB: round1(s.peakRssMB) })),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version, loadAverage1m: { before: round1(loadBefore), after: round1(loadavg()[0]!) } },
    measuredAt: new Date().toISOString(),
    notes: "MB = 10^6 bytes. Two embedded Helia nodes, each in its own process, loopback TCP, noise, yamux, bitswap; fetch = getToFile (streamed, every block verified) after dialing; medians over runs.",
  };
  await mkdir("bench/results", { recursive: true });
  await writeFile("bench/results/storage.json", `${JSON.stringify(results, null, 2)}\n`);
  const rows = (Object.keys(SIZES) as SizeKey[]).map((s) => `| ${s} | ${results.addMBps[s]} | ${results.fetchMBps[s]} |`);
  await writeFile(
    "bench/results/storage.md",
    [
      "# Storage benchmark",
      "",
      `Measured ${results.measuredAt} on ${results.machine.cpus} × ${results.machine.cpu}, Node ${results.machine.node}, ${RUNS} run(s), medians.`,
      "Two embedded nodes in separate processes on loopback (see docs/storage.md for the configuration and what each setting gave).",
      "",
      "| size | add MB/s | fetch MB/s |",
      "| --- | ---: | ---: |",
      ...rows,
      "",
      `Node start-up: ${results.startupMs} ms. Fetching process peak RSS while fetching 500 MB to a file: ${results.peakRssMB500} MB.`,
      "",
      `CPU per MB fetched (medians of the 50 MB and 500 MB runs): fetching process ${results.cpuMsPerMB.fetcher} ms, serving process ${results.cpuMsPerMB.server} ms;`,
      `of which noise's ChaCha20-Poly1305 calls cost ${results.cpuMsPerMB.noiseEncrypt} ms to encrypt (server) and ${results.cpuMsPerMB.noiseDecrypt} ms to decrypt (fetcher).`,
      `The machine is shared: 1-minute load average ${results.machine.loadAverage1m.before} before and ${results.machine.loadAverage1m.after} after the runs on ${results.machine.cpus} CPUs, so MB/s are lower bounds; CPU per MB is the steadier figure.`,
      "",
    ].join("\n"),
  );
  console.log(JSON.stringify({ startupMs: results.startupMs, fetchMBps: results.fetchMBps, addMBps: results.addMBps, peakRssMB500: results.peakRssMB500, cpuMsPerMB: results.cpuMsPerMB, load: results.machine.loadAverage1m }));
}

await main();
