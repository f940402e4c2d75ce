#!/usr/bin/env node
// Build paravm's guest images into ~/.cache/paravm/<hash-of-inputs>/ — idempotent: with a
// warm cache it only prints the directory.
//
//   node scripts/build-guests.mjs [--force] [--quiet] [--keep-build]
//   node scripts/build-guests.mjs --print-dir
//
// Output (stdout): the cache directory, alone on the last line. Progress goes to stderr.
//   --print-dir   print the directory for the current inputs and exit: 0 when it is
//                 complete, 2 when it has not been built (nothing is built or installed)
//   --force       rebuild everything, ignoring the cache (kernel and busybox parts too)
//   --quiet       print no progress when the cache is warm
//   --keep-build  keep the kernel and busybox build trees (in .../parts/*/build)
//
// What is built, from Debian packages only (installed with apt-get when missing, as root
// or through `sudo -n`):
//   Image              linux-source-6.1 with guests/patches/*.patch applied (in name
//                      order; a patch that no longer applies stops the build), `tinyconfig`
//                      + guests/kernel.config, cross-built with gcc-riscv64-linux-gnu on
//                      every core; also vmlinux, System.map and the final kernel .config
//                      (kernel.config)
//   busybox            Debian's busybox source package (`apt-get source`, with a deb-src
//                      list derived from this machine's apt sources and kept in the
//                      cache), defconfig + guests/busybox.config, static against
//                      libc6-dev-riscv64-cross
//   paravm-atomics     guests/atomics/atomics.c, static against libc6-dev-riscv64-cross
//   initramfs.cpio.gz  guests/rootfs.txt packed by the kernel's usr/gen_init_cpio
//   disk.ext2          64 MiB ext2 made with `mke2fs -d guests/disk` (a pristine image:
//                      copy it before handing it to a guest read-write)
//   manifest.json      paths, sizes, sha256s, kernel release, config hashes, versions
//
// The key (the directory name) hashes every file under guests/, this script, and the
// versions of the Debian packages used (dpkg-query -W). The kernel and busybox are cached
// separately under parts/ with their own keys, so changing /init repacks in seconds.
// Concurrent builders serialize on a lock file; every result is built in a temporary
// directory and renamed into place, so a reader never sees a half-built directory.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { availableParallelism, homedir, hostname } from "node:os";
import { basename, delimiter, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = dirname(dirname(SCRIPT));
const GUESTS = join(ROOT, "guests");
const PATCHES = join(GUESTS, "patches");
const ATOMICS_SRC = join(GUESTS, "atomics", "atomics.c");
const CACHE = process.env.PARAVM_CACHE ?? join(homedir(), ".cache", "paravm");

const ARCH = "riscv";
const CROSS = "riscv64-linux-gnu-";
const LINUX_TARBALL = "/usr/src/linux-source-6.1.tar.xz";
const DISK_SIZE = "64M";
const JOBS = availableParallelism();

/** Debian packages the build needs: installed when any is missing. */
const APT_PACKAGES = [
  "gcc-riscv64-linux-gnu",
  "libc6-dev-riscv64-cross",
  "linux-source-6.1",
  "make",
  "bc",
  "bison",
  "flex",
  "libssl-dev",
  "libelf-dev",
  "cpio",
  "gzip",
  "xz-utils",
  "e2fsprogs",
  "dpkg-dev",
  "patch",
];
/** Packages whose versions go into the keys (dpkg-query patterns; the compiler proper
 *  is gcc-N-riscv64-linux-gnu). */
const KEY_PACKAGES = [
  "gcc-riscv64-linux-gnu",
  "gcc-[0-9]*-riscv64-linux-gnu",
  "binutils-riscv64-linux-gnu",
  "libc6-dev-riscv64-cross",
  "linux-source-6.1",
  "e2fsprogs",
];

// ---------------------------------------------------------------------------------------
// command line

const args = process.argv.slice(2);
const opt = {
  printDir: args.includes("--print-dir"),
  force: args.includes("--force"),
  quiet: args.includes("--quiet"),
  keepBuild: args.includes("--keep-build"),
};
for (const a of args) {
  if (!["--print-dir", "--force", "--quiet", "--keep-build"].includes(a)) {
    if (a === "-h" || a === "--help") {
      process.stdout.write(readFileSync(SCRIPT, "utf8").split("\nimport ")[0].replace(/^#!.*\n/, "").replace(/^\/\/ ?/gm, ""));
      process.exit(0);
    }
    process.stderr.write(`build-guests: unknown option ${a} (try --help)\n`);
    process.exit(64);
  }
}

// ---------------------------------------------------------------------------------------
// output

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
const say = (line) => process.stderr.write(`build-guests [${elapsed()}] ${line}\n`);

class BuildError extends Error {
  /** @param {string} message @param {string} [log] a log file whose tail to print */
  constructor(message, log) {
    super(message);
    this.log = log;
  }
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

// ---------------------------------------------------------------------------------------
// small helpers

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

function sha256File(path) {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  const buf = Buffer.alloc(1 << 20);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

/** A command that may live in /sbin (mke2fs) when PATH lacks it. */
function findTool(cmd) {
  return onPath(cmd) ?? ["/usr/sbin", "/sbin"].map((d) => join(d, cmd)).find((p) => existsSync(p)) ?? null;
}

/** Files under dir, recursively, sorted, as paths relative to dir. */
function listFiles(dir, base = dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) listFiles(p, base, out);
    else if (e.isFile()) out.push(relative(base, p));
  }
  return out;
}

function hashFiles(files) {
  const h = createHash("sha256");
  for (const [name, path] of files) {
    h.update(`${name}\0`);
    h.update(readFileSync(path));
    h.update("\0");
  }
  return h.digest("hex");
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

// ---------------------------------------------------------------------------------------
// child processes

let currentChild = null;

/**
 * Run a command. Output goes to `log` (appended) or is inherited; a non-zero exit throws a
 * BuildError naming `what` (with the log's tail). `progress(line)` sees each output line.
 */
function run(cmd, argv, { cwd = ROOT, env = process.env, log = null, what = cmd, input = null, progress = null } = {}) {
  return new Promise((resolve, reject) => {
    let out = null;
    if (log) {
      out = createWriteStream(log, { flags: "a" });
      out.write(`\n$ ${[cmd, ...argv].join(" ")}   (in ${cwd})\n`);
    }
    const child = spawn(cmd, argv, {
      cwd,
      env,
      stdio: [input === null ? "ignore" : "pipe", log ? "pipe" : "inherit", log ? "pipe" : "inherit"],
      detached: true, // own process group: Ctrl-C kills the whole make tree
    });
    currentChild = child;
    if (input !== null) {
      child.stdin.on("error", () => {});
      child.stdin.end(input);
    }
    if (log) {
      let partial = "";
      const onData = (chunk) => {
        out.write(chunk);
        if (progress) {
          const text = partial + chunk.toString("utf8");
          const lines = text.split("\n");
          partial = lines.pop() ?? "";
          for (const l of lines) progress(l);
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
    }
    child.on("error", (e) => {
      currentChild = null;
      reject(new BuildError(`${what}: cannot run ${cmd}: ${e.message}`, log ?? undefined));
    });
    child.on("close", (code, signal) => {
      currentChild = null;
      const done = () => {
        if (code === 0) resolve();
        else reject(new BuildError(`${what} failed (${cmd} exited with ${code ?? signal})`, log ?? undefined));
      };
      if (out) out.end(done);
      else done();
    });
  });
}

/** Synchronous, captured: for quick queries. */
function capture(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: "utf8", ...opts });
  return { ok: r.status === 0, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}

// ---------------------------------------------------------------------------------------
// keys

/** Versions of the Debian packages that shape the output ("pkg=version" lines). */
function packageVersions() {
  const r = capture("dpkg-query", ["-W", "-f", "${Package}=${Version} ${db:Status-Abbrev}\n", ...KEY_PACKAGES]);
  const lines = r.stdout
    .split("\n")
    .filter((l) => /^\S+=\S+ ii/.test(l))
    .map((l) => l.split(" ")[0])
    .sort();
  const found = new Set(lines.map((l) => l.split("=")[0]));
  for (const p of KEY_PACKAGES) if (!p.includes("*") && !found.has(p)) lines.push(`${p}=missing`);
  return lines;
}

/**
 * The final key covers this whole script; a part's key covers only the code that makes it
 * (the functions' source text), so editing, say, the manifest does not rebuild the kernel.
 */
function computeKeys() {
  const pkgs = packageVersions().join("\n");
  const k = (files, code) => sha256(`${pkgs}\n${code}\n${hashFiles(files)}`).slice(0, 16);
  const guestFiles = listFiles(GUESTS).map((f) => [`guests/${f}`, join(GUESTS, f)]);
  const common = [ARCH, CROSS, run, buildEnv, parseFragment, readConfig, checkFragment, tempFor, publish].map(String).join("\n");
  return {
    packages: pkgs.split("\n"),
    missing: pkgs.includes("=missing"),
    kernel: k(
      [["guests/kernel.config", join(GUESTS, "kernel.config")], ...kernelPatches().map((p) => [relative(ROOT, p), p])],
      `${common}\n${LINUX_TARBALL}\n${[buildKernel, kernelPatches, applyKernelPatches].map(String).join("\n")}`,
    ),
    busybox: k(
      [["guests/busybox.config", join(GUESTS, "busybox.config")]],
      `${common}\n${[buildBusybox, fetchBusyboxSource, debSrcSources, applyFragment].map(String).join("\n")}`,
    ),
    all: k([["scripts/build-guests.mjs", SCRIPT], ...guestFiles], ""),
  };
}

const isDone = (dir) => existsSync(join(dir, "DONE"));

// ---------------------------------------------------------------------------------------
// lock: one builder at a time per cache; a lock whose owner died is taken over

const LOCK = join(CACHE, ".build.lock");
let haveLock = false;

async function acquireLock() {
  mkdirSync(CACHE, { recursive: true });
  let told = false;
  for (;;) {
    try {
      const fd = openSync(LOCK, "wx");
      writeSync(fd, `${process.pid} ${hostname()}\n`);
      closeSync(fd);
      haveLock = true;
      return;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
    }
    let pid = 0;
    let host = "";
    try {
      [pid, host] = readFileSync(LOCK, "utf8").trim().split(/\s+/);
      pid = Number(pid);
    } catch {
      continue; // removed meanwhile
    }
    let alive = false;
    if (pid > 0 && host === hostname()) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = e.code === "EPERM";
      }
    } else if (pid > 0) {
      // another host sharing the cache: trust the lock for a day
      alive = Date.now() - statSync(LOCK).mtimeMs < 86400e3;
    }
    if (!alive) {
      say(`removing stale lock of process ${pid}`);
      try {
        unlinkSync(LOCK);
      } catch {}
      continue;
    }
    if (!told) say(`waiting for another build-guests (process ${pid}) to finish …`);
    told = true;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function releaseLock() {
  if (!haveLock) return;
  haveLock = false;
  try {
    unlinkSync(LOCK);
  } catch {}
}

/**
 * Remove a directory without waiting: a kernel tree is ~80,000 files and deleting it takes
 * half a minute on a slow disk. It is renamed into the cache's trash at once and deleted
 * by a detached `rm -rf`; a trash left behind is deleted by the next build.
 */
let trashCount = 0;
function discard(path) {
  if (!existsSync(path)) return;
  const trash = join(CACHE, ".trash");
  mkdirSync(trash, { recursive: true });
  const to = join(trash, `${process.pid}-${Date.now()}-${trashCount++}`);
  try {
    renameSync(path, to);
  } catch {
    rmSync(path, { recursive: true, force: true });
    return;
  }
  emptyTrash();
}

function emptyTrash() {
  const trash = join(CACHE, ".trash");
  if (!existsSync(trash)) return;
  for (const e of readdirSync(trash)) {
    const child = spawn("rm", ["-rf", join(trash, e)], { detached: true, stdio: "ignore" });
    child.on("error", () => {});
    child.unref();
  }
}

/** A fresh temporary directory inside the cache, for something to be renamed to `dest`. */
function tempFor(dest) {
  const tmp = join(dirname(dest), `.tmp-${basename(dest)}-${process.pid}`);
  discard(tmp);
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

/** Move a finished temporary directory into place (replacing an older incomplete one). */
function publish(tmp, dest) {
  writeFileSync(join(tmp, "DONE"), `${new Date().toISOString()}\n`);
  discard(dest);
  renameSync(tmp, dest);
}

/** Remove leftovers of builders that died (their temp dirs); we hold the lock. */
function cleanStaleTemps(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir)) {
    if (e.startsWith(".tmp-")) discard(join(dir, e));
  }
}

// ---------------------------------------------------------------------------------------
// packages

async function ensurePackages() {
  const r = capture("dpkg-query", ["-W", "-f", "${Package} ${db:Status-Abbrev}\n", ...APT_PACKAGES]);
  const have = new Set(
    r.stdout
      .split("\n")
      .filter((l) => / ii/.test(l))
      .map((l) => l.split(" ")[0]),
  );
  const missing = APT_PACKAGES.filter((p) => !have.has(p));
  if (missing.length === 0 && existsSync(LINUX_TARBALL)) return;
  if (!onPath("apt-get")) throw new BuildError(`missing Debian packages ${missing.join(" ")} and there is no apt-get`);
  if (!isRoot && !onPath("sudo")) throw new BuildError(`missing ${missing.join(" ")}: run as root (no sudo found)`);
  const apt = (argv) =>
    isRoot ? ["apt-get", argv] : ["sudo", ["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", ...argv]];
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  mkdirSync(CACHE, { recursive: true });
  const log = join(CACHE, "apt.log");
  say(`installing Debian packages: ${missing.join(" ")} (log: ${log})`);
  const [c1, a1] = apt(["-o", "DPkg::Lock::Timeout=600", "update", "-q"]);
  await run(c1, a1, { env, log, what: "apt-get update" });
  const [c2, a2] = apt(["-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "--no-install-recommends", ...missing]);
  await run(c2, a2, { env, log, what: "apt-get install" });
  if (!existsSync(LINUX_TARBALL)) throw new BuildError(`${LINUX_TARBALL} is missing after installing linux-source-6.1`);
}

// ---------------------------------------------------------------------------------------
// config fragments

/** Parse `CONFIG_X=v` and `# CONFIG_X is not set` lines into [name, value|null]. */
function parseFragment(text) {
  const out = [];
  for (const line of text.split("\n")) {
    let m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) {
      out.push([m[1], m[2]]);
      continue;
    }
    m = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line.trim());
    if (m) out.push([m[1], null]);
  }
  return out;
}

function readConfig(path) {
  const map = new Map();
  for (const [k, v] of parseFragment(readFileSync(path, "utf8"))) map.set(k, v);
  return map;
}

/** Every fragment assignment must hold in the final config; "not set" must not be =y/=m. */
function checkFragment(fragmentPath, configPath, what) {
  const final = readConfig(configPath);
  const bad = [];
  for (const [k, want] of parseFragment(readFileSync(fragmentPath, "utf8"))) {
    const got = final.get(k) ?? null;
    if (want === null ? got === "y" || got === "m" : got !== want) {
      bad.push(`  ${k}: wanted ${want ?? "not set"}, got ${got ?? "not set"}`);
    }
  }
  if (bad.length > 0) {
    throw new BuildError(
      `${what}: ${bad.length} symbol(s) of ${relative(ROOT, fragmentPath)} did not survive (dependency not met?):\n${bad.join("\n")}`,
    );
  }
}

/** Apply a fragment to a .config in place (busybox has no merge_config.sh). */
function applyFragment(configPath, fragmentPath) {
  const frag = parseFragment(readFileSync(fragmentPath, "utf8"));
  const lines = readFileSync(configPath, "utf8").split("\n");
  const index = new Map();
  lines.forEach((l, i) => {
    const m = /^(?:# )?(CONFIG_[A-Za-z0-9_]+)[= ]/.exec(l);
    if (m) index.set(m[1], i);
  });
  for (const [k, v] of frag) {
    const text = v === null ? `# ${k} is not set` : `${k}=${v}`;
    if (index.has(k)) lines[index.get(k)] = text;
    else lines.push(text);
  }
  writeFileSync(configPath, lines.join("\n"));
}

// ---------------------------------------------------------------------------------------
// kernel

/** guests/patches/*.patch, in name order. */
function kernelPatches() {
  if (!existsSync(PATCHES)) return [];
  return readdirSync(PATCHES)
    .filter((f) => f.endsWith(".patch"))
    .sort()
    .map((f) => join(PATCHES, f));
}

/**
 * Apply guests/patches/*.patch to the unpacked kernel source, each checked first with
 * `patch --dry-run`. No fuzz and no reversed or already-applied patches: one that does
 * not apply exactly (e.g. after a linux-source-6.1 update) stops the build, naming it.
 */
async function applyKernelPatches(src, log) {
  for (const file of kernelPatches()) {
    const name = relative(ROOT, file);
    const argv = ["-p1", "--forward", "--batch", "--fuzz=0", "--no-backup-if-mismatch", "-d", src, "-i", file];
    const dry = capture("patch", ["--dry-run", ...argv]);
    if (!dry.ok) {
      const why = dry.error ? dry.error.message : `${dry.stdout}${dry.stderr}`.trim();
      throw new BuildError(`${name} does not apply to ${basename(LINUX_TARBALL)} (patch --dry-run failed):\n${why}`);
    }
    say(`kernel: applying ${name}`);
    await run("patch", argv, { log, what: `applying ${name}` });
  }
}

const buildEnv = (extra = {}) => ({
  ...process.env,
  ARCH,
  CROSS_COMPILE: CROSS,
  KBUILD_BUILD_USER: "paravm",
  KBUILD_BUILD_HOST: "paravm",
  KBUILD_BUILD_VERSION: "1",
  LC_ALL: "C",
  ...extra,
});

async function buildKernel(dest) {
  const started = Date.now();
  const tmp = tempFor(dest);
  const log = join(tmp, "kernel-build.log");
  const src = join(tmp, "build", "src");
  const obj = join(tmp, "build", "obj");
  mkdirSync(src, { recursive: true });
  mkdirSync(obj, { recursive: true });
  // A stable build date (the source package's), so `uname -v` does not change per build.
  const stamp = new Date(statSync(LINUX_TARBALL).mtimeMs).toUTCString();
  const env = buildEnv({ KBUILD_BUILD_TIMESTAMP: stamp });

  say(`kernel: unpacking ${LINUX_TARBALL} (log: ${log})`);
  await run("tar", ["-xf", LINUX_TARBALL, "-C", src, "--strip-components=1"], { log, what: "unpacking the kernel source" });
  await applyKernelPatches(src, log);

  say("kernel: configuring (tinyconfig + guests/kernel.config)");
  const make = (argv, what, progress) => run("make", ["-C", src, `O=${obj}`, ...argv], { env, log, what, progress });
  await make(["tinyconfig"], "make tinyconfig");
  await run(join(src, "scripts/kconfig/merge_config.sh"), ["-m", "-O", obj, join(obj, ".config"), join(GUESTS, "kernel.config")], {
    cwd: src,
    env,
    log,
    what: "merge_config.sh",
  });
  await make(["olddefconfig"], "make olddefconfig");
  checkFragment(join(GUESTS, "kernel.config"), join(obj, ".config"), "kernel config");

  say(`kernel: building Image with make -j${JOBS} (takes a few minutes; log: ${log})`);
  let compiled = 0;
  let last = "";
  const beat = setInterval(() => say(`kernel: … ${compiled} files compiled${last ? `, now ${last}` : ""}`), 30000);
  try {
    await make([`-j${JOBS}`, "Image"], "kernel build", (line) => {
      const m = /^\s+CC\s+(\S+)/.exec(line);
      if (m) {
        compiled++;
        last = m[1];
      }
    });
  } finally {
    clearInterval(beat);
  }

  say("kernel: done; keeping Image, vmlinux, System.map, .config, gen_init_cpio");
  copyFileSync(join(obj, "arch/riscv/boot/Image"), join(tmp, "Image"));
  copyFileSync(join(obj, "vmlinux"), join(tmp, "vmlinux"));
  copyFileSync(join(obj, "System.map"), join(tmp, "System.map"));
  copyFileSync(join(obj, ".config"), join(tmp, "kernel.config"));
  copyFileSync(join(obj, "usr/gen_init_cpio"), join(tmp, "gen_init_cpio"));
  const release = readFileSync(join(obj, "include/config/kernel.release"), "utf8").trim();
  const uts = ["include/generated/utsversion.h", "include/generated/compile.h"]
    .map((f) => join(obj, f))
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  const version = /UTS_VERSION "([^"]*)"/.exec(uts)?.[1] ?? "";
  writeFileSync(join(tmp, "kernel.json"), JSON.stringify({ release, version, buildSeconds: Math.round((Date.now() - started) / 1000) }, null, 2) + "\n");
  if (!opt.keepBuild) discard(join(tmp, "build"));
  publish(tmp, dest);
}

// ---------------------------------------------------------------------------------------
// busybox

/** A deb-src list made from this machine's own Debian apt sources (deb → deb-src). */
function debSrcSources() {
  const codename = /^VERSION_CODENAME=(.*)$/m.exec(existsSync("/etc/os-release") ? readFileSync("/etc/os-release", "utf8") : "")?.[1]?.replace(/"/g, "");
  const suiteOk = (suites) => !codename || suites.split(/\s+/).some((s) => s === codename || s.startsWith(`${codename}-`));
  const oneLine = [];
  const deb822 = [];
  const files = [];
  if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  if (existsSync("/etc/apt/sources.list.d")) {
    for (const f of readdirSync("/etc/apt/sources.list.d").sort()) files.push(join("/etc/apt/sources.list.d", f));
  }
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    if (f.endsWith(".list")) {
      for (const raw of text.split("\n")) {
        const line = raw.replace(/#.*$/, "").trim();
        const m = /^deb\s+((?:\[[^\]]*\]\s+)?)(\S+)\s+(\S+)\s+(.+)$/.exec(line);
        if (m && suiteOk(m[3])) oneLine.push(`deb-src ${m[1]}${m[2]} ${m[3]} ${m[4]}`);
      }
    } else if (f.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const fields = new Map();
        for (const l of stanza.split("\n")) {
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(l);
          if (m) fields.set(m[1].toLowerCase(), m[2]);
        }
        if (!(fields.get("types") ?? "").split(/\s+/).includes("deb")) continue;
        if ((fields.get("enabled") ?? "yes").toLowerCase() === "no") continue;
        if (!suiteOk(fields.get("suites") ?? "")) continue;
        deb822.push(
          stanza
            .split("\n")
            .filter((l) => !/^\s*#/.test(l))
            .map((l) => (/^Types:/i.test(l) ? "Types: deb-src" : l))
            .join("\n"),
        );
      }
    }
  }
  if (oneLine.length === 0 && deb822.length === 0) {
    throw new BuildError("no Debian apt sources found in /etc/apt to derive a deb-src list from");
  }
  const asText = (entries, sep) => (entries.length > 0 ? entries.join(sep) + "\n" : "");
  return { oneLine: asText(oneLine, "\n"), deb822: asText(deb822, "\n\n") };
}

/** `apt-get source busybox` with a private deb-src list and private apt state. */
async function fetchBusyboxSource(work, log) {
  const apt = join(work, "apt");
  const parts = join(apt, "sources.list.d");
  for (const d of [parts, join(apt, "lists", "partial"), join(apt, "cache", "archives", "partial")]) mkdirSync(d, { recursive: true });
  const { oneLine, deb822 } = debSrcSources();
  if (oneLine) writeFileSync(join(parts, "paravm-src.list"), oneLine);
  if (deb822) writeFileSync(join(parts, "paravm-src.sources"), deb822);
  const o = [
    "-o", "Dir::Etc::SourceList=/dev/null",
    "-o", `Dir::Etc::SourceParts=${parts}`,
    "-o", `Dir::State::Lists=${join(apt, "lists")}`,
    "-o", `Dir::Cache=${join(apt, "cache")}`,
    "-o", "APT::Sandbox::User=root",
    "-q",
  ];
  if (!isRoot) o.splice(o.indexOf("APT::Sandbox::User=root") - 1, 2); // non-root: default sandbox
  await run("apt-get", [...o, "update"], { log, what: "apt-get update (deb-src)" });
  const src = join(work, "src");
  mkdirSync(src, { recursive: true });
  await run("apt-get", [...o, "source", "busybox"], { cwd: src, log, what: "apt-get source busybox" });
  const dir = readdirSync(src).find((e) => e.startsWith("busybox-") && statSync(join(src, e)).isDirectory());
  const dsc = readdirSync(src).find((e) => e.endsWith(".dsc"));
  if (!dir) throw new BuildError("apt-get source busybox produced no busybox-* directory", log);
  const debianVersion = dsc ? /^busybox_(.*)\.dsc$/.exec(dsc)?.[1] ?? "" : "";
  return { dir: join(src, dir), debianVersion };
}

async function buildBusybox(dest) {
  const started = Date.now();
  const tmp = tempFor(dest);
  const log = join(tmp, "busybox-build.log");
  const work = join(tmp, "build");
  say(`busybox: fetching Debian's source package (log: ${log})`);
  const { dir, debianVersion } = await fetchBusyboxSource(work, log);
  say(`busybox: source ${debianVersion}; configuring (defconfig + guests/busybox.config, static)`);
  const env = buildEnv();
  const make = (argv, what, input = null) => run("make", ["-C", dir, `CROSS_COMPILE=${CROSS}`, ...argv], { env, log, what, input });
  await make(["defconfig"], "busybox defconfig");
  applyFragment(join(dir, ".config"), join(GUESTS, "busybox.config"));
  await make(["oldconfig"], "busybox oldconfig", "\n".repeat(2000));
  checkFragment(join(GUESTS, "busybox.config"), join(dir, ".config"), "busybox config");
  say(`busybox: building with make -j${JOBS}`);
  await make([`-j${JOBS}`, "busybox"], "busybox build");
  await make(["busybox.links"], "busybox.links");
  const file = capture("file", ["-b", join(dir, "busybox")]).stdout.trim();
  if (file && !/statically linked/.test(file)) throw new BuildError(`busybox is not static: ${file}`, log);
  copyFileSync(join(dir, "busybox"), join(tmp, "busybox"));
  copyFileSync(join(dir, "busybox.links"), join(tmp, "busybox.links"));
  copyFileSync(join(dir, ".config"), join(tmp, "busybox.config"));
  const makefile = readFileSync(join(dir, "Makefile"), "utf8");
  const version = ["VERSION", "PATCHLEVEL", "SUBLEVEL"].map((k) => new RegExp(`^${k} = (\\S+)`, "m").exec(makefile)?.[1]).join(".");
  const buildSeconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(join(tmp, "busybox.json"), JSON.stringify({ version, debianSource: debianVersion, buildSeconds }, null, 2) + "\n");
  if (!opt.keepBuild) discard(work);
  say(`busybox: done (${statSync(join(tmp, "busybox")).size} bytes, ${readFileSync(join(tmp, "busybox.links"), "utf8").trim().split("\n").length} applets)`);
  publish(tmp, dest);
}

// ---------------------------------------------------------------------------------------
// initramfs, disk, manifest

function linkOrCopy(from, to) {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** The gen_init_cpio list: guests/rootfs.txt with ${GUESTS}/${BUSYBOX}/${ATOMICS} and the applet links. */
function cpioList({ busybox, atomics }, linksFile) {
  const out = [];
  const dirs = new Set();
  const body = readFileSync(join(GUESTS, "rootfs.txt"), "utf8").split("\n");
  for (const l of body) {
    const m = /^dir\s+(\S+)/.exec(l);
    if (m) dirs.add(m[1]);
  }
  const vars = { GUESTS, BUSYBOX: busybox, ATOMICS: atomics };
  for (const l of body) {
    if (l.trim() === "@busybox-links") {
      for (const link of readFileSync(linksFile, "utf8").split("\n").map((s) => s.trim()).filter(Boolean)) {
        if (link === "/bin/busybox") continue;
        const parent = dirname(link);
        if (!dirs.has(parent)) {
          out.push(`dir ${parent} 0755 0 0`);
          dirs.add(parent);
        }
        out.push(`slink ${link} /bin/busybox 0777 0 0`);
      }
      continue;
    }
    out.push(
      l.replace(/\$\{(\w+)\}/g, (all, name) => {
        if (!(name in vars)) throw new BuildError(`guests/rootfs.txt: unknown variable ${all}`);
        return vars[name];
      }),
    );
  }
  return out.join("\n") + "\n";
}

async function assemble(dest, kernelDir, busyboxDir, keys) {
  const tmp = tempFor(dest);
  const log = join(tmp, "assemble.log");
  say(`paravm-atomics: ${CROSS}gcc -static -O2 -pthread ${relative(ROOT, ATOMICS_SRC)}`);
  const atomics = join(tmp, "paravm-atomics");
  await run(`${CROSS}gcc`, ["-static", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror", "-o", atomics, ATOMICS_SRC], {
    env: buildEnv(),
    log,
    what: `compiling ${relative(ROOT, ATOMICS_SRC)}`,
  });

  say("initramfs: packing guests/rootfs.txt with gen_init_cpio | gzip -9");
  const list = cpioList({ busybox: join(busyboxDir, "busybox"), atomics }, join(busyboxDir, "busybox.links"));
  writeFileSync(join(tmp, "initramfs.list"), list);
  const cpio = capture(join(kernelDir, "gen_init_cpio"), ["-t", "0", join(tmp, "initramfs.list")], {
    encoding: "buffer",
    maxBuffer: 1 << 30,
  });
  if (!cpio.ok) throw new BuildError(`gen_init_cpio failed: ${cpio.stderr.toString() || cpio.error?.message}`);
  const gz = spawnSync("gzip", ["-9", "-n"], { input: cpio.stdout, maxBuffer: 1 << 30 });
  if (gz.status !== 0) throw new BuildError(`gzip failed: ${gz.stderr?.toString()}`);
  writeFileSync(join(tmp, "initramfs.cpio.gz"), gz.stdout);

  say(`disk: ${DISK_SIZE} ext2 from guests/disk`);
  const mke2fs = findTool("mke2fs");
  if (!mke2fs) throw new BuildError("mke2fs not found (package e2fsprogs)");
  // Stage the files with fixed times so the image depends on content only.
  const stage = join(tmp, "disk-root");
  for (const f of listFiles(join(GUESTS, "disk"))) {
    const to = join(stage, f);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(GUESTS, "disk", f), to);
    utimesSync(to, 1e9, 1e9);
  }
  mkdirSync(stage, { recursive: true });
  await run(
    mke2fs,
    [
      "-q", "-F", "-t", "ext2", "-L", "paravm",
      "-U", "5a5a5a5a-0000-4000-8000-000000000001",
      "-E", "root_owner=0:0,hash_seed=5a5a5a5a-0000-4000-8000-000000000002",
      "-d", stage, join(tmp, "disk.ext2"), DISK_SIZE,
    ],
    { env: { ...process.env, E2FSPROGS_FAKE_TIME: "1000000000" }, log, what: "mke2fs" },
  );
  rmSync(stage, { recursive: true, force: true });

  for (const f of ["Image", "vmlinux", "System.map", "kernel.config", "kernel-build.log"]) linkOrCopy(join(kernelDir, f), join(tmp, f));
  for (const f of ["busybox", "busybox.config", "busybox-build.log"]) linkOrCopy(join(busyboxDir, f), join(tmp, f));

  const kernel = JSON.parse(readFileSync(join(kernelDir, "kernel.json"), "utf8"));
  const bb = JSON.parse(readFileSync(join(busyboxDir, "busybox.json"), "utf8"));
  const files = {};
  for (const f of ["Image", "initramfs.cpio.gz", "disk.ext2", "vmlinux", "System.map", "kernel.config", "busybox", "busybox.config", "paravm-atomics"]) {
    const p = join(dest, f);
    files[f] = { path: p, size: statSync(join(tmp, f)).size, sha256: sha256File(join(tmp, f)) };
  }
  const manifest = {
    schema: 1,
    dir: dest,
    key: keys.all,
    parts: { kernel: kernelDir, busybox: busyboxDir },
    created: new Date().toISOString(),
    kernel: {
      release: kernel.release,
      version: kernel.version,
      configSha256: sha256(readFileSync(join(tmp, "kernel.config"))),
      fragmentSha256: sha256(readFileSync(join(GUESTS, "kernel.config"))),
      patches: Object.fromEntries(kernelPatches().map((p) => [relative(ROOT, p), sha256(readFileSync(p))])),
    },
    busybox: {
      version: bb.version,
      debianSource: bb.debianSource,
      configSha256: sha256(readFileSync(join(tmp, "busybox.config"))),
      fragmentSha256: sha256(readFileSync(join(GUESTS, "busybox.config"))),
    },
    packages: Object.fromEntries(keys.packages.map((l) => l.split("="))),
    files,
    exec: {
      cmdline: "paravm.exec=<base64 of a shell command>",
      exitLine: "PARAVM-EXIT-STATUS=<n>",
    },
  };
  writeFileSync(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  publish(tmp, dest);
}

// ---------------------------------------------------------------------------------------
// pruning: keep the most recently used results (other checkouts may use other keys)

const KEEP = 3;

function touch(path) {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {}
}

/** Keep the KEEP most recently used complete results and the parts they use; discard the rest. */
function prune() {
  const results = readdirSync(CACHE)
    .filter((e) => /^[0-9a-f]{16}$/.test(e))
    .map((e) => join(CACHE, e));
  const done = results.filter(isDone).sort((a, b) => statSync(join(b, "DONE")).mtimeMs - statSync(join(a, "DONE")).mtimeMs);
  const keep = new Set(done.slice(0, KEEP));
  const parts = new Set();
  for (const dir of keep) {
    try {
      const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      for (const p of Object.values(m.parts ?? {})) parts.add(p);
    } catch {}
  }
  for (const dir of results) if (!keep.has(dir)) discard(dir);
  const partsDir = join(CACHE, "parts");
  for (const e of existsSync(partsDir) ? readdirSync(partsDir) : []) {
    const p = join(partsDir, e);
    if (!e.startsWith(".") && !parts.has(p)) discard(p);
  }
}

// ---------------------------------------------------------------------------------------
// main

async function main() {
  let keys = computeKeys();
  let dest = join(CACHE, keys.all);
  if (opt.printDir) {
    process.stdout.write(`${dest}\n`);
    return isDone(dest) ? 0 : 2;
  }
  if (!opt.force && isDone(dest)) {
    touch(join(dest, "DONE")); // most recently used: kept by prune()
    if (!opt.quiet) say(`guest images are up to date in ${dest}`);
    process.stdout.write(`${dest}\n`);
    return 0;
  }

  say(`building guest images (key ${keys.all}; ${JOBS} cores)`);
  await acquireLock(); // before apt-get too: two builders must not both install
  await ensurePackages();
  keys = computeKeys(); // versions may have changed with the install
  if (keys.missing) throw new BuildError(`still missing after install: ${keys.packages.filter((p) => p.endsWith("=missing")).join(" ")}`);
  dest = join(CACHE, keys.all);

  cleanStaleTemps(CACHE);
  cleanStaleTemps(join(CACHE, "parts"));
  emptyTrash();
  if (!opt.force && isDone(dest)) {
    say(`another builder made ${dest} meanwhile`);
    process.stdout.write(`${dest}\n`);
    return 0;
  }
  mkdirSync(join(CACHE, "parts"), { recursive: true });
  const kernelDir = join(CACHE, "parts", `kernel-${keys.kernel}`);
  const busyboxDir = join(CACHE, "parts", `busybox-${keys.busybox}`);
  if (opt.force || !isDone(kernelDir)) await buildKernel(kernelDir);
  else say(`kernel: cached in ${kernelDir}`);
  if (opt.force || !isDone(busyboxDir)) await buildBusybox(busyboxDir);
  else say(`busybox: cached in ${busyboxDir}`);
  await assemble(dest, kernelDir, busyboxDir, keys);
  prune();
  releaseLock();
  const size = (f) => `${(statSync(join(dest, f)).size / 1048576).toFixed(1)} MiB`;
  say(`done: Image ${size("Image")}, initramfs.cpio.gz ${size("initramfs.cpio.gz")}, disk.ext2 ${size("disk.ext2")} in ${dest}`);
  process.stdout.write(`${dest}\n`);
  return 0;
}

function onSignal(sig) {
  if (currentChild?.pid) {
    try {
      process.kill(-currentChild.pid, "SIGTERM");
    } catch {}
  }
  releaseLock();
  process.stderr.write(`\nbuild-guests: interrupted (${sig})\n`);
  process.exit(130);
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
process.on("exit", releaseLock);

main().then(
  (code) => process.exit(code),
  (e) => {
    releaseLock();
    if (e instanceof BuildError) {
      process.stderr.write(`build-guests: error: ${e.message}\n`);
      if (e.log) process.stderr.write(`--- last lines of ${e.log} ---\n${tail(e.log)}\n---\n`);
    } else {
      process.stderr.write(`build-guests: internal error: ${e?.stack ?? e}\n`);
    }
    process.exit(1);
  },
);
