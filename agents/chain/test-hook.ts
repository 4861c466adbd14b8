/**
 * TEST HOOK, for the fault suite only (test/faults/): `PODL_TEST_KILL_AT=<point>` makes the process
 * SIGKILL itself when it reaches `point`, so a test can stop an agent at an exact step of a
 * commit/reveal path (after storing a salt, after signing, after broadcasting, after mining) and
 * check that a restart finishes in time. Points are `<step>:<label prefix>`, e.g.
 * `after-sign:commitModel` or `after-salt:model`. Unset (every real run), it does nothing.
 */
export const TEST_KILL_ENV = "PODL_TEST_KILL_AT";

export function testKillPoint(step: string, label: string): void {
  const at = process.env[TEST_KILL_ENV];
  if (at === undefined || at === "") return;
  const [wantStep, prefix = ""] = at.split(/:(.*)/s);
  if (wantStep !== step || !label.startsWith(prefix)) return;
  process.stderr.write(`${TEST_KILL_ENV}=${at}: killing this process (pid ${process.pid}) at ${step} ${label}\n`);
  process.kill(process.pid, "SIGKILL");
}
