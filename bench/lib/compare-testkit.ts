/**
 * A synthetic bench:compare results file for the report's tests (and to look at a
 * rendered report without measuring: `node -e` with syntheticCompareResults and
 * renderCompareReport). The figures are invented but shaped like a run's: the twelve rows,
 * lower- and higher-is-better rows, not-measured cells with their reasons, samples, and
 * per-operation counters spanning decades (ATA PIO port exits against virtio
 * notifications). Nothing here is a measurement.
 */
import { COMPARE_COLUMNS, type CompareCell, type CompareColumn, type CompareResults, type CompareRow } from "./compare-types.js";

type Cells = Record<CompareColumn, CompareCell>;

/** Cells from values in column order; a string instead of a number is the why of a null cell. */
function cells(values: readonly (number | string)[], extra: Partial<Record<CompareColumn, Partial<CompareCell>>> = {}): Cells {
  const out = {} as Cells;
  COMPARE_COLUMNS.forEach((col, i) => {
    const v = values[i]!;
    out[col] = { ...(typeof v === "string" ? { value: null, why: v } : { value: v }), ...extra[col] };
  });
  return out;
}

function row(id: string, title: string, unit: string, better: "lower" | "higher", method: string, c: Cells, explain: string[] = []): CompareRow {
  return { id, title, unit, better, method, cells: c, explain };
}

const NO_CONTAINER_DISK = "the container shares the pv VM's disk: the pv column is its figure";

export function syntheticCompareResults(): CompareResults {
  return {
    bench: "compare",
    date: "2026-12-04T09:30:00.000Z",
    durationS: 1834.6,
    host: {
      cpuModel: "Intel(R) Xeon(R) Processor (synthetic)",
      cpuCount: 2,
      totalMemGiB: 23.5,
      platform: "linux",
      release: "6.18.0",
      arch: "x64",
      node: "v20.20.2",
      loadAvg: [1.31, 1.12, 0.98],
    },
    versions: { qemu: "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)", kernel: "Linux 6.12.9 riscv64", node: "v20.20.2", crun: null },
    git: { commit: "0123456789abcdef0123456789abcdef01234567", dirty: false },
    guest: { kernel: "build/guest/Image (sha256 3f2a…)", initramfs: "build/guest/initramfs.cpio.gz (sha256 9bc1…)" },
    options: { runs: 3, diskMib: 16, netMib: 16, timerIters: 200, guestDir: "build/guest", skipDensity: false, quick: true },
    headline:
      "On this machine a pv VM boots to a shell in 3.1 s against 5.9 s for paravm full and 2.4 s for QEMU with virtio; " +
      "its disk writes 41 MiB/s against 0.9 MiB/s through emulated ATA PIO, because each MiB costs 15.6 virtio notifications instead of 524,288 port exits.",
    rows: [
      row("boot-shell", "Boot to a shell", "s", "lower", "Process start to the first shell prompt on the console, median of 3 boots.", cells([3.12, 5.87, 3.61, 2.41, 2.95], {
        pv: { samples: [3.08, 3.12, 3.3], perOp: { exits: 18_204, "instructions (M)": 412, "firmware traps": 0 }, opUnit: "boot" },
        full: { samples: [5.8, 5.87, 6.02], perOp: { exits: 96_410, "instructions (M)": 468, "firmware traps": 51_220 }, opUnit: "boot" },
        container: { note: "pv boot plus starting the container (0.49 s)" },
      }), ["paravm full: 51,220 traps into OpenSBI per boot that pv serves as 0 (it is the SBI)."]),
      row("boot-first-output", "Boot to the first console output", "ms", "lower", "Process start to the kernel's first console byte.", cells([412, 980, 412, 305, 340])),
      row("cpu", "CPU-bound loop", "s", "lower", "CoreMark-like loop of 1.83 G guest instructions in the guest.", cells([4.4, 4.5, 4.41, 1.21, 1.22])),
      row("syscall", "System call", "µs", "lower", "getppid() in a loop, 1 M calls.", cells([0.41, 0.42, 0.44, 0.19, 0.19])),
      row("timer", "usleep(2 ms)", "ms", "lower", "200 × usleep 2000 timed with /proc/uptime; ideal 2 ms.", cells([2.09, 2.21, 2.1, 2.12, 2.15], {
        pv: { perOp: { exits: 2, "set_timer hypercalls": 1 }, opUnit: "iteration" },
        full: { perOp: { exits: 9, "ecalls into OpenSBI": 1, "CLINT writes": 2, "M-mode instructions": 310 }, opUnit: "iteration" },
      }), ["pv: 1 set_timer hypercall per sleep; full: 1 ecall into OpenSBI, 2 CLINT writes and 310 M-mode instructions."]),
      row("disk-write", "Disk write", "MiB/s", "higher", "busybox dd of 16 MiB, oflag=direct, on the raw device.", cells([41.2, 0.93, NO_CONTAINER_DISK, 58.3, 2.1], {
        pv: { samples: [40.1, 41.2, 43], perOp: { exits: 31.2, notifications: 15.6, "instructions (k)": 2_100 }, opUnit: "MiB" },
        full: { samples: [0.91, 0.93, 0.95], perOp: { exits: 524_354, "data-port exits": 524_288, "instructions (k)": 9_650 }, opUnit: "MiB" },
      }), ["ATA PIO: 524,288 data-port exits per MiB against 15.6 virtio notifications."]),
      row("disk-read", "Disk read", "MiB/s", "higher", "busybox dd of 16 MiB after drop_caches, iflag=direct.", cells([52.8, 0.98, NO_CONTAINER_DISK, 71, 2.3])),
      row("net-throughput", "TCP throughput", "MiB/s", "higher", "16 MiB through nc between two VMs on one switch.", cells([18.4, 3.1, 17.9, 24.6, "QEMU's e1000 run did not finish within 600 s | killed"])),
      row("net-rtt", "TCP round trip", "µs", "lower", "ping-pong of 1 byte, 1000 times.", cells([310, 880, 335, 240, 420])),
      row("mem-overhead", "Host memory per guest", "MiB", "lower", "Host RSS of the VM process minus guest RAM, 256 MiB guest.", cells([38, 41, 4.2, 61, 63])),
      row("density", "Guests that fit", "instances", "higher", "Idle guests started until host memory is 80% used.", cells([38, 35, 210, 29, 28])),
      row("idle-cpu", "Idle guest CPU", "% of a core", "lower", "Host CPU of one idle guest over 30 s.", cells([0.8, 1.9, 0, 3.4, 3.6])),
    ],
  };
}
