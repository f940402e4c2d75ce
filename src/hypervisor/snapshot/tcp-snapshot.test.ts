/**
 * A TCP connection between two VMs survives a pause-snapshot-restore of one end (issue
 * 15): the client streams a counter through one `nc` connection to a server that prints
 * what it receives. The client is snapshotted while it sends, stopped, and continued from
 * its file; the server's one connection (nc -l takes one and ends with it) goes on
 * receiving the counter where it was — no reconnect, no restart at 1.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../../control/args.js";
import { PV_DEFAULTS } from "../../machine/pv.js";
import { Hypervisor } from "../hypervisor.js";
import type { MachineSpec } from "../machine-spec.js";
import { CountingConsole } from "./snapshot-testkit.js";

const guestDir = defaultGuestDir();
const skip = guestDir === null ? "no guest images in ~/.cache/paravm" : false;
const work = mkdtempSync(join(tmpdir(), "paravm-tcpsnap-"));
after(() => rmSync(work, { recursive: true, force: true }));

const MiB = 1 << 20;
const PORT = 5000;

function spec(ip: string, mac: number, exec: string): MachineSpec {
  return {
    profile: "pv",
    cpus: 1,
    memBytes: 64 * MiB,
    kernel: readFileSync(join(guestDir!, "Image")),
    initrd: readFileSync(join(guestDir!, "initramfs.cpio.gz")),
    bootargs: `${PV_DEFAULTS.BOOTARGS} quiet ip=${ip}::10.0.4.1:255.255.255.0::eth0:off paravm.exec=${Buffer.from(exec).toString("base64")}`,
    net: { mac: Uint8Array.from([2, 0, 0, 0, 4, mac]) },
  };
}

describe("a TCP connection across a snapshot of one end", { skip }, () => {
  const hv = new Hypervisor({ pcpus: 2 });
  after(() => hv.close());

  test("the server's one connection keeps receiving the client's counter after the client is restored", async () => {
    // The server prints every line it receives, then says when its connection ended.
    const server = hv.create({ name: "srv", spec: spec("10.0.4.2", 2, `nc -l -p ${PORT} </dev/null; echo CONNECTION-ENDED`), network: "tcp" });
    const received = new CountingConsole(server);
    await server.start();
    const send = `sleep 2; i=0; while :; do i=$((i+1)); echo "n=$i up=0 m=-"; usleep 200000; done | nc 10.0.4.2 ${PORT}`;
    const client = hv.create({ name: "cli", spec: spec("10.0.4.3", 3, `${send}; echo SENDER-ENDED`), network: "tcp" });
    await client.start();
    await received.until("five counts over the connection", (c) => c.length >= 5);

    const file = join(work, "client.snap");
    await client.snapshot(file);
    const atSnapshot = received.counts().at(-1)!.n;
    await hv.destroy("cli");
    // The client is gone for a while; the server's TCP just waits (no data, no reset).
    await new Promise((r) => setTimeout(r, 1500));
    const restored = await hv.restore(file, { network: "tcp" });
    assert.equal(restored.name, "cli");
    const after = await received.until("counts after the restore", (c) => c.length > 0 && c.at(-1)!.n >= atSnapshot + 5);
    assert.doesNotMatch(received.text, /CONNECTION-ENDED/, "the server's connection never ended");
    const ns = after.map((c) => c.n);
    for (let i = 1; i < ns.length; i++) assert.equal(ns[i], ns[i - 1]! + 1, `one count after another over one connection: ${ns.slice(Math.max(0, i - 3), i + 2).join(",")}`);
  });
});
