/**
 * virtio-net between pv guests: two VMs in one process on one virtual switch ping each
 * other and move 1 MiB with busybox nc; both sides' md5sums must agree. Skipped when the
 * guest images are not built. Also: the `--vm`/`--net` spec parsers and their one-line errors.
 *
 * The transfer protocol copes with busybox nc (NC_110_COMPAT): the sender uses `-w 2` so it
 * closes after stdin's EOF; the listener's stdin is /dev/null so it ends at the network's
 * EOF; and the sender waits for an acknowledgement from the receiver before it powers off
 * (`poweroff -f` would otherwise drop data still in its socket buffer).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { defaultGuestDir } from "../control/cli.js";
import { parseNetSpec, parseVmSpec, parseVmSpecs, SpecError } from "../hypervisor/vm-spec.js";
import { LinePrefixer } from "../control/line-prefixer.js";
import { runFleet } from "../hypervisor/fleet-run.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import { FULL_DEFAULTS } from "./full.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(root, "bin", "paravm.js");

describe("vm and net specs", () => {
  test("--vm keys, exec takes the rest, rate parts glue to their key", () => {
    const v = parseVmSpec("name=a,net=lan0,mem=128M,net-rate=bw=1M,ops=100,exec=echo a,b; true");
    assert.equal(v.name, "a");
    assert.equal(v.net, "lan0");
    assert.equal(v.mem, "128M");
    assert.equal(v.netRate, "bw=1M,ops=100");
    assert.equal(v.exec, "echo a,b; true");
  });
  test("--net name, mac, rate", () => {
    const n = parseNetSpec("lan0,mac=02:00:00:00:00:05,rate=bw=1M,ops=10");
    assert.equal(n.network, "lan0");
    assert.deepEqual([...n.mac!], [2, 0, 0, 0, 0, 5]);
    assert.equal(n.rate, "bw=1M,ops=10");
  });
  test("bad specs are one-line SpecErrors", () => {
    assert.throws(() => parseVmSpec("name=a,net=x,colour=red,exec=true"), (e: Error) => e instanceof SpecError && /unknown key "colour"/.test(e.message));
    assert.throws(() => parseVmSpecs(["name=a,net=x,exec=true", "name=a,net=x,exec=true"]), /duplicate name "a"/);
    assert.equal(parseVmSpecs(["name=a,exec=true"])[0]!.net, undefined, "net= is optional");
    assert.throws(() => parseVmSpec("name=a,weight=0,exec=true"), /weight=0: expected a whole number from 1 to 65535/);
    assert.throws(() => parseVmSpec("name=a,cap=-5,exec=true"), /cap=-5: expected a whole number from 0 to 25600/);
    assert.deepEqual([parseVmSpec("name=a,weight=512,cap=50,exec=true").weight, parseVmSpec("name=a,cap=50,exec=true").cap], [512, 50]);
    assert.throws(() => parseVmSpecs(["name=a,net=x"]), /missing exec=/);
    assert.throws(() => parseVmSpec("net=x,exec=true"), /missing name=/);
    assert.throws(() => parseNetSpec("lan0,mac=zz"), /bad MAC/);
    assert.throws(() => parseNetSpec("lan0,foo=1"), /unknown key "foo"/);
    assert.deepEqual(parseNetSpec("lan0"), { network: "lan0" }, "a bare network name (regression)");
  });
  test("the CLI reports them as usage errors (status 2, one line)", () => {
    for (const [args, re] of [
      [["multi", "--vm", "name=a,net=lan0,foo=1,exec=true"], /unknown key "foo"/],
      [["multi", "--vm", "name=a,net=l,exec=true", "--vm", "name=a,net=l,exec=true"], /duplicate name "a"/],
      [["multi", "--vm", "name=a,weight=70000,exec=true"], /weight=70000/],
      [["run", "--pcpus", "0"], /--pcpus/],
      [["run", "--net", "lan0,bogus=1"], /unknown key "bogus"/],
    ] as const) {
      const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 60_000 });
      const lines = r.stderr.split("\n").filter((l) => l !== "");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, re);
      assert.equal(r.status, 2);
    }
  });
});

test("LinePrefixer keeps lines whole and prefixed", () => {
  let out = "";
  const p = new LinePrefixer((t) => (out += t));
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  p.push("a", enc("hel"));
  p.push("b", enc("x\r\ny"));
  p.push("a", enc("lo\n"));
  p.flush();
  assert.equal(out, "[b] x\n[a] hello\n[b] y\n");
});

const dir = defaultGuestDir();

/**
 * Guest b pings a, then sends a deterministic 1 MiB file over TCP; a acks. `bProfile`
 * "full" makes b an unmodified guest (OpenSBI, e1000 on PCIe) on the same switch.
 */
async function transfer(bProfile: "pv" | "full"): Promise<void> {
  const kernel = readFileSync(join(dir!, "Image"));
  const initrd = readFileSync(join(dir!, "initramfs.cpio.gz"));
  const firmware = bProfile === "full" ? readFileSync(FULL_DEFAULTS.FIRMWARE) : undefined;
  const retry = (cmd: string): string => `for i in $(seq 60); do ${cmd} && break; sleep 1; done`;
  const a = [
    "nc -l -p 5000 </dev/null >/tmp/in",
    'echo "RX-MD5 $(md5sum </tmp/in)"',
    `${retry("echo ack | nc -w 1 10.0.2.3 5001")}`,
    "sleep 1",
  ].join("; ");
  const b = [
    "ping -c 1 10.0.2.2 >/dev/null && echo PING-OK",
    // Deterministic 1 MiB: 16 × 64 KiB of a repeated line numbered per block.
    'for i in $(seq 16); do yes "block $i of the paravm net test" | head -c 65536; done >/tmp/f',
    'echo "TX-MD5 $(md5sum </tmp/f) $(wc -c </tmp/f)"',
    retry("nc -w 2 10.0.2.2 5000 </tmp/f"),
    "nc -l -p 5001 </dev/null",
  ].join("; ");
  let text = "";
  const lines = new LinePrefixer((t) => (text += t));
  const hv = new Hypervisor();
  const t0 = performance.now();
  let r: Awaited<ReturnType<typeof runFleet>>;
  try {
    r = await runFleet(
      hv,
      [
        { name: "a", net: { network: "lan0" }, exec: a },
        { name: "b", profile: bProfile, net: { network: "lan0" }, exec: b },
      ],
      { kernel, initrd, ...(firmware ? { firmware } : {}) },
      (n, bytes) => lines.push(n, bytes),
    );
  } finally {
    await hv.close();
  }
  lines.flush();
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const tail = text.split("\n").filter((l) => !/^\[.\] \[ *\d/.test(l)).slice(-20).join("\n");
  assert.equal(r.status, 0, `status ${r.status} after ${secs}s:\n${tail}`);
  assert.deepEqual(
    r.vms.map((v) => [v.name, v.result?.profile, v.result?.stop, v.execStatus, v.address]),
    [
      ["a", "pv", "shutdown", 0, "10.0.2.2"],
      ["b", bProfile, "shutdown", 0, "10.0.2.3"],
    ],
  );
  assert.match(text, /^\[b\] PING-OK$/m, tail);
  const tx = /^\[b\] TX-MD5 ([0-9a-f]{32})\s+-? ?(\d+)$/m.exec(text);
  const rx = /^\[a\] RX-MD5 ([0-9a-f]{32})/m.exec(text);
  assert.ok(tx, tail);
  assert.ok(rx, tail);
  assert.equal(tx[2], String(1024 * 1024));
  assert.equal(rx[1], tx[1], "checksum of the bytes received differs from the bytes sent");
  const ports = Object.fromEntries(r.vms.map((v) => [v.name, v.port]));
  for (const name of ["a", "b"]) {
    const p = ports[name]!;
    assert.ok(p.rxFrames > 0 && p.txFrames > 0 && p.rxBytes > 0 && p.txBytes > 0, JSON.stringify(p));
    assert.equal(p.drops.malformed, 0);
  }
  // b sent the megabyte: the switch received at least that much from b's port.
  assert.ok(ports.b!.rxBytes > 1024 * 1024, JSON.stringify(ports.b));
  assert.ok(ports.a!.txBytes > 1024 * 1024, JSON.stringify(ports.a));
  const rb = r.vms[1]!.result!;
  if ("net" in rb && rb.net) {
    // pv → pv: TSO packets cross whole (GSO) and Linux takes them whole (GUEST_TSO4, MRG_RXBUF).
    const ra = r.vms[0]!.result!;
    const aNet = "net" in ra && ra.net ? ra.net : null;
    assert.ok(rb.net.txGsoWhole > 0, `b sent no whole GSO packet: ${JSON.stringify(rb.net)}`);
    assert.ok(aNet !== null && aNet.rxGsoPackets > 0 && aNet.rxMergedBuffers > 0, `a took no whole packet: ${JSON.stringify(aNet)}`);
    assert.equal(aNet.rxGsoCut, 0);
  } else {
    const sent = "e1000" in rb && rb.e1000 ? rb.e1000.txFrames : 0;
    assert.ok(sent > 700, `b's NIC sent ${sent} frames`);
  }
}

describe("two guests on one network", { skip: dir === null ? "no guest images (node scripts/build-guests.mjs)" : false }, () => {
  test("pv ↔ pv: ping, then 1 MiB over nc with matching md5sums; per-port counters", { timeout: 600_000 }, () => transfer("pv"));
  test(
    "full (e1000, OpenSBI) → pv (virtio-net) on the same switch: ping and 1 MiB with matching md5sums",
    { timeout: 600_000, skip: existsSync(FULL_DEFAULTS.FIRMWARE) ? false : "no OpenSBI firmware" },
    () => transfer("full"),
  );
});
