import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { TORCH_ENGINE_DIR } from "../../../agents/ml/engines/torch-python.js";
import { torchOrSkip } from "./helpers/torch.js";

describe("engines/torch: the Python worker's own unittest suite", function () {
  this.timeout(120_000);

  it("passes under the Python the engine found", async function () {
    const { python } = await torchOrSkip(this);
    const { stderr } = await promisify(execFile)(python, ["-m", "unittest", "discover", "-s", "tests"], { cwd: TORCH_ENGINE_DIR });
    // unittest reports on stderr; a failure makes execFile reject with that report.
    expect(stderr).to.match(/Ran \d+ tests/).and.match(/\nOK\s*$/);
  });
});
