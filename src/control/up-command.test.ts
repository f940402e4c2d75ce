import { vmChargeBytes } from "../hypervisor/memory-pool.js";
/**
 * `paravm up` as a user runs it: a bad fleet file is refused with every problem listed
 * and nothing booted; with guest images built, a real fleet boots, reports metrics (as
 * JSON lines, and as the live table in a tmux pseudo-terminal) and stops cleanly.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "./args.js";
import { parseFleet } from "./fleet-file.js";

/** What one of fleet-small.yaml's 64 MiB, 1-vCPU VMs is charged in the memory budget (MiB). */
const ONE = vmChargeBytes(64 * 1024 * 1024, 1) / (1024 * 1024);

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(root, "bin", "paravm.js");
const small = join(root, "examples", "fleet-small.yaml");
const dir = mkdtempSync(join(tmpdir(), "paravm-up-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const noGuest = defaultGuestDir() === null ? "guest images are not built (node scripts/build-guests.mjs)" : false;
const noTmux = spawnSync("tmux", ["-V"]).error !== undefined ? "tmux is not installed (node scripts/setup.mjs installs it)" : false;
const BOOT_TIMEOUT_MS = 120_000;

async function until<T>(what: string, ms: number, probe: () => T | null | undefined | false): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test("every fleet in examples/ is valid as it stands", () => {
  const files = readdirSync(join(root, "examples")).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.length >= 3, `examples: ${files.join(", ")}`);
  for (const f of files) {
    const r = parseFleet(readFileSync(join(root, "examples", f), "utf8"), f, { budgetBytes: 2048 * 1024 * 1024, baseDir: join(root, "examples") });
    assert.ok(r.ok, `${f}:\n${r.ok ? "" : r.problems.join("\n")}`);
  }
});

describe("paravm up: a bad fleet file", () => {
  test("exits 2 listing every problem, and boots nothing", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      ["vms:", "  - { name: a, mem: 12Q, colour: red }", "  - { name: a, nics: [{ network: lan }] }", "  - { name: b, workload: nap }", ""].join("\n"),
    );
    const logs = join(dir, "bad-logs");
    const r = spawnSync(process.execPath, [bin, "up", file, "--log-dir", logs], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    assert.match(lines[0]!, /^paravm: error: .*bad\.yaml: 5 problems, nothing was started:$/);
    const listed = lines.slice(1).map((l) => l.trim());
    assert.equal(listed.length, 5, r.stderr);
    for (const p of [/^vms\[0\]\.mem: "12Q" is not a size/, /^vms\[0\]\.colour: unknown key/, /^vms\[1\]\.name: "a" is already the name of vms\[0\]/, /^vms\[1\]\.nics\[0\]\.network: "lan" is not declared/, /^vms\[2\]\.workload: "nap"/]) {
      assert.ok(listed.some((l) => p.test(l)), `${p} not listed:\n${r.stderr}`);
    }
    assert.doesNotMatch(r.stderr, /budget|\n\s+at /, "nothing started, no stack trace");
    assert.equal(existsSync(logs), false, "no log directory: nothing booted");
    assert.equal(r.stdout, "");
  });

  test("a missing file, and a fleet over --host-mem, are usage errors", () => {
    const r1 = spawnSync(process.execPath, [bin, "up", join(dir, "nope.yaml")], { encoding: "utf8" });
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /^paravm: error: cannot read fleet file '.*nope\.yaml': no such file\n$/);
    const r2 = spawnSync(process.execPath, [bin, "up", small, "--host-mem", "128M"], { encoding: "utf8" });
    assert.equal(r2.status, 2, r2.stderr);
    assert.match(r2.stderr, new RegExp(`vms: the fleet needs ${2 * ONE} MiB of host memory \\(alpha ${ONE} MiB, beta ${ONE} MiB; .*budget is 128 MiB`));
  });
});

describe("paravm up: a real fleet", { skip: noGuest }, () => {
  test("--json: metrics lines parse, the VMs run, SIGTERM stops them cleanly (exit 0), logs hold the consoles", async () => {
    const logs = join(dir, "json-logs");
    const child = spawn(process.execPath, [bin, "up", small, "--json", "--log-dir", logs], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      // Booted to the shell in both: its prompt on each console log.
      await until("both shells", BOOT_TIMEOUT_MS, () => ["alpha", "beta"].every((n) => existsSync(join(logs, `${n}.log`)) && readFileSync(join(logs, `${n}.log`), "utf8").includes(`${n}:~#`)));
      await until("a metrics line per VM after boot", 10_000, () => out.split("\n").filter((l) => l.includes('"running"')).length >= 4);
    } catch (e) {
      child.kill("SIGKILL");
      throw new Error(`${(e as Error).message}\nstderr:\n${err}`);
    }
    child.kill("SIGTERM");
    assert.equal(await exited, 0, err);
    const lines = out.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { t: number; vm: string; state: string; cpuPct: number | null; mem: { ramBytes: number } });
    for (const name of ["alpha", "beta"]) {
      const mine = lines.filter((l) => l.vm === name);
      assert.ok(mine.length >= 2, `metrics for ${name}`);
      assert.ok(mine.some((l) => l.state === "running" && typeof l.cpuPct === "number"));
      assert.ok(mine.every((l) => l.mem.ramBytes === 64 * 1024 * 1024));
      assert.ok(mine.every((l, i) => i === 0 || l.t >= mine[i - 1]!.t), "time goes forward");
    }
    assert.match(err, new RegExp(`paravm: host memory budget \\d+ MiB .*the fleet is charged ${2 * ONE} MiB`));
    assert.match(err, /alpha: stopped \(stopped\)/);
    assert.match(err, /beta: stopped \(stopped\)/);
    assert.match(err, /fleet stopped/);
    for (const name of ["alpha", "beta"]) assert.match(readFileSync(join(logs, `${name}.log`), "utf8"), /Linux version 6\.1/);
  });

  test("the table in a pseudo-terminal (tmux): both VMs running, q quits with exit 0", { skip: noTmux }, async () => {
    const socket = `paravm-up-${process.pid}`;
    const status = join(dir, "tmux-status");
    const tmux = (...args: string[]) => spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
    const cmd = `${process.execPath} ${bin} up ${small} --log-dir ${join(dir, "tmux-logs")}; echo $? > ${status}; sleep 60`;
    assert.equal(tmux("new-session", "-d", "-s", "up", "-x", "160", "-y", "30", cmd).status, 0);
    try {
      const screen = await until("the table with both VMs running", BOOT_TIMEOUT_MS, () => {
        const s = tmux("capture-pane", "-p", "-t", "up").stdout;
        return /^> 1 +alpha +running /m.test(s) && /^  2 +beta +running /m.test(s) ? s : null;
      });
      assert.match(screen, new RegExp(`^paravm up fleet-small\\.yaml: 2 VMs, memory ${2 * ONE} MiB of \\d+ MiB charged`, "m"));
      assert.match(screen, /#  NAME +STATE +VCPU +CPU% +ENT% +STEAL%/);
      tmux("send-keys", "-t", "up", "2", "p");
      await until("beta paused", 20_000, () => /^> 2 +beta +paused /m.test(tmux("capture-pane", "-p", "-t", "up").stdout));
      tmux("send-keys", "-t", "up", "q");
      const code = await until("paravm up to exit", 30_000, () => existsSync(status) && readFileSync(status, "utf8").trim());
      assert.equal(code, "0");
    } finally {
      tmux("kill-server");
    }
  });
});
