#!/usr/bin/env node
// Idempotent setup for paravm: host tools from Debian packages, then npm dependencies.
// Run by `npm test`, `npm run demo` and the benches; does nothing when all is present.
//
//   node scripts/setup.mjs [--quiet]     --quiet: print nothing when there is nothing to do
//
// Installs (only when something is missing; as root, or through `sudo -n` otherwise):
//   gcc-riscv64-unknown-elf  qemu-system-misc  opensbi  device-tree-compiler
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const quiet = process.argv.includes("--quiet");

/** What we need on the host, and the Debian package that provides it. */
const REQUIREMENTS = [
  { what: "riscv64-unknown-elf-gcc", kind: "command", pkg: "gcc-riscv64-unknown-elf" },
  { what: "qemu-system-riscv64", kind: "command", pkg: "qemu-system-misc" },
  { what: "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin", kind: "file", pkg: "opensbi" },
  { what: "dtc", kind: "command", pkg: "device-tree-compiler" },
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

const missing = REQUIREMENTS.filter((r) => !present(r));
if (missing.length > 0) {
  for (const r of missing) say(`missing ${r.what} (package ${r.pkg})`);
  installPackages([...new Set(missing.map((r) => r.pkg))]);
  const still = REQUIREMENTS.filter((r) => !present(r));
  if (still.length > 0) fail(`still missing after install: ${still.map((r) => r.what).join(", ")}`);
}
const installedNpm = npmDependencies();
if (!quiet || missing.length > 0 || installedNpm) say("all tools present");
