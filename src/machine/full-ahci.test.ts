/**
 * The full machine's DMA disk path on real Linux: `--disk-controller ahci` puts the disk
 * on an AHCI controller at PCI 00:02.0 and the kernel's `ahci` driver moves every sector
 * by DMA. QEMU `-M virt` with an ich9-ahci at the same address is the oracle for what the
 * guest sees; the host's debugfs and the ATA PIO path check the bytes written.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../control/cli.js";
import { guestLines, paravmRun } from "./cli-run-testkit.js";
import { MemoryBackend } from "../devices/virtio/blk/device.js";
import { FULL_DEFAULTS, FullMachine, type DiskController } from "./full.js";
import { EXTENDED } from "../test-tier.js";

const dir = defaultGuestDir();
const hasQemu = spawnSync("qemu-system-riscv64", ["--version"]).status === 0;
const hasAhci = dir !== null && existsSync(join(dir, "kernel.config")) && /^CONFIG_SATA_AHCI=y$/m.test(readFileSync(join(dir, "kernel.config"), "utf8"));
const skip =
  dir === null
    ? "no guest images in ~/.cache/paravm"
    : !existsSync(FULL_DEFAULTS.FIRMWARE)
      ? `no ${FULL_DEFAULTS.FIRMWARE} (package opensbi)`
      : !hasAhci
        ? "the guest kernel has no CONFIG_SATA_AHCI (rebuild: node scripts/build-guests.mjs)"
        : false;
const work = mkdtempSync(join(tmpdir(), "paravm-ahci-"));
after(() => rmSync(work, { recursive: true, force: true }));

const paravm = (args: string[], timeout = 300_000) => paravmRun(args, timeout);

const statsOf = (stderr: string) => JSON.parse(stderr.trim().split("\n").pop()!);
const md5 = (b: Uint8Array | string) => createHash("md5").update(b).digest("hex");

describe("full machine: disk controller choice", () => {
  test("an unknown controller is refused in one line before anything is built", () => {
    const kernel = new Uint8Array(0x1000);
    kernel.set([0x52, 0x53, 0x43, 0x05], 0x38);
    const backend = new MemoryBackend(new Uint8Array(4096));
    assert.throws(
      () => new FullMachine({ kernel, firmware: new Uint8Array(16), output: () => {}, disk: { backend, controller: "scsi" as DiskController } }),
      /--disk-controller "scsi": must be one of ata, ahci/,
    );
  });
});

describe("full machine: the disk on AHCI (DMA)", { skip: skip || EXTENDED }, () => {
  test("Linux's ahci driver binds; files written by DMA are on the image and read back through AHCI and through ATA PIO", () => {
    const disk = join(work, "rw.ext2");
    copyFileSync(join(dir!, "disk.ext2"), disk);
    const write = [
      "dmesg -n 1; echo BEGIN",
      "basename $(readlink /sys/bus/pci/devices/0000:00:02.0/driver)",
      "seq 1 30000 > /mnt/seq.txt",
      // 2 MiB that are not all zeros, so a dropped or repeated sector shows.
      "dd if=/dev/urandom of=/mnt/rand.bin bs=64k count=32 2>/dev/null",
      "md5sum /mnt/seq.txt /mnt/rand.bin | cut -d' ' -f1",
      "sync",
    ].join("; ");
    const r = paravm(["--profile", "full", "--disk", disk, "--disk-controller", "ahci", "--stats", "--exec", write]);
    assert.equal(r.status, 0, `stderr: ${r.stderr}\nstdout tail: ${r.stdout.slice(-2000)}`);
    assert.match(r.stdout, /ahci 0000:00:02\.0: AHCI 0001\.0300 32 slots 1 ports 1\.5 Gbps 0x1 impl SATA mode/);
    assert.match(r.stdout, /ata1\.00: ATA-8: PARAVM SATA DISK/);
    assert.match(r.stdout, /ata1\.00: configured for UDMA\/133/);
    const [driver, seqSum, randSum, status] = guestLines(r.stdout);
    assert.equal(driver, "ahci");
    assert.equal(status, "PARAVM-EXIT-STATUS=0");
    const s = statsOf(r.stderr);
    assert.ok(s.disk.dmaBytesFromGuest >= 2 << 20, JSON.stringify(s.disk));
    assert.ok(s.disk.dmaBytesToGuest > 0 && s.disk.sectorsWritten >= 4096, JSON.stringify(s.disk));
    assert.equal(s.disk.busErrors, 0);
    assert.equal(s.disk.taskFileErrors, 0);
    assert.ok(s.exits["mmio.pcie-mmio.ahci.P0CI.write"] > 0, JSON.stringify(s.exits));
    assert.ok(!Object.keys(s.exits).some((k) => k.startsWith("mmio.ata0")), "no ATA register was touched");
    assert.ok(s.interrupts["irq.ahci"] > 0, JSON.stringify(s.interrupts));

    // The host sees the files in the image.
    const seq = spawnSync("debugfs", ["-R", "cat /seq.txt", disk], { encoding: "utf8" }).stdout;
    assert.equal(seq, Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join(""));
    assert.equal(md5(seq), seqSum);
    const rand = spawnSync("debugfs", ["-R", "cat /rand.bin", disk], { maxBuffer: 8 << 20 }).stdout;
    assert.equal(rand.length, 2 << 20);
    assert.equal(md5(rand), randSum);

    // Read back after a reboot: by DMA again, then through the ATA PIO data port.
    const read = "dmesg -n 1; echo BEGIN; md5sum /mnt/seq.txt /mnt/rand.bin | cut -d' ' -f1";
    for (const controller of ["ahci", "ata"]) {
      const b = paravm(["--profile", "full", "--disk", `${disk},readonly`, "--disk-controller", controller, "--exec", read]);
      assert.deepEqual(guestLines(b.stdout), [seqSum, randSum, "PARAVM-EXIT-STATUS=0"], `${controller}: ${b.stderr}`);
    }
  });

  test("what the guest sees matches QEMU -M virt with an ich9-ahci at 00:02.0", { skip: skip || (!hasQemu && "no qemu-system-riscv64") }, () => {
    const disk = join(dir!, "disk.ext2");
    const facts = [
      "dmesg -n 1; echo BEGIN",
      "cd /sys/bus/pci/devices/0000:00:02.0; echo $(cat vendor device class subsystem_vendor subsystem_device) $(basename $(readlink driver))",
      "cat /sys/block/sda/size /sys/block/sda/ro /sys/block/sda/queue/logical_block_size",
      // The disk's place: port 1, SCSI host 0. (Not the port list: QEMU's ich9-ahci has 6 ports, ours 1.)
      "readlink /sys/block/sda | grep -o 'ata[0-9]*/host[0-9]*'",
      "dd if=/dev/sda bs=64k count=64 2>&- | md5sum",
      "mount -o ro /dev/sda /mnt; cat /mnt/hello.txt",
    ].join("; ");
    const r = paravm(["--profile", "full", "--disk", `${disk},readonly`, "--disk-controller", "ahci", "--append", "console=ttyS0 paravm.nodisk", "--exec", facts]);
    assert.equal(r.status, 0, r.stderr);
    const q = spawnSync(
      "qemu-system-riscv64",
      [
        ...["-M", "virt", "-m", "256M", "-smp", "1", "-nographic", "-no-reboot", "-bios", FULL_DEFAULTS.FIRMWARE],
        ...["-kernel", join(dir!, "Image"), "-initrd", join(dir!, "initramfs.cpio.gz")],
        // QEMU's ide-hd refuses a read-only drive: a snapshot keeps the image pristine instead.
        ...["-drive", `file=${disk},format=raw,if=none,id=d0,snapshot=on`, "-device", "ich9-ahci,id=ahci,addr=02.0", "-device", "ide-hd,drive=d0,bus=ahci.0"],
        ...["-append", `console=ttyS0 paravm.nodisk paravm.exec=${Buffer.from(facts).toString("base64")}`],
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    const ours = guestLines(r.stdout);
    assert.ok(ours.length >= 7, r.stdout.slice(-1500));
    assert.equal(ours[0], "0x8086 0x2922 0x010601 0x1af4 0x1100 ahci");
    assert.deepEqual(ours, guestLines(q.stdout));
  });

  test("--disk-controller is checked: an unknown controller, or one on the pv machine, is refused in one line", () => {
    for (const [args, re] of [
      [["--profile", "full", "--disk-controller", "scsi", "--exec", "true"], /--disk-controller.*expected "ata" \(PIO, the default\) or "ahci" \(DMA\)/],
      [["--disk-controller", "ahci", "--exec", "true"], /--disk-controller: only the full profile has a choice of disk controller/],
    ] as [string[], RegExp][]) {
      const r = paravm(args, 30_000);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
