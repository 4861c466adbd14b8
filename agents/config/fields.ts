import { z } from "zod";

/** An integer in [min, max]; coerced, because flags and environment variables arrive as strings. */
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A yes/no option: a boolean, or "true"/"false" from a variable or a config file. */
export const flag = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);
