/**
 * Live migration between two hypervisors in one process (vCPU worker threads, a link pair
 * for the wire), skipped without built guest images. The two share their networks, as two
 * daemons whose networks are linked do, so a peer on the source keeps reaching the VM
 * after it moved. A pv VM counts on its console and pings; it is refused by a destination
 * that cannot take it, survives a link cut mid-transfer, moves, and moves back while it
 * dirties memory faster than the rounds converge. A full VM moves too.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../../control/args.js";
import { FULL_DEFAULTS } from "../../machine/full.js";
import { PV_DEFAULTS } from "../../machine/pv.js";
import { Networks } from "../../net/switch.js";
import { Hypervisor } from "../hypervisor.js";
import type { MachineSpec } from "../machine-spec.js";
import { counterScript, CountingConsole, SNAP_MARKER } from "../snapshot/snapshot-testkit.js";
import { acceptMigration } from "./dest.js";
import { linkPair } from "./link.js";
import { MigrationError, migrateOut, type MigrateOptions, type MigrationResult } from "./source.js";

const guestDir = defaultGuestDir();
const skip = guestDir === null ? "no guest images in ~/.cache/paravm" : false;
const skipFull = skip || (!existsSync(FULL_DEFAULTS.FIRMWARE) ? `no ${FULL_DEFAULTS.FIRMWARE} (package opensbi)` : false);
const work = mkdtempSync(join(tmpdir(), "paravm-migrate-"));
after(() => rmSync(work, { recursive: true, force: true }));

const MiB = 1 << 20;

function spec(profile: "pv" | "full", disk: string | null, ip: string | null, mac: number): MachineSpec {
  const dev = profile === "pv" ? "/dev/vda" : "/dev/sda";
  const exec = Buffer.from(disk !== null ? counterScript(dev, 200_000) : "i=0; while :; do i=$((i+1)); echo n=$i up=0 m=-; usleep 300000; done").toString("base64");
  const base = profile === "pv" ? PV_DEFAULTS.BOOTARGS : FULL_DEFAULTS.BOOTARGS;
  return {
    profile,
    cpus: 1,
    memBytes: 64 * MiB,
    kernel: readFileSync(join(guestDir!, "Image")),
    initrd: readFileSync(join(guestDir!, "initramfs.cpio.gz")),
    ...(profile === "full" ? { firmware: readFileSync(FULL_DEFAULTS.FIRMWARE) } : {}),
    bootargs: `${base} quiet paravm.nodisk${profile === "full" ? " paravm.noagent" : ""}${ip !== null ? ` ip=${ip}::10.0.3.1:255.255.255.0::eth0:off` : ""} paravm.exec=${exec}`,
    ...(disk !== null ? { disk: { path: disk, readonly: false, snapshot: false, cache: "writeback" as const } } : {}),
    ...(ip !== null ? { net: { mac: Uint8Array.from([2, 0, 0, 0, 3, mac]) } } : {}),
  };
}

/** One migration over a fresh link pair; `cut` breaks the link once the source reports that round. */
async function migrate(from: Hypervisor, to: Hypervisor, name: string, opts: MigrateOptions & { cutAfterRound?: number } = {}): Promise<MigrationResult> {
  const { a, b, cut } = linkPair();
  const incoming = acceptMigration(to, b, { from: "test source" });
  incoming.catch(() => undefined);
  return migrateOut(from, name, a, {
    ...opts,
    to: "test destination",
    onProgress: (p) => {
      if (p.round === opts.cutAfterRound) cut("the destination died");
    },
  });
}

describe("live migration of a running pv VM between two hypervisors", { skip }, () => {
  const networks = new Networks();
  const a = new Hypervisor({ pcpus: 1, networks });
  const b = new Hypervisor({ pcpus: 1, networks });
  after(async () => {
    await a.close();
    await b.close();
  });
  const disk = join(work, "mover.img");
  let con: CountingConsole;

  test("a destination that cannot take it refuses before anything moves; the VM runs on", async () => {
    writeFileSync(disk, new Uint8Array(4 * MiB));
    const mover = a.create({ name: "mover", spec: spec("pv", disk, "10.0.3.2", 2), network: "lan" });
    con = new CountingConsole(mover);
    await mover.start();
    const peer = a.create({ name: "peer", spec: spec("pv", null, "10.0.3.3", 3), network: "lan" });
    await peer.start();
    await con.until("two counts", (c) => c.length >= 2);
    assert.equal(await mover.agentReady(60_000), true);

    b.create({ name: "mover", spec: spec("pv", null, null, 9) });
    await assert.rejects(migrate(a, b, "mover"), (e: unknown) => e instanceof MigrationError && e.refused && /a VM named "mover" exists here already/.test(e.message));
    await b.destroy("mover");
    const small = new Hypervisor({ pcpus: 1, hostMemBytes: 64 * MiB });
    try {
      await assert.rejects(migrate(a, small, "mover"), (e: unknown) => e instanceof MigrationError && e.refused && /needs .* of host memory, only/.test(e.message));
      assert.equal(small.vms.size, 0);
    } finally {
      await small.close();
    }
    assert.equal(mover.state, "running");
    const n = con.counts().length;
    await con.until("a count after the refusals", (c) => c.length > n);
  });

  test("the destination dies mid-transfer: the VM keeps running on the source, the destination keeps nothing", async () => {
    await assert.rejects(migrate(a, b, "mover", { cutAfterRound: 0 }), (e: unknown) => e instanceof MigrationError && e.vmLeft === "running" && /keeps running here/.test(e.message));
    assert.equal(a.get("mover").state, "running");
    // The destination drops the half-built VM when its link closes.
    for (let t = 0; t < 50 && b.vms.size > 0; t++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(b.vms.size, 0, "no VM left at the destination");
    const n = con.counts().length;
    await con.until("a count after the failed migration", (c) => c.length > n);
  });

  test("it moves while it runs: the count and uptime go on, the disk marker reads back, its peer still reaches it", async () => {
    const before = con.counts();
    const last = before[before.length - 1]!;
    const r = await migrate(a, b, "mover");
    assert.equal(a.vms.has("mover"), false, "the source let it go");
    const moved = b.get("mover");
    assert.equal(moved.state, "running");
    assert.ok(r.rounds.length >= 2 && r.rounds[0]!.round === 0 && r.rounds[r.rounds.length - 1]!.round === "final", JSON.stringify(r.rounds));
    assert.ok(r.pagesSent >= r.rounds[0]!.pages && r.rounds[0]!.pages < r.ramPages, `round 0 sends the pages in use only: ${r.rounds[0]!.pages} of ${r.ramPages}`);
    assert.ok(r.downtimeMs > 0 && r.downtimeMs < r.totalMs);
    const con2 = new CountingConsole(moved);
    const afterMove = await con2.until("three counts at the destination", (c) => c.length >= 3);
    assert.doesNotMatch(con2.text, /Linux version/, "no reboot");
    assert.ok(afterMove[0]!.n > last.n && afterMove[0]!.n <= last.n + 30, `the count goes on: ${last.n} before, ${afterMove[0]!.n} after`);
    assert.ok(afterMove[0]!.up >= last.up, "uptime goes on");
    assert.ok(afterMove.every((c) => c.m === SNAP_MARKER), "the disk marker reads back");
    assert.deepEqual(await moved.agentExec("echo agent-here", { timeoutMs: 60_000 }), { status: 0, output: "agent-here\n" });
    const ping = await a.get("peer").agentExec("ping -c 3 -W 5 10.0.3.2 >/dev/null && echo reached", { timeoutMs: 60_000 });
    assert.equal(ping.output.trim(), "reached", "the peer on the source's side reaches the VM at its new place");
  });

  test("a guest that dirties memory faster than the rounds converge: the round limit, then stop-and-copy, said in the result", async () => {
    const moved = b.get("mover");
    // 8 MiB of tmpfs rewritten without pause: every round finds thousands of pages dirty again.
    await moved.agentExec("(while :; do dd if=/dev/zero of=/dev/shm/churn bs=64k count=128 2>/dev/null; done) >/dev/null 2>&1 &", { timeoutMs: 60_000 });
    const r = await migrate(b, a, "mover", { maxRounds: 2, downtimeMs: 1 });
    assert.equal(r.converged, false);
    assert.match(r.note, /did not converge: the guest dirtied .* MiB\/s while the link carried .* MiB\/s; stop-and-copy forced after \d+ rounds? \((round limit 2|no progress)/);
    const back = a.get("mover");
    const con3 = new CountingConsole(back);
    await con3.until("counts after moving back", (c) => c.length >= 2);
    assert.deepEqual(await back.agentExec("echo back", { timeoutMs: 60_000 }), { status: 0, output: "back\n" });
  });
});

describe("live migration of a running full VM", { skip: skipFull }, () => {
  const a = new Hypervisor({ pcpus: 1 });
  const b = new Hypervisor({ pcpus: 1 });
  after(async () => {
    await a.close();
    await b.close();
  });

  test("the unmodified guest goes on counting at the destination, its disk marker reads back", async () => {
    const disk = join(work, "full.img");
    writeFileSync(disk, new Uint8Array(4 * MiB));
    const vm = a.create({ name: "full-mover", spec: spec("full", disk, null, 4) });
    const con = new CountingConsole(vm);
    await vm.start();
    await con.until("three counts", (c) => c.length >= 3);
    const last = con.counts().at(-1)!;
    const r = await migrate(a, b, "full-mover");
    assert.ok(r.rounds.length >= 2);
    const con2 = new CountingConsole(b.get("full-mover"));
    const moved = await con2.until("three counts at the destination", (c) => c.length >= 3);
    assert.doesNotMatch(con2.text, /OpenSBI|Linux version/, "no reboot");
    assert.ok(moved[0]!.n > last.n && moved[0]!.n <= last.n + 30, `the count goes on: ${last.n} before, ${moved[0]!.n} after`);
    assert.ok(moved.every((c) => c.m === SNAP_MARKER));
  });
});
