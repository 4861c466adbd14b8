import { isAddress, getAddress } from "ethers";
import { Hono, type Context } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { PHASES } from "./derive.js";
import type { IndexUpdate } from "./indexer.js";
import type { ExplorerViews } from "./views.js";

/** Largest page any list endpoint returns. */
export const MAX_PAGE = 100;
const DEFAULT_PAGE = 20;

const count = (max: number, fallback: number) => z.coerce.number({ invalid_type_error: "must be an integer" }).int("must be an integer").min(0, "must be ≥ 0").max(max, `must be ≤ ${max}`).default(fallback);
const page = z.object({ offset: count(1_000_000, 0), limit: count(MAX_PAGE, DEFAULT_PAGE).refine((n) => n >= 1, `must be 1..${MAX_PAGE}`) }).strict();
const schemas = {
  page,
  tasks: page.extend({ phase: z.enum(PHASES, { errorMap: () => ({ message: `must be one of ${PHASES.join(", ")}` }) }).optional() }).strict(),
  overview: z.object({ recent: count(50, 10).refine((n) => n >= 1, "must be 1..50") }).strict(),
  taskId: z.object({ id: z.string().regex(/^[1-9][0-9]{0,9}$/, "must be a task id: a positive integer").transform(Number) }),
  address: z.object({ address: z.string().refine((a) => isAddress(a), "must be a 0x address (40 hex digits)").transform((a) => getAddress(a)) }),
  none: z.object({}).strict(),
};

/** The answer to a path nothing serves. */
export function notFound(c: Context): Response {
  return c.json({ error: { code: "NOT_FOUND", message: `no endpoint ${c.req.method} ${c.req.path}` } } satisfies ApiError, 404);
}

/** What every rejected request gets: the field, what was wrong with it, status 400. */
export interface ApiError {
  error: { code: "BAD_REQUEST" | "NOT_FOUND"; message: string; field?: string };
}

type Parsed<S extends z.ZodTypeAny> = { ok: true; value: z.infer<S> } | { ok: false; response: Response };

function parse<S extends z.ZodTypeAny>(c: Context, schema: S, input: unknown): Parsed<S> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0]!;
  const field = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : String(issue.path[0] ?? "");
  const message = issue.code === "unrecognized_keys" ? `unknown parameter(s) ${issue.keys.join(", ")}` : `${field}: ${issue.message}`;
  return { ok: false, response: c.json({ error: { code: "BAD_REQUEST", message, field } } satisfies ApiError, 400) };
}

export interface ApiOptions {
  views: ExplorerViews;
  /** Subscribes to index updates (the indexer's `subscribe`); returns the unsubscribe. */
  subscribe: (listener: (u: IndexUpdate) => void) => () => void;
}

/** The explorer's read-only JSON API and its server-sent events (docs/explorer.md). */
export function createApi({ views, subscribe }: ApiOptions): Hono {
  const api = new Hono();
  const query = (c: Context) => c.req.query();

  api.get("/status", (c) => {
    const q = parse(c, schemas.none, query(c));
    return q.ok ? c.json(views.status()) : q.response;
  });
  api.get("/overview", (c) => {
    const q = parse(c, schemas.overview, query(c));
    return q.ok ? c.json(views.overview(q.value.recent)) : q.response;
  });
  api.get("/tasks", (c) => {
    const q = parse(c, schemas.tasks, query(c));
    return q.ok ? c.json(views.tasks(q.value)) : q.response;
  });
  api.get("/tasks/:id", (c) => {
    const p = parse(c, schemas.taskId, c.req.param());
    if (!p.ok) return p.response;
    const q = parse(c, schemas.none, query(c));
    if (!q.ok) return q.response;
    const task = views.task(p.value.id);
    return task ? c.json(task) : c.json({ error: { code: "NOT_FOUND", message: `no task ${p.value.id} indexed`, field: "id" } } satisfies ApiError, 404);
  });
  api.get("/validators", (c) => {
    const q = parse(c, schemas.page, query(c));
    return q.ok ? c.json(views.validators(q.value)) : q.response;
  });
  api.get("/validators/:address", (c) => {
    const p = parse(c, schemas.address, c.req.param());
    if (!p.ok) return p.response;
    const found = views.validators({ offset: 0, limit: Number.MAX_SAFE_INTEGER }).items.find((v) => v.address === p.value.address);
    return found ? c.json(found) : c.json({ error: { code: "NOT_FOUND", message: `no validator ${p.value.address} indexed`, field: "address" } } satisfies ApiError, 404);
  });
  api.get("/miners", (c) => {
    const q = parse(c, schemas.page, query(c));
    return q.ok ? c.json(views.miners(q.value)) : q.response;
  });
  api.get("/chain", (c) => {
    const q = parse(c, schemas.page, query(c));
    return q.ok ? c.json(views.chain(q.value)) : q.response;
  });
  api.get("/events", (c) => {
    const q = parse(c, schemas.none, query(c));
    if (!q.ok) return q.response;
    return streamSSE(c, async (stream) => {
      const pending: IndexUpdate[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = subscribe((u) => {
        pending.push(u);
        wake?.();
      });
      stream.onAbort(() => wake?.());
      try {
        await stream.writeSSE({ event: "hello", data: JSON.stringify({ block: views.status().indexedBlock }) });
        while (!stream.aborted) {
          const next = pending.shift();
          if (next !== undefined) {
            await stream.writeSSE({ event: "update", data: JSON.stringify(next), id: String(next.block) });
            continue;
          }
          // A comment line every 15 s keeps proxies from closing an idle stream.
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 15_000).unref();
          });
          wake = undefined;
          if (pending.length === 0 && !stream.aborted) await stream.write(": keep-alive\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return api;
}
