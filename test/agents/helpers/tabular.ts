import { randomInt } from "node:crypto";

/**
 * A CSV a newcomer might have: 4 classes named by text, the label column not last, two noise
 * columns, features on very different scales (so standardisation matters). Each class is a
 * Gaussian blob around its own centre; `seed`-free on purpose: tests assert behaviour, not values.
 */
export function tabularCsv(rows: number, opts: { label?: string } = {}): { text: string; header: string[]; classes: string[] } {
  const classes = ["alpine", "boreal", "coastal", "desert"];
  const header = ["elevation", "noise_a", opts.label ?? "biome", "rain_mm", "temp_c", "noise_b", "wind"];
  const centres = [
    [3000, 500, -5, 20],
    [800, 900, 2, 10],
    [50, 1500, 15, 25],
    [400, 100, 30, 15],
  ];
  const lines = [header.join(",")];
  for (let i = 0; i < rows; i++) {
    const c = i % 4;
    const [e, r, t, w] = centres[c]!.map((v, j) => v + gauss() * [300, 150, 3, 4][j]!);
    lines.push([e, gauss() * 1000, classes[c], r, t, gauss(), w].map((v) => (typeof v === "number" ? v.toFixed(3) : v)).join(","));
  }
  return { text: `${lines.join("\n")}\n`, header, classes };
}

function gauss(): number {
  const u = (randomInt(1, 1_000_000) / 1_000_000) || 1e-6;
  const v = randomInt(0, 1_000_000) / 1_000_000;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
