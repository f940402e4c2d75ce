#!/usr/bin/env node
// Idempotent setup for paravm: host tools from Debian packages, then npm dependencies.
// Run by `npm test`, `npm run demo` and the benches; does nothing when all is present.
//
//   node scripts/setup.mjs [--quiet]     --quiet: print nothing when there is nothing to do
//
// Installs (only when something is missing; as root, or through `sudo -n` otherwise):
//   gcc-riscv64-unknown-elf  qemu-system-misc  opensbi  device-tree-compiler  g++  tmux  chromium
// Then builds the guest-RAM addon (native/guest-ram.cc, docs/memory.md) into
// $PARAVM_CACHE/native/<key>/ (default ~/.cache/paravm), once per source, Node ABI and CPU;
// if it cannot be built, one warning: paravm then runs without giving memory back.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const quiet = process.argv.includes("--quiet");

/** What we need on the host, and the Debian package that provides it. */
const REQUIREMENTS = [
  { what: "riscv64-unknown-elf-gcc", kind: "command", pkg: "gcc-riscv64-unknown-elf" },
  { what: "qemu-system-riscv64", kind: "command", pkg: "qemu-system-misc" },
  { what: "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin", kind: "file", pkg: "opensbi" },
  { what: "dtc", kind: "command", pkg: "device-tree-compiler" },
  { what: "g++", kind: "command", pkg: "g++" },
  // A pseudo-terminal for the test that reads `paravm up`'s live table off a screen.
  { what: "tmux", kind: "command", pkg: "tmux" },
  // The dashboard's browser tests drive Debian's chromium through playwright-core
  // (test/web/); playwright's own browser downloads are never used.
  { what: "/usr/bin/chromium", kind: "file", pkg: "chromium" },
];

const say = (line) => process.stdout.write(`setup: ${line}\n`);
const fail = (line) => {
  process.stderr.write(`setup: error: ${line}\n`);
  process.exit(1);
};

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, cmd))) return true;
  }
  return false;
}

function present(req) {
  return req.kind === "command" ? onPath(req.what) : existsSync(req.what);
}

/** Run a command with inherited stdio; fail with a clear message on a non-zero exit. */
function run(cmd, args, what, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"], env });
  if (r.error) fail(`${what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} failed (${cmd} exited with ${r.status ?? r.signal})`);
}

function installPackages(pkgs) {
  if (!onPath("apt-get")) {
    fail(`missing ${pkgs.join(", ")} and there is no apt-get here: install the equivalent packages by hand`);
  }
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot && !onPath("sudo")) fail(`missing ${pkgs.join(", ")}: run this script as root (no sudo found)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // sudo drops the environment by default: pass the variable on its command line through env(1).
  const apt = (args) =>
    isRoot ? ["apt-get", args] : ["sudo", ["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", ...args]];

  say(`installing ${pkgs.join(" ")} (Debian packages; this can take a few minutes)`);
  say("apt-get update …");
  const [c1, a1] = apt(["update", "-q"]);
  run(c1, a1, "apt-get update", env);
  say(`apt-get install ${pkgs.join(" ")} …`);
  const [c2, a2] = apt(["install", "-y", "-q", ...pkgs]);
  run(c2, a2, "apt-get install", env);
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

function npmDependencies() {
  const lock = join(root, "package-lock.json");
  const modules = join(root, "node_modules");
  if (!existsSync(modules)) {
    /* install below */
  } else if (lstatSync(modules).isSymbolicLink()) {
    // Shared with another checkout (a git worktree links the main one's): `npm ci` would
    // empty that checkout's node_modules through the link. The checkout it belongs to keeps it.
    return false;
  } else if (!existsSync(lock)) {
    return false;
  } else {
    // npm records what it installed in node_modules/.package-lock.json; older than the lock = stale.
    const installed = Math.max(mtime(join(modules, ".package-lock.json")), mtime(modules));
    if (installed >= mtime(lock)) return false;
  }
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  if (existsSync(lock)) {
    say("npm ci (installing node dependencies from package-lock.json) …");
    run(npm, ["ci", "--no-audit", "--no-fund"], "npm ci");
  } else {
    say("npm install (no package-lock.json) …");
    run(npm, ["install", "--no-audit", "--no-fund"], "npm install");
  }
  return true;
}

/**
 * Build native/guest-ram.cc unless the cache has it. The key must match nativeAddonPath()
 * in src/mem/host-memory.ts: sha256 of the source, Node's module ABI and the CPU.
 * Returns "built", "present", "none" (no source: a partial checkout) or a warning.
 */
function nativeAddon() {
  const src = join(root, "native", "guest-ram.cc");
  if (!existsSync(src)) return "none";
  const source = readFileSync(src);
  const key = createHash("sha256").update(source).update(`\0${process.versions.modules}\0${process.arch}`).digest("hex").slice(0, 16);
  const dir = join(process.env.PARAVM_CACHE ?? join(homedir(), ".cache", "paravm"), "native", key);
  const out = join(dir, "guest-ram.node");
  if (existsSync(out)) return "present";
  const include = [resolve(process.execPath, "..", "..", "include", "node"), "/usr/include/node"].find((d) => existsSync(join(d, "node.h")));
  if (include === undefined) return "no Node headers (node.h) next to this node or in /usr/include/node";
  if (!onPath("g++")) return "no g++";
  mkdirSync(dir, { recursive: true });
  // Built beside its final name and renamed: a concurrent setup never loads half a file.
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync("g++", ["-O2", "-shared", "-fPIC", "-std=c++17", "-DNODE_GYP_MODULE_NAME=guest_ram", `-I${include}`, src, "-o", tmp], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    return `g++ failed: ${(r.error?.message ?? r.stderr ?? "").trim().split("\n").slice(0, 3).join(" / ")}`;
  }
  renameSync(tmp, out);
  return "built";
}

const missing = REQUIREMENTS.filter((r) => !present(r));
if (missing.length > 0) {
  for (const r of missing) say(`missing ${r.what} (package ${r.pkg})`);
  installPackages([...new Set(missing.map((r) => r.pkg))]);
  const still = REQUIREMENTS.filter((r) => !present(r));
  if (still.length > 0) fail(`still missing after install: ${still.map((r) => r.what).join(", ")}`);
}
const installedNpm = npmDependencies();
const addon = nativeAddon();
if (addon === "built") say("built the guest-RAM addon (native/guest-ram.cc): guest memory can be given back to the host");
else if (addon !== "present" && addon !== "none") {
  process.stderr.write(`setup: warning: guest-RAM addon not built (${addon}); paravm works, but a balloon only zero-fills (host memory does not fall)\n`);
}
if (!quiet || missing.length > 0 || installedNpm) say("all tools present");
