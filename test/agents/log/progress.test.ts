import { expect } from "chai";
import { createProgress } from "../../../agents/log/progress.js";
import { captureLogger } from "../helpers/log.js";

describe("agents/log progress", function () {
  it("redraws a terminal bar in place once per whole percent and ends the line", () => {
    const written: string[] = [];
    const stream = { isTTY: true, columns: 200, write: (s: string) => written.push(s) > 0 };
    const progress = createProgress({ label: "train task 7", total: 200, unit: "batches", log: captureLogger().log, stream });
    for (let i = 1; i <= 200; i++) progress.update(i, "loss 0.3");
    progress.finish("done");
    expect(written.filter((s) => s.startsWith("\r"))).to.have.length(102); // 0 % … 100 %, plus finish()'s redraw
    expect(written.at(-2)).to.contain("train task 7 [########################] 100% 200/200 batches done");
    expect(written.at(-1)).to.equal("\n");
  });

  it("logs one line per tenth when the output is not a terminal", () => {
    const logs = captureLogger();
    const progress = createProgress({ label: "fetch shards", total: 50, log: logs.log, stream: { write: () => true } });
    for (let i = 1; i <= 50; i++) progress.update(i);
    progress.finish();
    progress.finish();
    const percents = logs.lines().map((l) => l.percent);
    expect(percents).to.deep.equal([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  });
});
