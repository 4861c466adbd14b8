import { checkTorch } from "../../../../agents/ml/engines/torch.js";
import type { PythonChoice } from "../../../../agents/ml/engines/torch-python.js";

let found: Promise<Awaited<ReturnType<typeof checkTorch>>> | undefined;

/**
 * The Python with PyTorch the torch tests use, or a skip that says why. With PODL_REQUIRE_TORCH=1
 * (.ci/run sets it once python3-torch is installed) a missing torch fails the test instead.
 */
export async function torchOrSkip(ctx: Mocha.Context): Promise<PythonChoice> {
  found ??= checkTorch();
  const r = await found;
  if (r.ok) return r.choice;
  if (process.env.PODL_REQUIRE_TORCH === "1") throw new Error(`PODL_REQUIRE_TORCH=1 but ${r.reason}`);
  console.log(`      skipped: the torch engine is unavailable (${r.reason})`);
  ctx.skip();
}
