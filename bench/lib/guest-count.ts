/**
 * bench:guest's counting run (a child process of bench/guest.ts): boots the guest on
 * paravm's pv machine in this process's main thread and reads the boot hart's retired
 * instruction count (`Hart.retired()`, which includes the slice in progress) at the moment
 * each GB-BEGIN / GB-END line reaches the console, so every workload run gets the exact
 * number of guest instructions it took. `paravm run` runs the machine on a vCPU worker
 * thread whose counters the main thread cannot read while it runs; this process runs the
 * same machine (hart, block compiler, run loop, devices) through `Machine.runAsync`
 * instead, so it is a counting run, not the timed one.
 *
 * With --prof-workload NAME it also profiles the guest's runs of that workload with the
 * V8 CPU profiler (node:inspector, the profiler `node --cpu-prof` uses), started at its
 * first GB-BEGIN and stopped at its last GB-END, and writes the .cpuprofile to --prof-out.
 *
 *   node dist/bench/lib/guest-count.js --kernel Image --initrd initramfs.cpio.gz --disk script.img
 *        [--prof-workload NAME --prof-runs N --prof-out FILE]
 *
 * stdout: the guest console. stderr: one `GBCOUNT {json}` line per workload run
 * ({name, run, instret, hostMs}), then the run's stats as one JSON line
 * ({instructions, wallMs, stop}).
 */
import { Session } from "node:inspector";
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { MemoryBackend } from "../../src/devices/virtio/blk/device.js";
import { PV_DEFAULTS, PvMachine } from "../../src/machine/pv.js";
import { EXEC_COMMAND, GUEST_APPEND, markerOf } from "./guest-workloads.js";

interface Mark {
  instret: number;
  atMs: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      kernel: { type: "string" },
      initrd: { type: "string" },
      disk: { type: "string" },
      "prof-workload": { type: "string" },
      "prof-out": { type: "string" },
      "prof-runs": { type: "string", default: "1" },
    },
  });
  if (!values.kernel || !values.initrd || !values.disk) throw new Error("--kernel, --initrd and --disk are required");
  const profName = values["prof-workload"] ?? null;
  const profOut = values["prof-out"] ?? null;
  const profRuns = Number(values["prof-runs"]);
  if (profName !== null && profOut === null) throw new Error("--prof-workload needs --prof-out");

  const session = profName !== null ? new Session() : null;
  let profiling = false;
  let profileWritten: Promise<void> = Promise.resolve();
  if (session) {
    session.connect();
    session.post("Profiler.enable");
  }

  const bootargs = `${PV_DEFAULTS.BOOTARGS} ${GUEST_APPEND} paravm.exec=${Buffer.from(EXEC_COMMAND, "utf8").toString("base64")}`;
  let line = "";
  const begun = new Map<string, Mark>();
  // The machine exists before its first output: the console writes only once it runs.
  let machine: PvMachine | null = null;
  const onLine = (text: string): void => {
    const m = markerOf(text);
    if (m === null || machine === null) return;
    const here: Mark = { instret: machine.hart.retired(), atMs: performance.now() };
    const key = `${m.name} ${m.run}`;
    if (m.kind === "begin") {
      begun.set(key, here);
      if (session && m.name === profName && m.run === 1 && !profiling) {
        profiling = true;
        session.post("Profiler.start");
      }
      return;
    }
    const b = begun.get(key);
    if (!b) return;
    begun.delete(key);
    process.stderr.write(
      `GBCOUNT ${JSON.stringify({ name: m.name, run: m.run, instret: here.instret - b.instret, hostMs: Math.round((here.atMs - b.atMs) * 1000) / 1000 })}\n`,
    );
    if (session && profiling && m.name === profName && m.run === profRuns) {
      profiling = false;
      profileWritten = new Promise<void>((resolve, reject) => {
        session.post("Profiler.stop", (err, res) => {
          if (err) reject(err);
          else {
            writeFileSync(profOut!, JSON.stringify(res.profile));
            resolve();
          }
        });
      });
    }
  };
  const output = (bytes: Uint8Array): void => {
    process.stdout.write(bytes);
    for (const c of Buffer.from(bytes).toString("latin1")) {
      if (c === "\n") {
        onLine(line);
        line = "";
      } else if (line.length < 4096) line += c;
    }
  };
  machine = new PvMachine({
    kernel: readFileSync(values.kernel),
    initrd: readFileSync(values.initrd),
    bootargs,
    output,
    disk: { backend: new MemoryBackend(new Uint8Array(readFileSync(values.disk)), true) },
  });
  const result = await machine.runAsync();
  await profileWritten;
  session?.disconnect();
  process.stderr.write(`${JSON.stringify({ instructions: result.instret, wallMs: result.wallMs, stop: result.stop })}\n`);
  return result.stop === "shutdown" ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`guest-count: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
