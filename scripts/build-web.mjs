#!/usr/bin/env node
// Build the dashboard (web/, TypeScript for the browser) into dist/web/, which
// `paravm serve` serves at `/`. Run by `npm run build` and before `npm test`.
//
//   node scripts/build-web.mjs [--no-check]
//
// 1. Type-check web/ with its own tsconfig (DOM types; esbuild strips types, it does not
//    check them). --no-check skips this, for a quick rebuild while editing.
// 2. Bundle web/main.ts → dist/web/app.js and web/style.css (which imports xterm's and
//    uPlot's stylesheets) → dist/web/app.css with esbuild; copy web/index.html.
// The output is written to a temporary directory and renamed into place, so a daemon
// serving dist/web/ never serves half a build.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const web = join(root, "web");
const out = join(root, "dist", "web");
const tmp = `${out}.${process.pid}.tmp`;

/** Browsers the page is written for: Debian's chromium and anything as recent. */
const BROWSER_TARGETS = ["chrome110", "firefox110", "safari16"];

const fail = (line) => {
  process.stderr.write(`build-web: error: ${line}\n`);
  process.exit(1);
};

if (!process.argv.includes("--no-check")) {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(web, "tsconfig.json")], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) fail("web/ does not type-check (above)");
}

rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
try {
  await build({
    entryPoints: { app: join(web, "main.ts") },
    bundle: true,
    format: "esm",
    target: BROWSER_TARGETS,
    minify: true,
    sourcemap: "linked",
    outdir: tmp,
    logLevel: "warning",
    legalComments: "linked",
  });
  await build({
    entryPoints: { app: join(web, "style.css") },
    bundle: true,
    minify: true,
    outdir: tmp,
    logLevel: "warning",
  });
} catch (e) {
  rmSync(tmp, { recursive: true, force: true });
  fail(`esbuild: ${e instanceof Error ? e.message : String(e)}`);
}
copyFileSync(join(web, "index.html"), join(tmp, "index.html"));
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
