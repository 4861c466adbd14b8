/**
 * Mocha's `--exit`, which Hardhat's runner lacks: a test that fails before its cleanup can leave a
 * node, provider or child handle open, and the run would then never end (CI would time out instead
 * of reporting the failure). After the last test, wait a grace period; if the process is still
 * alive, name what keeps it alive and exit with the code the runner set.
 */
const GRACE_MS = 15_000;

after(function () {
  setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((r) => r !== "Timeout");
    console.error(`test run: still alive ${GRACE_MS / 1000} s after the last test, held by [${open.join(", ")}]; exiting`);
    process.exit(process.exitCode ?? 0);
  }, GRACE_MS).unref();
});
