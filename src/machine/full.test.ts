/**
 * The full machine on real Linux: Debian's unmodified OpenSBI (fw_jump.bin) and the
 * project's kernel boot under `paravm run --profile full`, and QEMU `-M virt` with the same
 * firmware is the oracle for what the guest sees. QEMU `virt` has no platform ATA
 * controller, so there the same disk image is a virtio disk: what is compared is the
 * bytes the guest reads, not the driver.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../control/cli.js";
import { guestLines, PARAVM_BIN, paravmRun } from "./cli-run-testkit.js";
import { FULL_DEFAULTS, FullMachine } from "./full.js";

const dir = defaultGuestDir();
const hasQemu = spawnSync("qemu-system-riscv64", ["--version"]).status === 0;
const skip =
  dir === null
    ? "no guest images in ~/.cache/paravm"
    : !existsSync(FULL_DEFAULTS.FIRMWARE)
      ? `no ${FULL_DEFAULTS.FIRMWARE} (package opensbi)`
      : false;
const work = mkdtempSync(join(tmpdir(), "paravm-full-"));
after(() => rmSync(work, { recursive: true, force: true }));

const paravm = (args: string[], timeout = 240_000) => paravmRun(args, timeout);

function qemu(append: string, disk: string | null, smp = 1) {
  const argv = [
    ...["-M", "virt", "-m", "256M", "-smp", String(smp), "-nographic", "-no-reboot"],
    ...["-bios", FULL_DEFAULTS.FIRMWARE, "-kernel", join(dir!, "Image"), "-initrd", join(dir!, "initramfs.cpio.gz")],
    ...["-append", `console=ttyS0 ${append}`],
  ];
  if (disk) argv.push("-drive", `file=${disk},format=raw,if=none,id=d0,readonly=on`, "-device", "virtio-blk-device,drive=d0");
  argv.push("-netdev", "user,id=n0,restrict=on", "-device", `e1000,netdev=n0,mac=${QEMU_MAC}`);
  const r = spawnSync("qemu-system-riscv64", argv, { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.error, undefined, `QEMU: ${String(r.error)}`);
  return r.stdout;
}

/** QEMU's default NIC address, given to both machines. */
const QEMU_MAC = "52:54:00:12:34:56";
const exec = (script: string) => `paravm.exec=${Buffer.from(script).toString("base64")}`;

/**
 * Guest-visible facts: cpuinfo's per-hart lines (the ISA line is the device tree's string,
 * which differs by design: QEMU 7.2 lists extensions paravm lacks, so only the base
 * letters are compared; the `mmu` line too: QEMU 7.2's rv64 has Sv57 and no option to turn
 * it off, paravm has Sv39 — checked on its own), interrupt names, and the disk's bytes
 * (read before anything mounts it: /init is told `paravm.nodisk`) and files, read
 * through whatever driver the machine has.
 */
const FACTS = [
  // Kept short: the kernel command line (1 KiB on riscv) carries it in base64.
  "dmesg -n 1; grep ^mmu /proc/cpuinfo",
  "echo BEGIN",
  "grep -E '^(processor|hart)' /proc/cpuinfo",
  "grep ^isa /proc/cpuinfo | cut -c1-17",
  // Names only: counts and PLIC source numbers are not facts about the hardware.
  "awk '/ttyS0|timer|eth0|IPI/{$1=\"\";gsub(/ *[0-9]+ /,\"\");print}' /proc/interrupts | sort",
  // PCI: the host bridge and the e1000, as the kernel enumerated them.
  "cd /sys/bus/pci/devices; for f in *; do echo $f $(cat $f/vendor $f/device $f/class $f/subsystem_*); done",
  "ip link set eth0 up; sleep 3; cd /sys/class/net/eth0; cat address carrier speed duplex",
  "for d in /dev/sda /dev/vda; do [ -b $d ] && dd if=$d bs=64k count=64 2>&-|md5sum && mount -o ro $d /mnt; done",
  "ls /mnt; cat /mnt/hello.txt",
].join("; ");

describe("full machine: OpenSBI + Linux on emulated hardware", { skip }, () => {
  test("boots to the command; what the guest sees matches QEMU -M virt with the same firmware", { skip: skip || (!hasQemu && "no qemu-system-riscv64") }, () => {
    const disk = join(dir!, "disk.ext2");
    const r = paravm(["--profile", "full", "--disk", `${disk},readonly`, "--net", `lan,mac=${QEMU_MAC}`, "--append", "console=ttyS0 paravm.nodisk", "--exec", FACTS]);
    assert.equal(r.status, 0, `stderr: ${r.stderr}\nstdout tail: ${r.stdout.slice(-1500)}`);
    assert.match(r.stdout, /OpenSBI v\d/, "the firmware ran");
    assert.match(r.stdout, /Platform Console Device\s*: uart8250/);
    assert.match(r.stdout, /ata1\.00: ATA-\d+: PARAVM ATA DISK/);
    assert.match(r.stdout, /e1000 0000:00:01\.0 eth0: Intel\(R\) PRO\/1000 Network Connection/);
    const ours = guestLines(r.stdout);
    const theirs = guestLines(qemu(`paravm.nodisk ${exec(FACTS)}`, disk));
    assert.match(r.stdout, /^mmu\s+: sv39\r?$/m, "paravm's MMU is Sv39 (printed before BEGIN, not compared)");
    assert.ok(ours.length > 8, r.stdout.slice(-1500));
    assert.deepEqual(ours, theirs);
  });

  test("--cpus 2: OpenSBI starts the second hart through HSM on CLINT IPIs", () => {
    const r = paravm(["--profile", "full", "--cpus", "2", "--stats", "--exec", "dmesg -n 1; echo BEGIN; nproc; grep -c ^processor /proc/cpuinfo"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(guestLines(r.stdout), ["2", "2", "PARAVM-EXIT-STATUS=0"]);
    const stats = JSON.parse(r.stderr.trim().split("\n").pop()!);
    assert.equal(stats.profile, "full");
    assert.ok(stats.harts[1].instructionsByPrivilege.S > 0, "hart 1 ran the kernel");
    assert.ok(stats.exits["mmio.clint.msip.write"] > 0, "IPIs went through the CLINT");
  });

  test("the ATA disk: a file written in the guest is on the image (host debugfs) and reads back under pv", () => {
    const disk = join(work, "rw.ext2");
    copyFileSync(join(dir!, "disk.ext2"), disk);
    const write = "seq 1 30000 > /mnt/seq.txt; md5sum /mnt/seq.txt | cut -d' ' -f1; sync";
    const r = paravm(["--profile", "full", "--disk", disk, "--stats", "--exec", `dmesg -n 1; echo BEGIN; ${write}`]);
    assert.equal(r.status, 0, r.stderr);
    const [sum] = guestLines(r.stdout);
    assert.match(sum!, /^[0-9a-f]{32}$/);
    const stats = JSON.parse(r.stderr.trim().split("\n").pop()!);
    assert.ok(stats.disk.sectorsWritten > 0 && stats.exits["mmio.ata0.data.write"] > 0, JSON.stringify(stats.disk));
    // The host sees the file in the image.
    const host = spawnSync("debugfs", ["-R", "cat /seq.txt", disk], { encoding: "utf8" });
    const expected = Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join("");
    assert.equal(host.stdout, expected);
    // And the pv machine reads the same bytes through virtio-blk.
    const pv = paravm(["--disk", disk, "--exec", "dmesg -n 1; echo BEGIN; md5sum /mnt/seq.txt | cut -d' ' -f1"]);
    assert.deepEqual(guestLines(pv.stdout), [sum, "PARAVM-EXIT-STATUS=0"], pv.stderr);
  });

  test("--stats: firmware entries and per-register exits are counted; a user's exit status comes back", () => {
    const r = paravm(["--profile", "full", "--stats", "--exec", "echo BEGIN; exit 3"]);
    assert.equal(r.status, 3, r.stderr);
    const s = JSON.parse(r.stderr.trim().split("\n").pop()!);
    assert.equal(s.stop, "shutdown", "powered off through OpenSBI and the sifive-test device");
    assert.ok(s.instructionsByPrivilege.M > 0, "M-mode firmware time is visible");
    assert.ok(s.exits["firmware.ecall-s"] > 0 && s.exits["firmware.mtimer"] > 0, JSON.stringify(s.exits));
    assert.ok(s.exits["mmio.uart0.THR.write"] > 0 && s.exits["mmio.clint.mtimecmp.write"] > 0);
    assert.ok(s.exits["mmio.test.status.write"] === 1);
    assert.ok(s.interrupts.timer > 0 && s.interrupts["irq.uart0"] > 0, JSON.stringify(s.interrupts));
  });
});

describe("paravm compare: the same command on pv and full, side by side", { skip }, () => {
  test("one table, a column per profile; firmware time and device registers show only on full", () => {
    const r = spawnSync(process.execPath, [PARAVM_BIN, "compare", "--exec", "dd if=/dev/urandom of=/dev/null bs=4k count=4 2>/dev/null"], {
      encoding: "utf8",
      timeout: 300_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const row = (label: string): string[] => {
      const l = r.stdout.split("\n").find((x) => x.trim().startsWith(label));
      assert.ok(l, `no row "${label}" in\n${r.stdout}`);
      return l.trim().split(/\s{2,}/);
    };
    assert.deepEqual(r.stdout.split("\n")[0]!.trim().split(/\s+/), ["pv", "full"]);
    assert.deepEqual(row("stop").slice(1), ["shutdown", "shutdown"]);
    const n = (s: string): number => Number(s.replace(/,/g, ""));
    const [, pvM, fullM] = row("M-mode (firmware)");
    assert.equal(n(pvM!), 0);
    assert.ok(n(fullM!) > 0);
    const [, pvHc, fullHc] = row("hypercalls (SBI)");
    assert.ok(n(pvHc!) > 0 && n(fullHc!) === 0, "pv's SBI calls are hypercalls; full's go to OpenSBI");
    assert.ok(n(row("ecall-s")[2]!) > 0);
    assert.match(r.stdout, /uart0\.THR\.write/);
  });

  test("stats-table: a file that is not --stats output is refused in one line", () => {
    const bad = join(work, "bad.json");
    writeFileSync(bad, "hello");
    const r = spawnSync(process.execPath, [PARAVM_BIN, "stats-table", bad], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.json: no --stats JSON line found/);
  });
});

describe("full machine: errors", () => {
  test("a firmware that does not fit below the kernel is refused in one line", () => {
    const kernel = new Uint8Array(0x1000);
    kernel.set([0x52, 0x53, 0x43, 0x05], 0x38);
    assert.throws(
      () => new FullMachine({ kernel, firmware: new Uint8Array(0x30_0000), output: () => {} }),
      /firmware: 3145728 bytes does not fit below the kernel/,
    );
    assert.throws(() => new FullMachine({ kernel, firmware: new Uint8Array(0), output: () => {} }), /firmware: empty file/);
    assert.throws(
      () => new FullMachine({ kernel, firmware: new Uint8Array(16), memBytes: 32 << 20, output: () => {} }),
      /too small for the full profile/,
    );
  });

  test("a missing firmware file names the package", { skip: dir === null ? "no guest images" : false }, () => {
    const r = paravm(["--profile", "full", "--firmware", join(work, "nope.bin"), "--exec", "true"], 30_000);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read firmware '.*nope\.bin': no such file \(install Debian's opensbi package/);
  });

  test("pv-only limits are refused with the full profile, in one line, before anything runs", { skip: dir === null ? "no guest images" : false }, () => {
    const cases: [string[], RegExp][] = [
      [["run", "--profile", "full", "--disk-rate", "bw=1M", "--exec", "true"], /--disk-rate: the full profile's ATA disk has no rate limiter/],
      [["run", "--profile", "full", "--net", "lan,rate=bw=1M", "--exec", "true"], /--net rate=: the full profile's e1000 has no rate limiter/],
      [["multi", "--vm", "name=a,profile=full,net=l,net-rate=bw=1M,exec=true"], /net-rate= is pv only/],
      [["multi", "--vm", "name=a,profile=xen,net=l,exec=true"], /profile=xen: expected pv or full/],
    ];
    for (const [args, re] of cases) {
      const r = spawnSync(process.execPath, [PARAVM_BIN, ...args], { encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(r.stdout, "", "nothing ran");
    }
  });

  test("--profile must be pv or full", () => {
    const r = paravm(["--profile", "xen", "--exec", "true"], 30_000);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--profile.*expected "pv" or "full"/);
  });
});
