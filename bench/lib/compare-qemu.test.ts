/**
 * The pure parts of the QEMU columns: each column's command line (devices, console,
 * kernel command line), the line patterns the console is waited on with, and the parsers
 * of the work, ping and dd output. No guest boots here.
 */
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { parseWork, workScript, type CompareOptions } from "./compare-rows.js";
import {
  DD_LINE,
  DISK_DEVICE,
  EXIT_STATUS,
  MEM_USED_LINE,
  kernelIp,
  qemuAppend,
  qemuCompareArgs,
  rttPingScript,
  rttSamples,
  workSamples,
  RTT_MARK,
  type QemuSpec,
} from "./compare-qemu-vm.js";
import type { GuestImages } from "./iobench.js";

const guest: GuestImages = {
  dir: "/g",
  how: "test",
  kernel: { path: "/g/Image", bytes: 1, sha256: "k" },
  initrd: { path: "/g/initramfs.cpio.gz", bytes: 1, sha256: "i" },
};

const opts: CompareOptions = {
  runs: 2, cpuMib: 4, syscallBytes: 1000, timerIters: 10, diskMib: 4, netMib: 2, pingCount: 5, memMib: 128,
  densityBudgetMib: 1024, densityCap: 4, idleInstances: 2, idleSeconds: 5, timeoutS: 60, guest, workDir: "/tmp/x",
};

const spec = (over: Partial<QemuSpec> = {}): QemuSpec => ({
  column: "qemu-virtio",
  guest,
  memMib: 128,
  hostname: "qv1",
  disk: { path: "/tmp/d.img", snapshot: true },
  net: { kind: "none" },
  ...over,
});

/** The value after a flag, for each time the flag appears. */
const after = (args: readonly string[], flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));

describe("qemuCompareArgs", () => {
  it("runs the project's kernel and initrd on virt with the asked RAM, one hart, OpenSBI, no graphics, no reboot", () => {
    const a = qemuCompareArgs(spec({ memMib: 96 }));
    assert.deepEqual(after(a, "-M"), ["virt"]);
    assert.deepEqual(after(a, "-m"), ["96M"]);
    assert.deepEqual(after(a, "-smp"), ["1"]);
    assert.deepEqual(after(a, "-kernel"), ["/g/Image"]);
    assert.deepEqual(after(a, "-initrd"), ["/g/initramfs.cpio.gz"]);
    assert.match(after(a, "-bios")[0]!, /opensbi.*fw_jump\.bin$/);
    assert.ok(a.includes("-nographic") && a.includes("-no-reboot"));
  });

  it("gives qemu-virtio virtio-mmio disk and NIC devices", () => {
    const dev = after(qemuCompareArgs(spec()), "-device");
    assert.deepEqual(dev, ["virtio-blk-device,drive=d0", "virtio-net-device,netdev=n0"]);
  });

  it("gives qemu-emulated an ide-hd on ICH9 AHCI and an e1000", () => {
    const dev = after(qemuCompareArgs(spec({ column: "qemu-emulated" })), "-device");
    assert.deepEqual(dev, ["ich9-ahci,id=ahci", "ide-hd,drive=d0,bus=ahci.0", "e1000,netdev=n0"]);
    assert.equal(DISK_DEVICE["qemu-emulated"], "/dev/sda");
    assert.equal(DISK_DEVICE["qemu-virtio"], "/dev/vda");
  });

  it("attaches the raw image, shared with snapshot=on or written in place", () => {
    assert.deepEqual(after(qemuCompareArgs(spec()), "-drive"), ["file=/tmp/d.img,format=raw,if=none,id=d0,snapshot=on"]);
    assert.deepEqual(after(qemuCompareArgs(spec({ disk: { path: "/w/disk.img", snapshot: false } })), "-drive"), ["file=/w/disk.img,format=raw,if=none,id=d0"]);
  });

  it("links a pair over a host socket with fixed MACs; an unlinked NIC sits on an empty hub", () => {
    const l = qemuCompareArgs(spec({ net: { kind: "listen", port: 4321, addr: "10.0.2.2", mac: "52:54:00:12:34:02" } }));
    assert.deepEqual(after(l, "-netdev"), ["socket,id=n0,listen=127.0.0.1:4321"]);
    assert.ok(after(l, "-device").includes("virtio-net-device,netdev=n0,mac=52:54:00:12:34:02"));
    const c = qemuCompareArgs(spec({ column: "qemu-emulated", net: { kind: "connect", port: 4321, addr: "10.0.2.3", mac: "52:54:00:12:34:03" } }));
    assert.deepEqual(after(c, "-netdev"), ["socket,id=n0,connect=127.0.0.1:4321"]);
    assert.ok(after(c, "-device").includes("e1000,netdev=n0,mac=52:54:00:12:34:03"));
    assert.deepEqual(after(qemuCompareArgs(spec()), "-netdev"), ["hubport,id=n0,hubid=0"]);
  });
});

describe("qemuAppend", () => {
  it("puts the console on ttyS0, names the host, skips the /mnt mount, and has no command for a shell", () => {
    const a = qemuAppend(spec());
    assert.equal(a, "console=ttyS0 paravm.hostname=qv1 paravm.nodisk");
  });

  it("adds the kernel's ip= for a linked NIC and the command as base64", () => {
    const cmd = "echo first-abc; exit 3";
    const a = qemuAppend(spec({ exec: cmd, net: { kind: "listen", port: 1, addr: "10.0.2.2", mac: "m" } }));
    assert.ok(a.includes(` ${kernelIp("10.0.2.2", "qv1")} `));
    assert.equal(kernelIp("10.0.2.2", "qv1"), "ip=10.0.2.2:::255.255.255.0:qv1:eth0:off");
    const b64 = /paravm\.exec=(\S+)$/.exec(a)![1]!;
    assert.equal(Buffer.from(b64, "base64").toString("utf8"), cmd);
  });

  it("keeps the whole work script within the kernel's command line", () => {
    const a = qemuAppend(spec({ exec: workScript(opts, ["cpu", "syscall", "timer"]) }));
    assert.ok(a.length < 1024, `command line is ${a.length} chars`);
  });
});

describe("console line patterns", () => {
  it("wait for whole lines, not a number cut by a chunk boundary", () => {
    assert.equal(MEM_USED_LINE.test("MEMUSED 1"), false);
    assert.equal(MEM_USED_LINE.test("MEMUSED 10136\r\n"), true);
    assert.equal(EXIT_STATUS.test("PARAVM-EXIT-STATUS=1"), false);
    assert.equal(EXIT_STATUS.exec("x\r\nPARAVM-EXIT-STATUS=12\r\n")![1], "12");
    assert.equal(DD_LINE.test("IOBENCH-DD 2097151 bytes (2.0MB) copied, 0.2"), false);
    assert.equal(DD_LINE.test("IOBENCH-DD 2097151 bytes (2.0MB) copied, 0.25 seconds, 8.0MB/s\r\n"), true);
  });
});

describe("workSamples", () => {
  const transcript = [
    "CMP cpu 1 100.000000 100.500000 0 b5cfa9d6c8febd618f91ac2843d50a1c  -",
    "CMP cpu 2 101.000000 101.400000 0 d41d8cd98f00b204e9800998ecf8427e  -",
    "CMP timer 1 200.000000 200.030000 0 10",
    "CMP-DONE",
  ].join("\r\n");

  it("keeps the runs that count, in the row's unit, and says why the others do not", () => {
    const cpu = workSamples(opts, parseWork(transcript), "cpu");
    assert.equal(cpu.samples.length, 1);
    assert.ok(Math.abs(cpu.samples[0]! - 0.5) < 1e-6);
    assert.equal(cpu.problems.length, 1);
    assert.match(cpu.problems[0]!, /md5/);
    const timer = workSamples(opts, parseWork(transcript), "timer");
    assert.ok(Math.abs(timer.samples[0]! - 3) < 1e-6); // 30 ms over 10 sleeps
  });

  it("says so when a row printed nothing", () => {
    const s = workSamples(opts, parseWork(transcript), "syscall");
    assert.deepEqual(s.samples, []);
    assert.match(s.problems[0]!, /no CMP syscall line/);
  });
});

describe("rtt", () => {
  it("pings the peer once to warm up, then runs × ping -c count after markers, then stops the peer", () => {
    const s = rttPingScript("10.0.2.2", 3, 7, 5002);
    assert.match(s, /ping -c 1 -W 1 10\.0\.2\.2/);
    assert.match(s, /-le 3\b/);
    assert.match(s, /ping -c 7 10\.0\.2\.2/);
    assert.match(s, /nc -w 1 10\.0\.2\.2 5002/);
  });

  it("reads each run's average in µs, NaN for a run without a summary", () => {
    const text = [
      `${RTT_MARK} 1`,
      "5 packets transmitted, 5 packets received, 0% packet loss",
      "round-trip min/avg/max = 1.100/2.250/3.000 ms",
      `${RTT_MARK} 2`,
      "5 packets transmitted, 0 packets received, 100% packet loss",
      `${RTT_MARK} 3`,
      "round-trip min/avg/max = 0.500/0.750/1.000 ms",
    ].join("\n");
    const got = rttSamples(text);
    assert.equal(got.length, 3);
    assert.equal(got[0], 2250);
    assert.ok(Number.isNaN(got[1]));
    assert.equal(got[2], 750);
  });
});
