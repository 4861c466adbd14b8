import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { PACKAGE_ROOT } from "../package-root.js";
import { createApi, notFound, type ApiOptions } from "./api.js";

const WEB = join(PACKAGE_ROOT, "agents", "explorer", "web");
const UPLOT = join(dirname(createRequire(import.meta.url).resolve("uplot")));

/** Everything the page loads, from this package (no CDN): name → file and content type. */
const ASSETS: Record<string, { file: string; type: string }> = {
  "/": { file: join(WEB, "index.html"), type: "text/html; charset=utf-8" },
  "/app.js": { file: join(WEB, "app.js"), type: "text/javascript; charset=utf-8" },
  "/format.js": { file: join(WEB, "format.js"), type: "text/javascript; charset=utf-8" },
  "/plots.js": { file: join(WEB, "plots.js"), type: "text/javascript; charset=utf-8" },
  "/style.css": { file: join(WEB, "style.css"), type: "text/css; charset=utf-8" },
  "/vendor/uPlot.iife.min.js": { file: join(UPLOT, "uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "/vendor/uPlot.min.css": { file: join(UPLOT, "uPlot.min.css"), type: "text/css; charset=utf-8" },
};

/** Scripts, styles and data only from this server; no frames, no form posts. */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'";

export interface ServerOptions extends ApiOptions {
  host: string;
  port: number;
}

export interface ExplorerServer {
  url: string;
  close(): Promise<void>;
}

/** The web page and the API (under /api) on one read-only HTTP server. */
export function createApp(options: ApiOptions): Hono {
  const app = new Hono();
  app.use(async (c, next) => {
    await next();
    c.header("Content-Security-Policy", CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
  });
  app.route("/api", createApi(options));
  const bodies = new Map(Object.entries(ASSETS).map(([path, a]) => [path, { body: readFileSync(a.file), type: a.type }]));
  for (const [path, asset] of bodies) {
    app.get(path, (c) => c.body(asset.body, 200, { "Content-Type": asset.type, "Cache-Control": "no-cache" }));
  }
  app.notFound(notFound);
  return app;
}

/** Starts the server on `host:port` (port 0: any free port) and resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<ExplorerServer> {
  const app = createApp(options);
  return await new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, (info: AddressInfo) => {
      const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}/`,
        close: () =>
          new Promise<void>((done) => {
            // Open event streams would hold close() forever.
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
    server.once("error", reject);
  });
}
