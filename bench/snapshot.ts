/**
 * bench:snapshot — saving a running guest and starting it again from the file, paravm
 * against QEMU in one run (issue 15). The guest counts on its console
 * (`echo n=$i; usleep 200000`), both emulators boot the same kernel and initramfs with the
 * same RAM, and for each RAM size:
 *
 *   paravm  `paravm run --snapshot-to FILE`, SIGUSR1 once the count reached 3: the guest's
 *           pause and the file's size come from paravm's own line; then
 *           `paravm run --restore FILE`: process start to the first count on the console.
 *   QEMU    the same guest with a monitor socket: `migrate "exec:cat > FILE"` (QEMU's
 *           way to save a running VM to a file; the time is `info migrate`'s total, the
 *           guest's pause its downtime), then a new QEMU with `-incoming "exec:cat FILE"`
 *           and `cont` on its monitor once loaded: process start to the first count.
 *
 * Clones (paravm only): `--clones N` restores of the same file side by side in one process
 * (Hypervisor.restore with clone identities), time until every one has printed a count.
 *
 * Live migration (--migrate-mib sizes, 64 and 256 MiB by default; each workload of
 * --migrate-loads, --runs moves each): a pv VM under two real `paravm serve` daemons on
 * loopback moved A→B, B→A, … with `POST /vms/{name}/migrate`, against two QEMUs (the
 * destination `-incoming tcp:…`, `migrate -d` with a 30 ms downtime limit and no bandwidth
 * cap). Workloads, typed on the guest's console in turn (one paravm VM per size): `shell`
 * (the counter alone), `dirty` (the counter and a loop rewriting a 16 MiB tmpfs ring at
 * --dirty-mibps, 4 by default), `dirty-max` (the same as fast as the guest can); QEMU's
 * moved guest stalls (7.2 does not migrate the RISC-V timers), so it boots a fresh pair
 * per run. Per cell: total time, downtime, passes over RAM, MiB sent, converged,
 * the rate the guest wrote and the rate the migration saw it dirty, and the largest
 * interval between two counts on the guest's console around the move (bench/lib/snapshot-migrate*.ts).
 *
 *   npm run bench:snapshot [-- --mem-mib 128,256 --runs 3 --clones 10 --migrate-mib 64,256
 *                             --migrate-loads shell,dirty,dirty-max --dirty-mibps 4]
 *   npm run bench:snapshot -- --migrate-only      # the migration rows alone
 *   npm run bench:snapshot -- --no-migrate        # the snapshot rows alone
 *
 * (QEMU's virt board does not boot this guest with 64 MiB under fw_jump, so the smallest
 * snapshot size both run is 128; the migration rows boot QEMU with fw_dynamic, which does.)
 */
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PV_DEFAULTS } from "../src/machine/pv.js";
import { Hypervisor } from "../src/hypervisor/hypervisor.js";
import type { MachineSpec } from "../src/hypervisor/machine-spec.js";
import { OPENSBI, PARAVM_BIN, QEMU } from "./lib/boot-run.js";
import { fixed, gitInfo, hostInfo, intOption, printHeaderHelp, ROOT, runMain, table, toolVersion, writeResults } from "./lib/common.js";
import { hmp, Proc } from "./lib/console-proc.js";
import { findGuest, median, type GuestImages } from "./lib/iobench.js";
import { runMigrations } from "./lib/snapshot-migrate-run.js";
import { COUNTER, MIGRATE_LOADS, type MigrateLoad } from "./lib/snapshot-migrate.js";

const WORK = join(ROOT, "build", "bench", "snapshot");
const COUNT = /n=(\d+)\r?\n/;
const TIMEOUT_MS = 300_000;
/**
 * How long a QEMU loaded from a file gets to print its next count. QEMU 7.2 does not save
 * the RISC-V timers (snapshot-migrate-qemu.ts): the loaded guest never wakes, and a guest
 * that counts every 200 ms has shown that long before this (25 of its periods).
 */
const QEMU_RESTORE_MS = 5_000;

const b64 = (s: string): string => Buffer.from(s).toString("base64");

interface Sample {
  saveMs: number;
  pauseMs: number;
  fileMiB: number;
  restoreMs: number;
}

async function paravmOnce(mib: number, file: string): Promise<Sample> {
  const a = new Proc(process.execPath, [PARAVM_BIN, "run", "--mem", `${mib}M`, "--exec", COUNTER, "--snapshot-to", file]);
  try {
    await a.waitFor(/n=3\r?\n/, "paravm boot");
    const t = performance.now();
    a.p.kill("SIGUSR1");
    await a.waitFor(/paravm: snapshot written to/, "paravm snapshot");
    const saveMs = performance.now() - t;
    const m = /([\d.]+) MiB, \d+ of \d+ RAM pages, guest paused (\d+) ms/.exec(a.err);
    if (!m) throw new Error(`paravm's snapshot line: ${a.err.slice(-200)}`);
    a.kill();
    const r = new Proc(process.execPath, [PARAVM_BIN, "run", "--restore", file]);
    try {
      const restoreMs = await r.waitFor(COUNT, "paravm restore");
      return { saveMs, pauseMs: Number(m[2]), fileMiB: Number(m[1]), restoreMs };
    } finally {
      r.kill();
    }
  } finally {
    a.kill();
  }
}

function qemuArgs(g: GuestImages, mib: number, extra: readonly string[]): string[] {
  return ["-M", "virt", "-m", `${mib}M`, "-smp", "1", "-bios", OPENSBI, "-kernel", g.kernel.path, "-initrd", g.initrd.path,
    "-append", `console=ttyS0 quiet paravm.exec=${b64(COUNTER)}`, "-nographic", "-no-reboot", ...extra];
}

async function qemuOnce(g: GuestImages, mib: number, file: string): Promise<Sample> {
  const sock = join(WORK, `qemu-${mib}.sock`);
  rmSync(sock, { force: true });
  const a = new Proc(QEMU, qemuArgs(g, mib, ["-monitor", `unix:${sock},server,nowait`]));
  try {
    await a.waitFor(/n=3\r?\n/, "QEMU boot");
    const t = performance.now();
    await hmp(sock, `migrate "exec:cat > ${file}"`);
    let info = "";
    while (!/Migration status: completed/.test(info)) {
      if (/Migration status: failed/.test(info)) throw new Error(`QEMU's migration to a file failed: ${info}`);
      if (performance.now() - t > TIMEOUT_MS) throw new Error("QEMU's migration to a file did not complete");
      await new Promise((r) => setTimeout(r, 5));
      info = await hmp(sock, "info migrate");
    }
    const saveMs = performance.now() - t;
    const down = /downtime: (\d+) ms/.exec(info);
    a.kill();
    const sock2 = join(WORK, `qemu-${mib}-in.sock`);
    rmSync(sock2, { force: true });
    const r = new Proc(QEMU, qemuArgs(g, mib, ["-incoming", `exec:cat ${file}`, "-monitor", `unix:${sock2},server,nowait`]));
    try {
      // A VM migrated to a file ends paused, and so does the one loaded from it: once the
      // load is done (status leaves "inmigrate"), `cont` runs it, as a user would.
      for (;;) {
        if (performance.now() - r.t0 > TIMEOUT_MS) throw new Error("QEMU's incoming migration did not finish");
        const st = await hmp(sock2, "info status").catch(() => "");
        if (/VM status: running/.test(st)) break;
        if (/VM status: paused/.test(st) && !/inmigrate/.test(st)) {
          await hmp(sock2, "cont");
          break;
        }
        await new Promise((res) => setTimeout(res, 2));
      }
      const saved = { saveMs, pauseMs: down ? Number(down[1]) : NaN, fileMiB: statSync(file).size / 2 ** 20 };
      try {
        return { ...saved, restoreMs: await r.waitFor(COUNT, "QEMU restore", QEMU_RESTORE_MS) };
      } catch (e) {
        // QEMU 7.2: the loaded VM's monitor says "running", its guest never wakes (its timers were not saved).
        console.log(`qemu ${mib} MiB: restore not measured: ${(e as Error).message} (the monitor says the VM runs; QEMU 7.2 does not save the RISC-V timers)`);
        return { ...saved, restoreMs: NaN };
      }
    } finally {
      r.kill();
    }
  } finally {
    a.kill();
  }
}

/** `n` clones of one snapshot in one hypervisor: ms until every one printed a count. */
async function clones(g: GuestImages, mib: number, n: number, file: string): Promise<number> {
  const spec: MachineSpec = {
    profile: "pv", cpus: 1, memBytes: mib * 2 ** 20, kernel: readFileSync(g.kernel.path), initrd: readFileSync(g.initrd.path),
    bootargs: `${PV_DEFAULTS.BOOTARGS} quiet paravm.exec=${b64(COUNTER)}`,
  };
  const a = new Hypervisor({ pcpus: 1 });
  try {
    const vm = a.create({ name: "origin", spec });
    let out = "";
    vm.on("output", (b: Uint8Array) => (out += Buffer.from(b).toString("latin1")));
    await vm.start();
    while (!/n=3\r?\n/.test(out)) await new Promise((r) => setTimeout(r, 20));
    if (!(await vm.agentReady(60_000))) throw new Error("the origin's agent did not answer");
    await vm.snapshot(file);
  } finally {
    await a.close();
  }
  const b = new Hypervisor();
  try {
    const t0 = performance.now();
    const seen = new Set<string>();
    // Console output comes in pieces (a line may be split): each clone's is kept whole.
    const text = new Map<string, string>();
    const onOutput = (name: string, x: Uint8Array): void => {
      const t = (text.get(name) ?? "") + Buffer.from(x).toString("latin1");
      text.set(name, t);
      if (COUNT.test(t)) seen.add(name);
    };
    await Promise.all(
      Array.from({ length: n }, (_, i) => b.restore(file, { name: `clone-${i + 1}`, clone: {}, onCreate: (v) => v.on("output", (x: Uint8Array) => onOutput(v.name, x)) })),
    );
    while (seen.size < n) await new Promise((r) => setTimeout(r, 5));
    return performance.now() - t0;
  } finally {
    await b.close();
  }
}

/** The snapshot rows: save and restore per size and emulator, then the clones. */
async function snapshotRows(g: GuestImages, sizes: readonly number[], runs: number, nClones: number): Promise<{ results: Record<string, unknown>[]; cloneMs: number | null }> {
  const rows: string[][] = [];
  const results: Record<string, unknown>[] = [];
  for (const mib of sizes) {
    for (const who of ["paravm", "qemu"] as const) {
      const samples: Sample[] = [];
      for (let k = 0; k < runs; k++) {
        const file = join(WORK, `${who}-${mib}.snap`);
        try {
          samples.push(who === "paravm" ? await paravmOnce(mib, file) : await qemuOnce(g, mib, file));
          const s = samples[samples.length - 1]!;
          console.log(`${who} ${mib} MiB run ${k + 1}: save ${fixed(s.saveMs, 0)} ms (guest paused ${fixed(s.pauseMs, 0)} ms), file ${fixed(s.fileMiB, 1)} MiB, restore to output ${fixed(s.restoreMs, 0)} ms`);
        } catch (e) {
          console.log(`${who} ${mib} MiB run ${k + 1}: ${(e as Error).message}`);
        } finally {
          rmSync(file, { force: true });
        }
      }
      const med = (f: (s: Sample) => number): number => (samples.length ? median(samples.map(f)) : NaN);
      const r = { who, mib, runs: samples.length, saveMs: med((s) => s.saveMs), pauseMs: med((s) => s.pauseMs), fileMiB: med((s) => s.fileMiB), restoreMs: med((s) => s.restoreMs), samples };
      results.push(r);
      rows.push([who, `${mib} MiB`, fixed(r.saveMs, 0), fixed(r.pauseMs, 0), fixed(r.fileMiB, 1), fixed(r.restoreMs, 0)]);
    }
  }
  console.log("");
  console.log(table(["", "RAM", "save ms", "guest paused ms", "file MiB", "restore → first output ms"], rows));
  const ratio = (mib: number, k: "saveMs" | "restoreMs"): string => {
    const p = results.find((r) => r["who"] === "paravm" && r["mib"] === mib)?.[k] as number;
    const q = results.find((r) => r["who"] === "qemu" && r["mib"] === mib)?.[k] as number;
    return fixed(p / q, 2);
  };
  for (const mib of sizes) console.log(`${mib} MiB: paravm/QEMU save ${ratio(mib, "saveMs")}×, restore ${ratio(mib, "restoreMs")}×`);
  let cloneMs: number | null = null;
  if (nClones > 0) {
    try {
      cloneMs = await clones(g, sizes[0]!, nClones, join(WORK, "clone.snap"));
      console.log(`paravm: ${nClones} clones of one ${sizes[0]} MiB snapshot, every one counting after ${fixed(cloneMs, 0)} ms`);
    } catch (e) {
      console.log(`clones: ${(e as Error).message}`);
    }
  }
  return { results, cloneMs };
}

function loadList(text: string): MigrateLoad[] {
  const loads = text.split(",").map((s) => s.trim());
  for (const l of loads) if (!(MIGRATE_LOADS as readonly string[]).includes(l)) throw new Error(`--migrate-loads: "${l}" is not one of ${MIGRATE_LOADS.join(", ")}`);
  return loads as MigrateLoad[];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      // QEMU's virt board does not boot this guest in 64 MiB under fw_jump: 128 is the smallest both run.
      "mem-mib": { type: "string", default: "128,256" },
      runs: { type: "string", default: "3" },
      clones: { type: "string", default: "10" },
      "migrate-mib": { type: "string", default: "64,256" },
      "migrate-loads": { type: "string", default: MIGRATE_LOADS.join(",") },
      "dirty-mibps": { type: "string", default: "4" },
      "migrate-only": { type: "boolean", default: false },
      "no-migrate": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) printHeaderHelp("snapshot.ts");
  if (values["migrate-only"] && values["no-migrate"]) throw new Error("--migrate-only and --no-migrate leave nothing to run");
  const sizes = values["mem-mib"].split(",").map((s) => intOption("mem-mib", s.trim(), 32));
  const runs = intOption("runs", values.runs, 1);
  const nClones = intOption("clones", values.clones, 0);
  const migrateSizes = values["migrate-mib"].split(",").map((s) => intOption("migrate-mib", s.trim(), 32));
  const loads = loadList(values["migrate-loads"]);
  const dirtyMiBps = Number(values["dirty-mibps"]);
  if (!(dirtyMiBps > 0)) throw new Error(`--dirty-mibps must be a positive number, got ${values["dirty-mibps"]}`);
  const g = findGuest(null);
  const host = hostInfo();
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const snap = values["migrate-only"] ? { results: [], cloneMs: null } : await snapshotRows(g, sizes, runs, nClones);
  let migration: Omit<Awaited<ReturnType<typeof runMigrations>>, "text"> | null = null;
  if (!values["no-migrate"]) {
    console.log("");
    const { text, ...rest } = await runMigrations(g, { sizes: migrateSizes, loads, runs, dirtyMiBps, work: WORK }, (l) => console.log(l));
    console.log("");
    console.log(text);
    migration = rest;
  }
  const file = writeResults("snapshot", {
    bench: "snapshot",
    host,
    loadAvgAtEnd: hostInfo().loadAvg,
    git: gitInfo(),
    qemu: toolVersion(QEMU),
    runs,
    results: snap.results,
    clones: { n: values["migrate-only"] ? 0 : nClones, ms: snap.cloneMs },
    migration,
  });
  console.log(`results: ${file}`);
  return 0;
}

runMain("bench:snapshot", main);
