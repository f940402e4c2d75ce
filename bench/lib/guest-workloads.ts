/**
 * bench:guest's workloads and the guest script that runs them. The script is busybox `sh`
 * only (the guest image has no compiler and must not change for a benchmark), so the same
 * bytes run on paravm and on QEMU. It goes to the guest on a small raw disk (the kernel
 * command line is limited to 1024 bytes, too small for the script), run as `sh /dev/vda`.
 *
 * For every run of every workload the guest prints, on the console:
 *
 *   GB-BEGIN <name> <run>
 *   GB-END <name> <run> <e0> <e1> <u0> <u1> <status> <result…>
 *
 * e0/e1 are ash's $EPOCHREALTIME (the guest's CLOCK_REALTIME in microseconds; no RTC, so
 * it counts from boot) and u0/u1 /proc/uptime (10 ms steps), both read without a fork right
 * after the BEGIN line and right before the END line. The workload's time is e1 - e0;
 * u1 - u0 is kept as a cross-check (it is what issue 11 measured with, too coarse for runs
 * of a tenth of a second on QEMU). The host reads paravm's retired instruction count when
 * each of the two lines reaches the console (bench/lib/guest-count.ts), so the count
 * brackets the timed region plus a few shell builtins. <result…> is the workload's
 * one-line output (a count or an md5sum), which must be the same on every run and on both
 * emulators.
 */

export interface Workload {
  readonly name: string;
  /** What the issue calls it, for the table. */
  readonly what: string;
  /** The body of a shell function that prints exactly one line (the checked result), for `count` units. */
  readonly body: (count: number) => string;
  /** Work done once before the timed runs (inputs). */
  readonly setup?: (count: number) => string;
  /** Size at scale 1 (in `unit`s): 30–80 M guest instructions, 1–2 s per warm run on paravm when bench:guest was written. */
  readonly size: number;
  readonly unit: string;
}

/** How many units a workload does at `scale`. */
export const countOf = (w: Workload, scale: number): number => Math.max(1, Math.round(w.size * scale));

/** The set, in the order they run. Names are what `--only` and `--profile` take. */
export const WORKLOADS: readonly Workload[] = [
  {
    name: "ash-loop",
    what: "busybox ash arithmetic counting loop",
    size: 4_000,
    unit: "iterations",
    body: (c) => `i=0; while [ $i -lt ${c} ]; do i=$((i+1)); done; echo $i`,
  },
  {
    // A path with a slash: ash forks and really execs busybox (a bare `true` is a builtin,
    // and FEATURE_SH_STANDALONE would run a bare applet name without exec).
    name: "fork-exec",
    what: "fork + exec of /bin/true in an ash loop",
    size: 50,
    unit: "processes",
    body: (c) => `i=0; while [ $i -lt ${c} ]; do /bin/true; i=$((i+1)); done; echo $i`,
  },
  {
    name: "dd-md5",
    what: "dd if=/dev/zero bs=64k | md5sum",
    size: 64,
    unit: "64 KiB blocks",
    body: (c) => `dd if=/dev/zero bs=64k count=${c} 2>/dev/null | md5sum`,
  },
  {
    name: "seq-gzip",
    what: "seq N | gzip | md5sum",
    size: 20_000,
    unit: "lines",
    body: (c) => `seq ${c} | gzip -c | md5sum`,
  },
  {
    name: "awk-fp",
    what: "awk floating-point loop (sqrt, division, sin)",
    size: 7_000,
    unit: "iterations",
    body: (c) =>
      `awk 'BEGIN { s = 0; for (i = 1; i <= ${c}; i++) s += sqrt(i) / (i + 0.5) + sin(i) * 1e-3; printf "%.9e\\n", s }'`,
  },
  {
    // Shuffled input (awk's rand with a fixed seed: the same numbers on both emulators),
    // made once before the timed runs; sort as text, as sort does by default.
    name: "sort",
    what: "sort of N pseudo-random numbers | md5sum",
    size: 20_000,
    unit: "lines",
    setup: (c) => `awk 'BEGIN { srand(7); for (i = 0; i < ${c}; i++) print int(rand() * 1000000000) }' >/tmp/gb-sort.in`,
    body: () => `sort /tmp/gb-sort.in | md5sum`,
  },
  {
    // bs=1: one read and one write system call per byte, nothing else.
    name: "syscall",
    what: "dd bs=1 /dev/zero -> /dev/null (a read + a write per byte)",
    size: 27_000,
    unit: "bytes",
    body: (c) => `dd if=/dev/zero of=/dev/null bs=1 count=${c} 2>/tmp/gb-dd.err; read r rest </tmp/gb-dd.err; echo "$r"`,
  },
];

export const workloadNames = (): string[] => WORKLOADS.map((w) => w.name);

/** The workloads named in `only` (comma-separated, in the set's order), or all; unknown names throw. */
export function selectWorkloads(only: string | null): Workload[] {
  if (only === null || only.trim() === "") return [...WORKLOADS];
  const want = only.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const w of want) if (!WORKLOADS.some((x) => x.name === w)) throw new Error(`unknown workload "${w}" (known: ${workloadNames().join(", ")})`);
  return WORKLOADS.filter((w) => want.includes(w.name));
}

const SECTOR = 512;

/**
 * The guest script for `workloads`, `runs` runs each, sizes times `scale`, as the bytes
 * of a raw disk: the text padded with newlines to whole sectors (so `sh /dev/vda` reads
 * only blank lines after the final `exit`).
 */
export function guestScript(workloads: readonly Workload[], runs: number, scale: number): { text: string; disk: Uint8Array } {
  const lines = [
    "# bench:guest workloads (generated by bench/lib/guest-workloads.ts)",
    "gb_up() { read gb_u gb_rest </proc/uptime; }",
    "gb_run() {",
    "  gb_k=1",
    '  while [ $gb_k -le "$2" ]; do',
    '    echo "GB-BEGIN $1 $gb_k"',
    "    gb_up; gb_t0=$gb_u; gb_e0=$EPOCHREALTIME",
    "    $3 >/tmp/gb.out 2>/tmp/gb.err; gb_s=$?",
    "    gb_e1=$EPOCHREALTIME; gb_up; gb_t1=$gb_u",
    "    gb_r=; read gb_r </tmp/gb.out",
    '    echo "GB-END $1 $gb_k $gb_e0 $gb_e1 $gb_t0 $gb_t1 $gb_s $gb_r"',
    "    gb_k=$((gb_k+1))",
    "  done",
    "}",
  ];
  workloads.forEach((w, i) => lines.push(`gb_w${i}() { ${w.body(countOf(w, scale))}; }`));
  for (const w of workloads) if (w.setup) lines.push(w.setup(countOf(w, scale)));
  lines.push('echo "GB-READY"');
  workloads.forEach((w, i) => lines.push(`gb_run ${w.name} ${runs} gb_w${i}`));
  lines.push('echo "GB-DONE"', "exit 0", "");
  const text = lines.join("\n");
  const raw = Buffer.from(text, "utf8");
  const disk = new Uint8Array(Math.ceil((raw.length + 1) / SECTOR) * SECTOR).fill(0x0a);
  disk.set(raw, 0);
  return { text, disk };
}

/** The command `paravm.exec` runs: the script from the raw disk. */
export const EXEC_COMMAND = "sh /dev/vda";

/** Added to the kernel command line: the script disk is raw, so /init must not try to mount it. */
export const GUEST_APPEND = "paravm.nodisk";

export interface GuestRun {
  name: string;
  run: number;
  /** In-guest seconds from $EPOCHREALTIME (microseconds). */
  seconds: number;
  /** The same interval from /proc/uptime (10 ms steps), a cross-check. */
  uptimeSeconds: number;
  status: number;
  result: string;
}

const BEGIN = /GB-BEGIN (\S+) (\d+)/;
const NUM = "([0-9]+(?:\\.[0-9]+)?)";
const END = new RegExp(`GB-END (\\S+) (\\d+) ${NUM} ${NUM} ${NUM} ${NUM} (\\d+) ?([^\\r\\n]*)`);

/** Every complete GB-END line of a console transcript. */
export function parseGuestRuns(stdout: string): GuestRun[] {
  const out: GuestRun[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = END.exec(line);
    if (!m) continue;
    out.push({
      name: m[1]!,
      run: Number(m[2]),
      seconds: Math.round((Number(m[4]) - Number(m[3])) * 1e6) / 1e6,
      uptimeSeconds: Math.round((Number(m[6]) - Number(m[5])) * 100) / 100,
      status: Number(m[7]),
      result: m[8]!.trim(),
    });
  }
  return out;
}

/** Which marker a console line is, for the instruction brackets. */
export function markerOf(line: string): { kind: "begin" | "end"; name: string; run: number } | null {
  const e = END.exec(line);
  if (e) return { kind: "end", name: e[1]!, run: Number(e[2]) };
  const b = BEGIN.exec(line);
  if (b) return { kind: "begin", name: b[1]!, run: Number(b[2]) };
  return null;
}
