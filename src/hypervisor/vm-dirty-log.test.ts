/**
 * Every write to guest RAM is logged (mem/dirty-log.ts), on real Linux guests run by the
 * hypervisor (vCPU worker threads), skipped without built guest images: a 2-vCPU pv guest
 * (virtio disk, net, console, balloon; the second hart on a thread of its own) and a full
 * guest (OpenSBI, AHCI disk, e1000, 16550). While the guest runs a workload that uses the
 * CPU on both harts, the disk (O_DIRECT reads and writes), the network (pings to a peer on
 * its switch) and the console, a collector copies RAM into a shadow as live migration's
 * pre-copy will: start the log and copy everything once the flush is acknowledged, then in
 * rounds take the logged pages, flush, copy them. After the last round the VM is paused and
 * the last pages taken and copied: the shadow must equal RAM byte for byte.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../control/args.js";
import { FULL_DEFAULTS } from "../machine/full.js";
import { PV_DEFAULTS } from "../machine/pv.js";
import { PingPeer, Shadow } from "./dirty-testkit.js";
import { Hypervisor } from "./hypervisor.js";
import type { MachineSpec } from "./machine-spec.js";
import type { Vm } from "./vm.js";
import { EXTENDED } from "../test-tier.js";

const guestDir = defaultGuestDir();
const skip = guestDir === null ? "no guest images in ~/.cache/paravm" : false;
const skipFull = skip || (!existsSync(FULL_DEFAULTS.FIRMWARE) ? `no ${FULL_DEFAULTS.FIRMWARE} (package opensbi)` : false);
const work = mkdtempSync(join(tmpdir(), "paravm-dirty-"));
after(() => rmSync(work, { recursive: true, force: true }));

const MiB = 1 << 20;
const DISK_BYTES = 64 * MiB;
const BOOT_WAIT_MS = 240_000;
/** Pre-copy rounds while the guest runs, and the time between them. */
const ROUNDS = 16;
const ROUND_GAP_MS = 150;
/** Time for frames already on their way to reach the guest before it is paused. */
const QUIET_MS = 300;
const NET = "dirty-net";

/**
 * The workload: O_DIRECT reads of a disk full of random bytes by one dd that lasts the
 * whole test (so after its first reads only the device writes its buffer: a device write
 * that is not logged cannot hide behind a CPU write to the same page), O_DIRECT writes,
 * CPU work on every online hart, pings to the peer (small ones too: a NIC driver reuses the
 * buffer of a frame it copied out, so only the device writes it), and a console line every
 * 50 ms once everything has started.
 */
function workload(dev: string, harts: number): string {
  const cpu = Array.from({ length: harts }, () => "(while :; do head -c 1000000 /dev/urandom | md5sum >/dev/null; done) &").join(" ");
  return [
    `(while :; do dd if=${dev} of=/dev/null bs=64k iflag=direct 2>/dev/null; done) &`,
    `(i=0; while :; do dd if=/dev/urandom of=${dev} bs=4k count=8 seek=$((2048 + i % 256 * 8)) oflag=direct 2>/dev/null; i=$((i+1)); done) &`,
    cpu,
    "ping -i 0.05 10.0.2.1 >/dev/null 2>&1 &",
    "ping -i 0.1 -s 1200 10.0.2.1 >/dev/null 2>&1 &",
    'i=0; while :; do i=$((i+1)); echo "tick $i"; usleep 50000; done',
  ].join(" ");
}

function spec(profile: "pv" | "full", cpus: number, disk: string): MachineSpec {
  const dev = profile === "pv" ? "/dev/vda" : "/dev/sda";
  const exec = Buffer.from(workload(dev, cpus)).toString("base64");
  const base = profile === "pv" ? PV_DEFAULTS.BOOTARGS : FULL_DEFAULTS.BOOTARGS;
  return {
    profile,
    cpus,
    memBytes: 64 * MiB,
    kernel: readFileSync(join(guestDir!, "Image")),
    initrd: readFileSync(join(guestDir!, "initramfs.cpio.gz")),
    ...(profile === "full" ? { firmware: readFileSync(FULL_DEFAULTS.FIRMWARE) } : {}),
    bootargs: `${base} quiet paravm.nodisk paravm.noagent ip=10.0.2.2::10.0.2.1:255.255.255.0::eth0:off paravm.exec=${exec}`,
    disk: { path: disk, readonly: false, snapshot: false, cache: "writeback", ...(profile === "full" ? { controller: "ahci" as const } : {}) },
    net: { mac: Uint8Array.from([2, 0, 0, 0, 0, 2]) },
  };
}

/** The VM's console: the last tick it printed. */
class Ticks {
  text = "";
  constructor(vm: Vm) {
    vm.on("output", (b: Uint8Array) => (this.text = (this.text + Buffer.from(b).toString("latin1")).slice(-4000)));
  }
  last(): number {
    const all = [...this.text.matchAll(/tick (\d+)\r?\n/g)];
    return all.length === 0 ? 0 : Number(all[all.length - 1]![1]);
  }
  async until(n: number): Promise<void> {
    const t0 = Date.now();
    while (this.last() < n) {
      if (Date.now() - t0 > BOOT_WAIT_MS) throw new Error(`no tick ${n} within ${BOOT_WAIT_MS / 1000} s; console ends:\n${this.text.slice(-600)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const cases = [
  { profile: "pv", cpus: 2, skip },
  { profile: "full", cpus: 1, skip: skipFull || EXTENDED },
] as const;

for (const c of cases) {
  describe(`dirty-page logging on a running ${c.profile} VM (${c.cpus} vCPU${c.cpus > 1 ? "s" : ""})`, { skip: c.skip }, () => {
    const hvs: Hypervisor[] = [];
    after(async () => {
      for (const hv of hvs) await hv.close();
    });

    test("every write is logged: a shadow kept by pre-copy rounds equals RAM once the paused VM's last pages are copied", async (t) => {
      const disk = join(work, `${c.profile}.img`);
      writeFileSync(disk, randomBytes(DISK_BYTES));
      const hv = new Hypervisor({ pcpus: 2 });
      hvs.push(hv);
      const peer = new PingPeer(hv.networks.get(NET));
      const vm = hv.create({ name: `dirty-${c.profile}`, spec: spec(c.profile, c.cpus, disk), network: NET });
      const ticks = new Ticks(vm);
      await vm.start();
      await ticks.until(3);
      const before = { tick: ticks.last(), pings: peer.answered, disk: vm.liveCounters()?.disk ?? null };

      const shadow = new Shadow(vm);
      await shadow.start();
      for (let r = 0; r < ROUNDS; r++) {
        await new Promise((res) => setTimeout(res, ROUND_GAP_MS));
        await shadow.round();
      }
      peer.on = false;
      await new Promise((res) => setTimeout(res, QUIET_MS));
      const during = { tick: ticks.last(), pings: peer.answered, disk: vm.liveCounters()?.disk ?? null };
      await vm.pause();
      // One more flush while paused: every vCPU answers from its paused loop.
      const paused = await shadow.round();
      const last = shadow.finish();
      const diff = shadow.difference();
      await vm.stop();

      const rounds = shadow.taken;
      const context =
        `pages taken per round: ${rounds.join(" ")} (paused: ${paused}, then ${last}); ticks ${before.tick}→${during.tick}, ` +
        `pings answered ${before.pings}→${during.pings}, disk bytes read ${before.disk?.read ?? "?"}→${during.disk?.read ?? "?"}`;
      t.diagnostic(context);
      assert.equal(diff, null, `${diff}\n${context}`);
      // The workload did run while the log was on: otherwise the equality above proves little.
      assert.ok(during.tick - before.tick >= 10, `the console kept printing: ${context}`);
      assert.ok(during.pings - before.pings >= 10, `the peer answered pings: ${context}`);
      assert.ok(rounds.slice(0, ROUNDS).every((n) => n > 0), `every round found written pages: ${context}`);
      if (before.disk !== null && during.disk !== null) assert.ok(during.disk.read > before.disk.read, `the disk was read: ${context}`);
    });
  });
}
