/**
 * A network link between two daemons against one daemon's switch, as the guests see it:
 * two real `paravm serve` children on loopback, A started with `--link n=B`, and 64 MiB pv
 * guests on network n:
 *
 *   srv   on A (10.0.2.2): a TCP sink that times each transfer it receives
 *   near  on A (10.0.2.3): measures against srv through A's switch alone
 *   far   on B (10.0.2.10): measures against srv through B's switch, the link, A's switch
 *
 * Each client, one after the other (so they do not share the host's cores): `ping -c N
 * -i 0.2` (busybox's min/avg/max round trip, after three pings that fill the ARP caches),
 * then --rounds TCP transfers of --mib MiB (`dd | nc`). The sink times each from its
 * first byte to the end of the stream with /proc/uptime (10 ms steps; guest time is host
 * time) and dd counts the bytes. The sink's nc reads /dev/null, so the sender's nc closes
 * at the end of its input without a -w wait (busybox nc's quirks: src/machine/pv-net.test.ts).
 * The link's counters (frames, drops) are read from A's API at the end. The guests' own
 * tools set the pace (busybox nc moves 8 KiB per read through pipes on one emulated hart),
 * so the TCP figures are what a guest gets, not what the link can carry; the difference
 * between the rows is the link's cost.
 *
 *   node dist/bench/link.js [options]   (after `npx tsc -p tsconfig.json`)
 *
 * Options:
 *   --pings N    pings per client (default 20)
 *   --rounds N   TCP transfers per client (default 3)
 *   --mib N      MiB per transfer (default 8)
 *   --no-json    do not write bench/results/link-<date>.json
 */
import { parseArgs } from "node:util";
import { fixed, gitInfo, hostInfo, intOption, printHeaderHelp, runMain, table, writeResults } from "./lib/common.js";
import { ApiClient, parseEndpoint, vmPath } from "../src/control/client/api-client.js";
import { Daemon } from "../src/control/client/daemon-harness.js";
import type { NetworkListing } from "../src/control/client/net-commands.js";
import { defaultGuestDir } from "../src/control/args.js";

const MiB = 1024 * 1024;
const BENCH = {
  BOOT_TIMEOUT_MS: 300_000,
  POLL_MS: 500,
  SINK_PORT: 5001,
  /** dd's block: 64 KiB, so a transfer is MiB × 16 blocks. */
  BLOCK: 64 * 1024,
  PING_INTERVAL_S: 0.2,
} as const;

interface Options {
  pings: number;
  rounds: number;
  mib: number;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: { pings: { type: "string" }, rounds: { type: "string" }, mib: { type: "string" }, "no-json": { type: "boolean" }, help: { type: "boolean" } },
  });
  if (values.help) printHeaderHelp("link.ts");
  return {
    pings: values.pings !== undefined ? intOption("pings", values.pings, 1) : 20,
    rounds: values.rounds !== undefined ? intOption("rounds", values.rounds, 1) : 3,
    mib: values.mib !== undefined ? intOption("mib", values.mib, 1) : 8,
    json: values["no-json"] !== true,
  };
}

/** The sink: swallow the first byte, time the rest of each transfer, print it with its byte count. */
const SINK =
  `while :; do nc -l -p ${BENCH.SINK_PORT} </dev/null | { dd bs=1 count=1 of=/dev/null 2>/dev/null; ` +
  `t0=$(cut -d' ' -f1 /proc/uptime); dd of=/dev/null bs=${BENCH.BLOCK} 2>/tmp/dd.log; t1=$(cut -d' ' -f1 /proc/uptime); ` +
  `echo "tcp t0=$t0 t1=$t1 bytes=$(($(sed -n 's/^\\([0-9]*\\) bytes.*/\\1/p' /tmp/dd.log)+1))"; }; done`;

/** The client's script: pings, then timed transfers, each result on a line of its own. */
function clientScript(o: Options, server: string, me?: string): string {
  const blocks = (o.mib * MiB) / BENCH.BLOCK;
  return [
    me !== undefined ? `ip addr flush dev eth0; ip addr add ${me}/24 dev eth0` : "true",
    `until ping -c 1 -W 1 ${server} >/dev/null 2>&1; do sleep 1; done`,
    `ping -c 3 ${server} >/dev/null 2>&1`,
    `echo "ping $(ping -c ${o.pings} -i ${BENCH.PING_INTERVAL_S} ${server} | tail -1)"`,
    // Retried until the sink listens again (it restarts after each transfer).
    `for r in $(seq ${o.rounds}); do for i in $(seq 30); do dd if=/dev/zero bs=${BENCH.BLOCK} count=${blocks} 2>/dev/null | nc ${server} ${BENCH.SINK_PORT} && break; sleep 1; done; done`,
    "echo bench-done",
    "sleep 100000",
  ].join("; ");
}

interface ClientResult {
  rttMs: { min: number; avg: number; max: number };
  mibPerS: number[];
}

/** The ping summary a client printed. */
function parsePing(text: string): ClientResult["rttMs"] {
  const p = /^ping round-trip min\/avg\/max = ([\d.]+)\/([\d.]+)\/([\d.]+) ms\r?$/m.exec(text);
  if (!p) throw new Error(`no ping summary in:\n${text.slice(-500)}`);
  return { min: Number(p[1]), avg: Number(p[2]), max: Number(p[3]) };
}

/** The sink's transfers, in MiB/s; each must have brought every byte. */
function parseSink(text: string, o: Options): number[] {
  return [...text.matchAll(/^tcp t0=([\d.]+) t1=([\d.]+) bytes=(\d+)\r?$/gm)].map((m) => {
    if (Number(m[3]) !== o.mib * MiB) throw new Error(`the sink got ${m[3]} bytes of ${o.mib * MiB}`);
    return (o.mib - 1 / MiB) / (Number(m[2]) - Number(m[1]));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run a client VM to its end; its ping summary, and the sink's transfers it made. */
async function runClient(c: ApiClient, sinkOf: () => Promise<number[]>, name: string, body: Record<string, unknown>, o: Options): Promise<ClientResult> {
  const before = (await sinkOf()).length;
  await c.json("POST", "/vms", { body: { name, mem: "64M", nics: [{ network: "n" }], start: true, ...body } });
  const t0 = performance.now();
  for (;;) {
    const text = await c.text(vmPath(name, "/console?bytes=65536"));
    // The sink prints a transfer's time once it has every byte: by then the client may be done.
    const got = (await sinkOf()).slice(before);
    if (text.includes("bench-done") && got.length >= o.rounds) {
      await c.json("POST", vmPath(name, "/stop"));
      return { rttMs: parsePing(text), mibPerS: got };
    }
    if (performance.now() - t0 > BENCH.BOOT_TIMEOUT_MS) throw new Error(`${name} did not finish within ${BENCH.BOOT_TIMEOUT_MS / 1000} s (${got.length} transfers timed):\n${text.slice(-800)}`);
    await sleep(BENCH.POLL_MS);
  }
}

async function main(): Promise<number> {
  const o = parseOptions();
  if (defaultGuestDir() === null) throw new Error("guest images are not built (node scripts/build-guests.mjs)");
  const host = hostInfo();
  console.log(`bench:link: ping and TCP (${o.rounds} × ${o.mib} MiB) between 64 MiB pv guests, one daemon's switch vs two daemons linked (${host.cpuCount} host cores)`);
  const b = await Daemon.start();
  const a = await Daemon.start({ extraArgs: ["--link", `n=127.0.0.1:${b.port}`], env: { PARAVM_LINK_TOKEN: b.token } });
  const ca = new ApiClient(parseEndpoint(a.url), a.token);
  const cb = new ApiClient(parseEndpoint(b.url), b.token);
  try {
    await ca.json("POST", "/vms", { body: { name: "srv", mem: "64M", nics: [{ network: "n" }], exec: SINK, start: true } });
    const sinkOf = async (): Promise<number[]> => parseSink(await ca.text(vmPath("srv", "/console?bytes=65536")), o);
    const near = await runClient(ca, sinkOf, "near", { exec: clientScript(o, "10.0.2.2") }, o);
    console.log("  near (same daemon) done");
    const far = await runClient(cb, sinkOf, "far", { exec: clientScript(o, "10.0.2.2", "10.0.2.10") }, o);
    console.log("  far (across the link) done");
    const link = (await ca.json<NetworkListing[]>("GET", "/networks")).find((n) => n.name === "n")!.links![0]!;
    const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)]!;
    const row = (label: string, r: ClientResult): string[] => [
      label,
      fixed(r.rttMs.min, 2),
      fixed(r.rttMs.avg, 2),
      fixed(r.rttMs.max, 2),
      fixed(median(r.mibPerS), 1),
      r.mibPerS.map((x) => fixed(x, 1)).join(" "),
    ];
    console.log();
    console.log(table(["guest to srv", "ping min ms", "avg", "max", "TCP MiB/s (median)", "each run"], [row("near: one daemon's switch", near), row("far: across the link", far)]));
    console.log();
    console.log(`link: ${link.txFrames} frames out, ${link.rxFrames} in, drops malformed ${link.drops.malformed}, no-buffer ${link.drops.noBuffer}`);
    if (o.json) {
      const out = writeResults("link", { bench: "link", date: new Date().toISOString(), host, git: gitInfo(), options: o, near, far, link });
      console.log(`\nresults: ${out}`);
    }
    return 0;
  } catch (e) {
    console.log(`bench:link: the daemons' logs end:\nA:\n${a.log().split("\n").slice(-10).join("\n")}\nB:\n${b.log().split("\n").slice(-10).join("\n")}`);
    throw e;
  } finally {
    ca.close();
    cb.close();
    await a.stop();
    await b.stop();
  }
}

runMain("bench:link", main);
