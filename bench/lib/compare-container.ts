/**
 * bench:compare's `container` column: containers in one pv host VM run by one paravm
 * daemon. The daemon and the host VM are started once (the VM's own boot is the pv
 * column's figure, not this one's); each row then starts containers in it through
 * `paravm container …` (what a user types) or the REST API, and the host-side rows read
 * the daemon's process tree, which holds the host VM. The daemon is stopped on every path,
 * which stops the VM and every container in it.
 */
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CompareCell, CompareColumn } from "./compare-types.js";
import {
  ddRate,
  medianCell,
  MEM_USED_CMD,
  notMeasured,
  parseMemUsedKiB,
  parseWork,
  pingAvgUs,
  round,
  treeCpuSeconds,
  treeRssKiB,
  workScript,
  workValue,
  type ColumnCells,
  type ColumnMeasurer,
  type CompareOptions,
  type Log,
  type RowId,
} from "./compare-rows.js";
import {
  CmpDaemon,
  diskScript,
  densityStop,
  ENV,
  hostVmEntry,
  idleCpuPercent,
  isOutOfMemory,
  netReceiver,
  netSender,
  perInstanceMib,
  receivedBytes,
  runArgs,
  sleep,
  uniqueName,
  type ContainerView,
} from "./compare-container-env.js";

const MIB = 1024 * 1024;
/** Let a just-started container (and the guest's reaction to it) settle before an idle reading. */
const SETTLE_MS = 3000;
/** Attempts of the TCP sender while the receiver's exec reaches its listen. */
const SENDER_TRIES = 60;
/**
 * The density row's own time limit, s: each idle container costs the host VM CPU (the
 * runtime's exit poll), so starts slow down as they add up; the column must stay within
 * minutes. A row stopped by it says so.
 */
const DENSITY_MAX_S = 90;
/** API requests that ask the guest one short thing. */
const SHORT_MS = 60_000;
const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The column's running surroundings, and what the rows share. */
interface Ctx {
  readonly d: CmpDaemon;
  readonly o: CompareOptions;
  readonly log: Log;
  readonly timeoutMs: number;
  /** Every row the column was asked for. */
  readonly rows: ReadonlySet<RowId>;
  /** CPU seconds of the daemon's tree over idleSeconds with the host VM and no container (the idle row's baseline). */
  idleBaselineS: number | null;
  /** Why there is no baseline, when its step failed. */
  idleBaselineWhy: string;
  /** The idle row's containers, left running for the density row (they are instances of its kind). */
  kept: string[];
  /** The daemon's tree before the idle row's first container, KiB (density's starting point when it reuses them). */
  rssBeforeKeptKiB: number;
}

/** A row group: the rows it fills, and how. */
interface Step {
  readonly rows: readonly RowId[];
  readonly run: (c: Ctx, asked: ReadonlySet<RowId>) => Promise<ColumnCells>;
}

export const measureContainer: ColumnMeasurer = async (column: CompareColumn, rows, o, log) => {
  const cells: ColumnCells = {};
  if (rows.size === 0) return cells;
  const say: Log = (m) => log(`${column}: ${m}`);
  let d: CmpDaemon | null = null;
  try {
    d = await CmpDaemon.start(o.workDir);
    await startHost(d, o, say);
  } catch (e) {
    say(`no container host: ${msg(e)}`);
    for (const r of rows) cells[r] = notMeasured(`the daemon or its host VM did not start: ${msg(e)}`);
    await d?.stop();
    return cells;
  }
  const c: Ctx = { d, o, rows, log: say, timeoutMs: o.timeoutS * 1000, idleBaselineS: null, idleBaselineWhy: "the host VM's idle CPU without containers was not measured", kept: [], rssBeforeKeptKiB: NaN };
  try {
    for (const step of STEPS) {
      const mine = step.rows.filter((r) => rows.has(r));
      if (mine.length === 0) continue;
      try {
        Object.assign(cells, await step.run(c, new Set(mine)));
      } catch (e) {
        say(`${mine.join(", ")} failed: ${msg(e)}`);
        for (const r of mine) cells[r] = notMeasured(msg(e));
      }
    }
    for (const r of rows) cells[r] ??= notMeasured(`${r}: no figure came back`);
  } finally {
    say("stopping the daemon and its host VM");
    await d.stop();
  }
  return cells;
};

/** The host VM with a scratch disk, booted, and one container run through it, so its agent and the runtime answer. */
async function startHost(d: CmpDaemon, o: CompareOptions, log: Log): Promise<void> {
  const disk = join(d.dir, "scratch.img");
  writeFileSync(disk, "");
  truncateSync(disk, (o.diskMib + ENV.DISK_SLACK_MIB) * MIB);
  const entry = hostVmEntry(o, disk);
  log(`starting host VM ${ENV.HOST_VM} (pv, ${String(entry.mem)}, ${ENV.HOST_CPUS} vCPUs, scratch disk) in a daemon at ${d.url}`);
  const t0 = performance.now();
  await d.api("POST", "/vms", entry, SHORT_MS);
  const r = await d.cli(runArgs({ rm: true }, ["echo", "host-ready"]), o.timeoutS * 1000, /host-ready/);
  if (r.status !== 0 || r.matchedMs === null) throw new Error(`the first container did not run (status ${r.status}): ${r.stderr.trim().slice(-300)} ${d.logTail()}`);
  log(`host VM up, first container ran: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------- containers

async function runDetached(c: Ctx, name: string, extra: { memMaxMib?: number; devices?: readonly string[] } = {}): Promise<ContainerView> {
  const body = {
    host: ENV.HOST_VM,
    name,
    cmd: ENV.IDLE_CMD,
    net: "bridge",
    ...(extra.memMaxMib !== undefined ? { memMax: `${extra.memMaxMib}M` } : {}),
    ...(extra.devices !== undefined ? { devices: extra.devices } : {}),
  };
  return c.d.api<ContainerView>("POST", "/containers", body, c.timeoutMs);
}

async function exec(c: Ctx, name: string, script: string): Promise<{ status: number; output: string }> {
  const timeoutS = Math.min(c.o.timeoutS, 3600);
  return c.d.api("POST", `/containers/${name}/exec`, { cmd: ["sh", "-c", script], timeoutS }, c.timeoutMs + SHORT_MS);
}

/** Stop without grace (a sleeping PID 1 ignores SIGTERM) and remove; a failure is logged, not thrown. */
async function remove(c: Ctx, names: readonly string[]): Promise<void> {
  for (const n of names) {
    try {
      await c.d.api("POST", `/containers/${n}/stop`, { graceS: 0 }, SHORT_MS);
      await c.d.api("DELETE", `/containers/${n}?force=true`, undefined, SHORT_MS);
    } catch (e) {
      c.log(`could not remove container ${n}: ${msg(e)}`);
    }
  }
}

const secs = (ms: number): number => ms / 1000;

// ---------------------------------------------------------------- rows

/** idle-cpu's baseline: the host VM running, no container, nobody asking the daemon anything. */
async function idleBaseline(c: Ctx): Promise<ColumnCells> {
  c.idleBaselineWhy = "the baseline reading failed";
  await sleep(SETTLE_MS);
  c.log(`idle-cpu baseline: the host VM without containers for ${c.o.idleSeconds} s`);
  const a = treeCpuSeconds(c.d.pid);
  await sleep(c.o.idleSeconds * 1000);
  c.idleBaselineS = treeCpuSeconds(c.d.pid) - a;
  return {};
}

/**
 * boot-shell: there is no `run -it` (no TTY or stdin through the API), so the nearest
 * honest figure: `container run -d` of an idle container, then `container exec NAME -- sh
 * -c 'echo ready-…'`, from the first spawn to the shell's answer on stdout.
 * boot-first-output: `container run --rm -- echo first-…`, spawn to the text on stdout.
 */
async function bootRows(c: Ctx, asked: ReadonlySet<RowId>): Promise<ColumnCells> {
  const out: ColumnCells = {};
  if (asked.has("boot-first-output")) {
    const samples: number[] = [];
    let why = "no run printed its text";
    for (let i = 1; i <= c.o.runs; i++) {
      const nonce = `first-${uniqueName("x", i)}`;
      const r = await c.d.cli(runArgs({ rm: true }, ["echo", nonce]), c.timeoutMs, new RegExp(nonce));
      if (r.matchedMs === null || r.status !== 0) why = `run ${i}: status ${r.status}, ${r.stderr.trim().slice(-200) || "no output"}`;
      else samples.push(secs(r.matchedMs));
      c.log(`boot-first-output ${i}/${c.o.runs}: ${r.matchedMs === null ? why : `${secs(r.matchedMs).toFixed(2)} s`}`);
    }
    out["boot-first-output"] = medianCell(samples, why, {
      note: "`paravm container run --net bridge --rm -- echo first-…` on the running host VM, from spawning the CLI (node start-up included) to the text on its stdout; the CLI prints a container's output once it has exited",
    });
  }
  if (asked.has("boot-shell")) {
    const samples: number[] = [];
    const execS: number[] = [];
    let why = "no shell answered";
    for (let i = 1; i <= c.o.runs; i++) {
      const name = uniqueName("bs", i);
      const nonce = `ready-${name}`;
      try {
        const t0 = performance.now();
        const run = await c.d.cli(runArgs({ name, detach: true }, ENV.IDLE_CMD), c.timeoutMs);
        if (run.status !== 0) throw new Error(`run -d exited ${run.status}: ${run.stderr.trim().slice(-200)}`);
        const ex = await c.d.cli(["container", "exec", name, "--", "sh", "-c", `echo ${nonce}`], c.timeoutMs, new RegExp(nonce));
        if (ex.matchedMs === null) throw new Error(`exec printed no ${nonce} (status ${ex.status}): ${ex.stderr.trim().slice(-200)}`);
        const total = performance.now() - t0 - ex.ms + ex.matchedMs;
        samples.push(secs(total));
        execS.push(secs(ex.matchedMs));
        c.log(`boot-shell ${i}/${c.o.runs}: ${secs(total).toFixed(2)} s (exec ${secs(ex.matchedMs).toFixed(2)} s)`);
      } catch (e) {
        why = `run ${i}: ${msg(e)}`;
        c.log(`boot-shell ${i}/${c.o.runs}: ${why}`);
      } finally {
        await remove(c, [name]);
      }
    }
    const execMed = medianCell(execS, "").value;
    out["boot-shell"] = medianCell(samples, why, {
      note: `no \`container run -it\` exists (no TTY or stdin through the API): \`paravm container run -d --net bridge -- sleep …\`, then \`paravm container exec NAME -- sh -c 'echo ready-…'\`, from the first spawn to the shell's answer on stdout (two CLI start-ups included; the exec alone: median ${execMed ?? "?"} s)`,
    });
  }
  return out;
}

/** cpu, syscall, timer: the shared work script as the container's command, in one `container run`. */
async function workRows(c: Ctx, asked: ReadonlySet<RowId>): Promise<ColumnCells> {
  const kinds = (["cpu", "syscall", "timer"] as const).filter((k) => asked.has(k));
  c.log(`work (${kinds.join(", ")}) in one container, ${c.o.runs} run(s) each`);
  const r = await c.d.cli(runArgs({ rm: true }, ["sh", "-c", workScript(c.o, kinds)]), c.timeoutMs, /CMP-DONE/);
  const runs = parseWork(r.stdout);
  const out: ColumnCells = {};
  for (const k of kinds) {
    const values = runs.filter((w) => w.row === k).map((w) => workValue(c.o, w));
    const samples = values.filter((v): v is number => typeof v === "number");
    const bad = values.find((v): v is string => typeof v === "string");
    const why = bad ?? `no CMP ${k} line in the container's output (status ${r.status}): ${(r.stderr + r.stdout).trim().slice(-200)}`;
    out[k] = medianCell(samples, why, { note: "`paravm container run --net bridge --rm -- sh -c '<the work script>'`, timed inside the container with $EPOCHREALTIME" });
    c.log(`${k}: ${out[k]!.value ?? out[k]!.why}`);
  }
  return out;
}

/** disk-write, disk-read: the host VM's scratch disk given to one container (`--device /dev/vda`), dd with direct I/O in it. */
async function diskRows(c: Ctx, asked: ReadonlySet<RowId>): Promise<ColumnCells> {
  const name = uniqueName("dsk", 0);
  const out: ColumnCells = {};
  try {
    await runDetached(c, name, { devices: [ENV.GUEST_DISK] });
    // Writes first: the reads then read what was written, not the sparse file's holes.
    for (const [row, op] of [["disk-write", "write"], ["disk-read", "read"]] as const) {
      if (!asked.has(row)) continue;
      const samples: number[] = [];
      let why = "dd printed no summary";
      let dropped = true;
      for (let i = 1; i <= c.o.runs; i++) {
        const r = await exec(c, name, diskScript(op, ENV.GUEST_DISK, c.o.diskMib));
        const rate = ddRate(r.output);
        if (r.output.includes("NO-DROP-CACHES")) dropped = false;
        if (r.status !== 0 || rate === null || rate.bytes !== c.o.diskMib * MIB) why = `${op} run ${i}: status ${r.status}: ${r.output.trim().slice(-200)}`;
        else samples.push(rate.mibPerS);
        c.log(`${row} ${i}/${c.o.runs}: ${rate === null ? why : `${rate.mibPerS.toFixed(1)} MiB/s`}`);
      }
      const caches = op === "read" ? (dropped ? ", after drop_caches" : ", drop_caches refused in the container (direct I/O still bypasses the cache)") : "";
      out[row] = medianCell(samples, why, {
        note: `the host VM's virtio-blk scratch disk given to the container (\`--device ${ENV.GUEST_DISK}\`), ${c.o.diskMib} MiB per dd${caches}`,
      });
    }
  } finally {
    await remove(c, [name]);
  }
  return out;
}

/** net-throughput, net-rtt: two bridge containers in the host VM; nc from B to A timed by A, ping from B to A. */
async function netRows(c: Ctx, asked: ReadonlySet<RowId>): Promise<ColumnCells> {
  const a = uniqueName("na", 0);
  const b = uniqueName("nb", 0);
  const out: ColumnCells = {};
  try {
    const va = await runDetached(c, a);
    await runDetached(c, b);
    const ip = va.ip ?? (await c.d.api<ContainerView>("GET", `/containers/${a}`, undefined, SHORT_MS)).ip;
    if (ip === null) throw new Error(`container ${a} has no address on the bridge`);
    // Ping first: a long transfer may leave the pair unusable (see below).
    if (asked.has("net-rtt")) {
      const samples: number[] = [];
      let why = "ping printed no summary";
      for (let i = 1; i <= c.o.runs; i++) {
        const r = await exec(c, b, `ping -c ${c.o.pingCount} ${ip} 2>&1`);
        const us = pingAvgUs(r.output);
        if (us === null) why = `run ${i}: status ${r.status}: ${r.output.trim().slice(-200)}`;
        else samples.push(us);
        c.log(`net-rtt ${i}/${c.o.runs}: ${us === null ? why : `${us.toFixed(0)} µs`}`);
      }
      out["net-rtt"] = medianCell(samples, why, { note: `busybox \`ping -c ${c.o.pingCount}\` from container B to container A (${ip}), both bridge containers in one host VM` });
    }
    if (asked.has("net-throughput")) {
      const samples: number[] = [];
      let why = "the receiver printed no dd summary";
      for (let i = 1; i <= c.o.runs; i++) {
        let rate: ReturnType<typeof ddRate> = null;
        try {
          const recv = exec(c, a, netReceiver());
          // Awaited below; this keeps a rejection while the sender fails from going unhandled.
          recv.catch(() => undefined);
          const sent = await exec(c, b, netSender(ip, c.o.netMib, SENDER_TRIES));
          const r = await recv;
          rate = ddRate(r.output);
          if (rate === null || rate.bytes !== receivedBytes(c.o.netMib)) why = `run ${i}: receiver status ${r.status} "${r.output.trim().slice(-120)}", sender status ${sent.status} "${sent.output.trim().slice(-120)}"`;
          else samples.push(rate.mibPerS);
        } catch (e) {
          // A long transfer can starve the daemon's watch of the containers (then they are "lost"): keep the runs done.
          why = `run ${i}: ${msg(e)}`;
        }
        c.log(`net-throughput ${i}/${c.o.runs}: ${rate === null ? why : `${rate.mibPerS.toFixed(2)} MiB/s`}`);
      }
      out["net-throughput"] = medianCell(samples, why, {
        note: `${c.o.netMib} MiB from container B to container A (${ip}) through busybox nc over the host VM's routed veths (net bridge), timed by A's dd after the first byte`,
      });
    }
  } finally {
    await remove(c, [a, b]);
  }
  return out;
}

/**
 * mem-overhead and idle-cpu: idleInstances idle containers (`sleep`, memory.max memMib).
 * The daemon's tree's CPU over idleSeconds against the baseline; each one's memory.current
 * from the API; the guest's and the host's growth per container for the note.
 */
async function idleRows(c: Ctx, asked: ReadonlySet<RowId>, keep: boolean): Promise<ColumnCells> {
  const n = Math.max(1, c.o.idleInstances);
  const names: string[] = [];
  const out: ColumnCells = {};
  let done = false;
  try {
    const rss0 = treeRssKiB(c.d.pid);
    let guest0: number | null = null;
    for (let i = 0; i < n; i++) {
      const name = uniqueName("idl", i + 1);
      await runDetached(c, name, { memMaxMib: c.o.memMib });
      names.push(name);
      if (i === 0) guest0 = parseMemUsedKiB((await exec(c, name, MEM_USED_CMD)).output);
      c.log(`idle container ${i + 1}/${n} running`);
    }
    const guest1 = parseMemUsedKiB((await exec(c, names[0]!, MEM_USED_CMD)).output);
    const rssPer = (treeRssKiB(c.d.pid) - rss0) / 1024 / n;
    const guestPer = guest0 !== null && guest1 !== null ? perInstanceMib(guest0, guest1, n - 1) : NaN;
    if (asked.has("idle-cpu")) out["idle-cpu"] = await idleWindow(c, n);
    if (asked.has("mem-overhead")) {
      const views = await c.d.api<ContainerView[]>("GET", `/containers?host=${ENV.HOST_VM}`, undefined, SHORT_MS);
      const mine = views.filter((v) => names.includes(v.name));
      const samples = mine.map((v) => (v.usage.memBytes ?? NaN) / MIB);
      const extra = `; the guest's MemTotal − MemFree grew ${Number.isFinite(guestPer) ? round(guestPer) : "?"} MiB per container (root copy, log, veth), the daemon's process tree's RSS ${round(rssPer)} MiB`;
      out["mem-overhead"] = medianCell(samples, "the API reported no memory.current", {
        note: `memory.current of each of ${n} idle containers (\`sleep\`, memory.max ${c.o.memMib} MiB), as the API's status reports it (the guest runtime reads the container's cgroup)${extra}`,
      });
      c.log(`mem-overhead: ${samples.map((s) => s.toFixed(2)).join(", ")} MiB${extra}`);
    }
    if (keep) {
      c.kept = names;
      c.rssBeforeKeptKiB = rss0;
    }
    done = true;
  } finally {
    if (!keep || !done) await remove(c, names);
  }
  return out;
}

async function idleWindow(c: Ctx, n: number): Promise<CompareCell> {
  if (c.idleBaselineS === null) return notMeasured(`no baseline: ${c.idleBaselineWhy}`);
  await sleep(SETTLE_MS);
  c.log(`idle-cpu: ${n} idle containers for ${c.o.idleSeconds} s`);
  const a = treeCpuSeconds(c.d.pid);
  await sleep(c.o.idleSeconds * 1000);
  const withS = treeCpuSeconds(c.d.pid) - a;
  const value = idleCpuPercent(withS, c.idleBaselineS, c.o.idleSeconds, n);
  const base = (c.idleBaselineS / c.o.idleSeconds) * 100;
  c.log(`idle-cpu: ${value.toFixed(2)} % of a core per container (tree ${((withS / c.o.idleSeconds) * 100).toFixed(1)} %, baseline ${base.toFixed(1)} %)`);
  return {
    value: round(value),
    samples: [round(value)],
    note: `CPU time of the daemon's process tree (it holds the host VM) over ${c.o.idleSeconds} s with ${n} idle containers (\`sleep\`) minus the same without any (baseline: the host VM alone, ${round(base)} % of a core), per container; includes the daemon's long poll of each container's end (one agent request per 20 s, the guest checking two files every 0.25 s)`,
  };
}

/**
 * density: containers (`sleep`, memory.max memMib) started one after another, each
 * running when the API answers, until the daemon's tree passes the budget, the guest or
 * the daemon refuses for memory, the cap, or the row has run for one timeout.
 */
async function densityRow(c: Ctx): Promise<ColumnCells> {
  const names = [...c.kept];
  const rss0 = (names.length > 0 ? c.rssBeforeKeptKiB : treeRssKiB(c.d.pid)) / 1024;
  const t0 = performance.now();
  const limitS = Math.min(c.o.timeoutS, DENSITY_MAX_S);
  let stop = "";
  let count = names.length;
  let lastStartS = NaN;
  if (count > 0) c.log(`density: starting from the idle row's ${count} containers`);
  try {
    for (;;) {
      const rssMib = treeRssKiB(c.d.pid) / 1024;
      const why = densityStop(count, rssMib, secs(performance.now() - t0), { ...c.o, timeoutS: limitS });
      if (why === "budget") {
        // The last one pushed the tree past the budget: it does not count.
        count = Math.max(0, count - 1);
        stop = `the daemon's tree passed ${c.o.densityBudgetMib} MiB (${round(rssMib)} MiB)`;
      } else if (why === "cap") stop = `stopped at the cap of ${c.o.densityCap}; the daemon's tree then held ${round(rssMib)} MiB`;
      else if (why === "time") stop = `stopped by the row's time limit (${limitS} s), not by memory, so a lower bound: the daemon's tree held ${round(rssMib)} MiB; the last start took ${round(lastStartS)} s`;
      if (why !== null) break;
      const name = uniqueName("den", count + 1);
      const ts = performance.now();
      try {
        await runDetached(c, name, { memMaxMib: c.o.memMib });
        lastStartS = secs(performance.now() - ts);
      } catch (e) {
        stop = isOutOfMemory(msg(e)) ? `container ${count + 1} was refused for memory: ${msg(e)}` : `container ${count + 1} did not start: ${msg(e)}`;
        break;
      }
      names.push(name);
      count++;
      c.log(`density: ${count} containers, daemon tree ${round(treeRssKiB(c.d.pid) / 1024)} MiB, this start ${lastStartS.toFixed(1)} s`);
    }
  } finally {
    // The daemon's stop takes the host VM and these containers with it; removing 30 one by one would cost a minute.
    c.log(`density: ${count} (${stop}); the containers go with the host VM`);
  }
  const rss1 = treeRssKiB(c.d.pid) / 1024;
  const per = names.length > 0 ? round((rss1 - rss0) / names.length) : NaN;
  // Stopped by time, the count is a lower bound; the memory growth says what the budget itself would admit.
  const fits = per > 0 ? Math.floor((c.o.densityBudgetMib - rss0) / per) : NaN;
  const projection = stop.startsWith("stopped by the row's time limit") && Number.isFinite(fits) ? `; at that growth the budget would admit about ${fits} (an extrapolation, not measured)` : "";
  return {
    density: {
      value: count,
      samples: [count],
      note: `${stop}; containers of memory.max ${c.o.memMib} MiB idle in \`sleep\` in one host VM; the daemon's tree started at ${round(rss0)} MiB (the host VM included) and grew ${per} MiB per container${projection}`,
    },
  };
}

/** In order: the idle baseline first (nothing started yet), density last (its containers stay until the VM stops). */
const STEPS: readonly Step[] = [
  { rows: ["idle-cpu"], run: (c) => idleBaseline(c) },
  { rows: ["boot-first-output", "boot-shell"], run: bootRows },
  { rows: ["cpu", "syscall", "timer"], run: workRows },
  { rows: ["disk-write", "disk-read"], run: diskRows },
  { rows: ["net-throughput", "net-rtt"], run: netRows },
  // Density reuses the idle containers when it runs next: they are instances of its kind, already started.
  { rows: ["mem-overhead", "idle-cpu"], run: (c, asked) => idleRows(c, asked, c.rows.has("density") && c.o.idleInstances <= c.o.densityCap) },
  { rows: ["density"], run: densityRow },
];
