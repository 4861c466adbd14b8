// npm run bench:storage: add and fetch throughput between two embedded IPFS nodes in separate
// processes on loopback, node start-up time, and the fetching process's peak RSS for 500 MB.
// Writes bench/results/storage.json and bench/results/storage.md.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { PeerProcess } from "../test/storage/helpers/peer-protocol.js";
import type { PeerReply } from "../test/storage/helpers/peer-protocol.js";

const MB = 1_000_000;
const SIZES = { "1MB": 1 * MB, "50MB": 50 * MB, "500MB": 500 * MB } as const;
type SizeKey = keyof typeof SIZES;
const RUNS = Number(process.env.BENCH_STORAGE_RUNS ?? 1);

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
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const size of Object.keys(SIZES) as SizeKey[]) samples.push(await transfer(root, size, run, startups));
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const per = (key: "addMBps" | "fetchMBps") =>
    Object.fromEntries((Object.keys(SIZES) as SizeKey[]).map((s) => [s, round1(median(samples.filter((x) => x.size === s).map((x) => x[key])))]));
  const results = {
    startupMs: round1(median(startups)),
    fetchMBps: per("fetchMBps"),
    addMBps: per("addMBps"),
    peakRssMB500: round1(Math.max(...samples.filter((x) => x.size === "500MB").map((x) => x.peakRssMB))),
    runs: RUNS,
    samples: samples.map((s) => ({ ...s, addMBps: round1(s.addMBps), fetchMBps: round1(s.fetchMBps), fetchMs: Math.round(s.fetchMs), fetchCpuMsPerMB: round1(s.fetchCpuMsPerMB), serveCpuMsPerMB: round1(s.serveCpuMsPerMB), peakRssMB: round1(s.peakRssMB) })),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version },
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
    ].join("\n"),
  );
  console.log(JSON.stringify({ startupMs: results.startupMs, fetchMBps: results.fetchMBps, addMBps: results.addMBps, peakRssMB500: results.peakRssMB500 }));
}

await main();
