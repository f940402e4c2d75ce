// scripts/setup.mjs and a node_modules shared by symlink (how git worktrees of this
// repository reuse the main checkout's): a package-lock.json newer than the shared install
// must not make setup run `npm ci`, which empties the link's target — every other
// checkout's dependencies (it happened once: a fresh worktree's `npm test` wiped them).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(join(tmpdir(), "paravm-setup-"));
after(() => rmSync(work, { recursive: true, force: true }));

const onPath = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
// With a tool missing, setup would go to apt-get: not something a test may do.
const toolsMissing =
  !["riscv64-unknown-elf-gcc", "qemu-system-riscv64", "dtc", "npm"].every(onPath) ||
  !existsSync("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin");

test("setup leaves a symlinked node_modules alone even when package-lock.json is newer", { skip: toolsMissing ? "host tools missing" : false, timeout: 120_000 }, () => {
  const checkout = join(work, "checkout");
  const shared = join(work, "shared-node_modules");
  mkdirSync(join(checkout, "scripts"), { recursive: true });
  copyFileSync(join(root, "scripts", "setup.mjs"), join(checkout, "scripts", "setup.mjs"));
  writeFileSync(join(checkout, "package.json"), JSON.stringify({ name: "setup-test", version: "1.0.0", private: true }));
  writeFileSync(
    join(checkout, "package-lock.json"),
    JSON.stringify({ name: "setup-test", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "setup-test", version: "1.0.0" } } }),
  );
  mkdirSync(shared);
  writeFileSync(join(shared, "keep-me"), "another checkout's install");
  writeFileSync(join(shared, ".package-lock.json"), "{}");
  const old = new Date("2020-01-01T00:00:00Z");
  utimesSync(join(shared, ".package-lock.json"), old, old);
  utimesSync(shared, old, old);
  symlinkSync(shared, join(checkout, "node_modules"));

  const r = spawnSync(process.execPath, [join(checkout, "scripts", "setup.mjs"), "--quiet"], { cwd: checkout, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(shared, "keep-me")), "the shared install was emptied");
  assert.ok(lstatSync(join(checkout, "node_modules")).isSymbolicLink(), "the link was replaced");
  assert.doesNotMatch(r.stdout, /npm ci/);
});
