/**
 * The dashboard's files (built by esbuild into dist/web/) at `/`, or a one-line page that
 * says it is not built. Only files under the root are served: a path is resolved and
 * must stay inside it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** dist/web, beside the compiled dist/src/. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../../../web/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

export const PLACEHOLDER_PAGE =
  "<!doctype html><title>paravm</title><p>paravm daemon: the dashboard is not built (dist/web/ is missing); the API is at /api/v1/, its schema at /openapi.json.</p>\n";

/** The file for a URL path: its bytes and type, or null (not there, or outside the root). */
export function staticFile(root: string, urlPath: string): { body: Buffer | string; type: string } | null {
  if (!existsSync(root)) return urlPath === "/" || urlPath === "/index.html" ? { body: PLACEHOLDER_PAGE, type: TYPES[".html"]! } : null;
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const base = resolve(root);
  let file = resolve(join(base, rel));
  if (file !== base && !file.startsWith(base + sep)) return null;
  try {
    if (statSync(file).isDirectory()) file = join(file, "index.html");
    return { body: readFileSync(file), type: TYPES[extname(file)] ?? "application/octet-stream" };
  } catch {
    return null;
  }
}
