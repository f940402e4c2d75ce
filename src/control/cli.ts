/**
 * `paravm` command line. Commands translate their options into calls on the machine
 * layer; nothing here knows about instructions or devices.
 *
 *     paravm elf FILE [--max-insns N] [--trace] [--mem SIZE] [--stats]
 *
 * Exit status: the guest's HTIF exit code; 124 when --max-insns stopped the run; 2 for
 * usage errors (bad option, missing file, an ELF that cannot run); 1 when the guest
 * cannot go on (HTIF request the host cannot serve, WFI with nothing to wake it).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { BareBoard, BARE_MAP } from "../machine/bare.js";
import { ElfError } from "../machine/elf.js";
import { ImageError } from "../machine/linux-image.js";
import { PvMachine, PV_DEFAULTS } from "../machine/pv.js";
import { existsSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const EXIT = {
  OK: 0,
  GUEST_FAILED: 1,
  USAGE: 2,
  INTERNAL: 70,
  /** As timeout(1): the run was cut short by --max-insns. */
  MAX_INSNS: 124,
} as const;

/** A usage problem: printed as one line, exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

const MIB = 1024 * 1024;
const MEM_MIN = 4096;
/** The largest SharedArrayBuffer a typed array can fully cover on Node 20. */
const MEM_MAX = 4096 * MIB;

/**
 * Parse a memory size: a byte count, or a number with K/M/G (optionally KB/KiB, …)
 * meaning powers of 1024, as QEMU's -m does. Must be a multiple of 4 KiB, 4 KiB..4 GiB.
 */
export function parseMemSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(text);
  if (m === null) throw new InvalidArgumentError("expected a size such as 256M, 1G, 512MiB or a byte count.");
  const unit = (m[2] ?? "").toLowerCase();
  const scale =
    unit === "k" ? 1024 : unit === "m" ? MIB : unit === "g" ? 1024 * MIB : unit === "t" ? 1024 * 1024 * MIB : 1;
  const bytes = Number(m[1]) * scale;
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError("not a whole number of bytes.");
  if (bytes < MEM_MIN || bytes > MEM_MAX) throw new InvalidArgumentError("must be between 4K and 4G.");
  if (bytes % 4096 !== 0) throw new InvalidArgumentError("must be a multiple of 4 KiB.");
  return bytes;
}

/** Parse a positive instruction count; `_` separators allowed (1_000_000). */
export function parseCount(text: string): number {
  if (!/^\s*\d[\d_]*\s*$/.test(text)) throw new InvalidArgumentError("expected a positive whole number.");
  const n = Number(text.trim().replace(/_/g, ""));
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive whole number.");
  return n;
}

function packageVersion(): string {
  // dist/src/control/cli.js → package.json three levels up (two when run from src/ directly).
  for (const rel of ["../../../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "paravm" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not there: try the next location
    }
  }
  return "0.0.0";
}

function readProgram(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a directory"
            : ((e as Error).message ?? String(e));
    throw new UsageError(`cannot read '${file}': ${why}`);
  }
}

interface ElfOptions {
  maxInsns?: number;
  trace?: boolean;
  mem: number;
  stats?: boolean;
}

/** `paravm elf`: run a bare-metal program; returns the exit status. */
function runElf(file: string, opts: ElfOptions): number {
  const bytes = readProgram(file);
  const stdout = process.stdout;
  // A reader that goes away (`paravm elf … | head -1`) is not an error of ours: drop the output.
  stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
  });
  let board: BareBoard;
  try {
    board = new BareBoard(bytes, {
      name: file,
      memBytes: opts.mem,
      maxInsns: opts.maxInsns,
      trace: opts.trace === true,
      output: (chunk) => void stdout.write(chunk),
      log: (line) => void process.stderr.write(`${line}\n`),
    });
  } catch (e) {
    if (e instanceof RangeError && /alloc/i.test(e.message)) {
      throw new UsageError(`--mem: cannot allocate ${opts.mem} bytes of guest RAM on this host`);
    }
    throw e;
  }
  const result = board.run();

  if (opts.stats === true) {
    const seconds = result.wallMs / 1000;
    const stats = {
      instructions: result.instret,
      instructionsByPrivilege: result.instretByPriv,
      wallMs: Math.round(result.wallMs * 1000) / 1000,
      mips: seconds > 0 ? Math.round((result.instret / seconds / 1e6) * 1000) / 1000 : 0,
    };
    process.stderr.write(`${JSON.stringify(stats)}\n`);
  }

  switch (result.stop) {
    case "exit": {
      const code = result.exitCode ?? 0;
      if (code > 255) {
        process.stderr.write(`paravm: guest exit code ${code} does not fit an exit status; exiting with 1\n`);
        return EXIT.GUEST_FAILED;
      }
      return code;
    }
    case "maxInsns":
      process.stderr.write(`paravm: stopped after ${opts.maxInsns ?? result.instret} instructions (--max-insns)\n`);
      return EXIT.MAX_INSNS;
    case "htifError":
    case "wfiDeadlock":
      process.stderr.write(`paravm: ${result.message ?? result.stop}\n`);
      return EXIT.GUEST_FAILED;
  }
}

/** The newest guest-image cache dir that holds an Image and an initramfs, or null. */
export function defaultGuestDir(): string | null {
  const root = join(process.env.PARAVM_CACHE ?? join(homedir(), ".cache", "paravm"));
  let best: { dir: string; t: number } | null = null;
  try {
    for (const name of readdirSync(root)) {
      const dir = join(root, name);
      if (!existsSync(join(dir, "Image")) || !existsSync(join(dir, "initramfs.cpio.gz"))) continue;
      const t = statSync(join(dir, "Image")).mtimeMs;
      if (best === null || t > best.t) best = { dir, t };
    }
  } catch {
    return null;
  }
  return best?.dir ?? null;
}

interface RunOptions {
  kernel?: string;
  initrd?: string;
  append?: string;
  mem: number;
  exec?: string;
  stats?: boolean;
  maxInsns?: number;
}

const EXIT_LINE = /PARAVM-EXIT-STATUS=(\d+)/;

/** `paravm run`: boot Linux on the pv machine; returns the exit status. */
function runPv(opts: RunOptions): number {
  const dir = opts.kernel !== undefined && opts.initrd !== undefined ? null : defaultGuestDir();
  const kernelFile = opts.kernel ?? (dir ? join(dir, "Image") : null);
  if (kernelFile === null) throw new UsageError("no --kernel given and no built guest images found (run: node scripts/build-guests.mjs)");
  const initrdFile = opts.initrd ?? (dir ? join(dir, "initramfs.cpio.gz") : undefined);
  const kernel = readProgram(kernelFile);
  const initrd = initrdFile !== undefined ? readProgram(initrdFile) : undefined;
  let bootargs = opts.append ?? PV_DEFAULTS.BOOTARGS;
  if (opts.exec !== undefined) bootargs += ` paravm.exec=${Buffer.from(opts.exec, "utf8").toString("base64")}`;
  const stdout = process.stdout;
  stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
  });
  let tail = "";
  let exitStatus: number | null = null;
  const machine = new PvMachine({
    kernel,
    initrd,
    bootargs,
    memBytes: opts.mem,
    maxInsns: opts.maxInsns,
    output: (bytes) => {
      stdout.write(bytes);
      if (opts.exec !== undefined && exitStatus === null) {
        tail = (tail + Buffer.from(bytes).toString("latin1")).slice(-256);
        const m = EXIT_LINE.exec(tail);
        if (m && /\r?\n/.test(tail.slice(m.index))) exitStatus = Number(m[1]);
      }
    },
  });
  const result = machine.run();
  if (opts.stats === true) {
    process.stderr.write(
      `${JSON.stringify({
        stop: result.stop,
        instructions: result.instret,
        instructionsByPrivilege: result.instretByPriv,
        wallMs: Math.round(result.wallMs),
        wfiSleepMs: Math.round(result.sleptMs),
        wfiSleeps: result.sleeps,
        exits: Object.fromEntries(result.exits.filter((e) => e.count > 0).map((e) => [e.name, e.count])),
      })}\n`,
    );
  }
  if (result.stop === "maxInsns") {
    process.stderr.write(`paravm: stopped after ${opts.maxInsns} instructions (--max-insns) at pc 0x${result.pc.toString(16)}\n`);
    return EXIT.MAX_INSNS;
  }
  if (result.stop === "wfiDeadlock") {
    process.stderr.write(`paravm: hart 0 waits in WFI at 0x${result.pc.toString(16)} with no timer armed\n`);
    return EXIT.GUEST_FAILED;
  }
  if (opts.exec !== undefined) {
    if (exitStatus === null) {
      process.stderr.write("paravm: the guest powered off without printing PARAVM-EXIT-STATUS\n");
      return EXIT.GUEST_FAILED;
    }
    return exitStatus > 255 ? EXIT.GUEST_FAILED : exitStatus;
  }
  return result.resetReason === 1 ? EXIT.GUEST_FAILED : EXIT.OK;
}

function buildProgram(setStatus: (code: number) => void): Command {
  const program = new Command("paravm");
  program
    .description("A hypervisor in TypeScript: RISC-V RV64GC guests, para-virtualized and fully virtualized.")
    .version(packageVersion(), "-V, --version", "print the version")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      // Commander's own errors are one line; keep them prefixed like ours.
      outputError: (text, write) => write(text.startsWith("error:") ? `paravm: ${text}` : text),
    });

  program
    .command("elf")
    .description("run a bare-metal RV64 ELF on one hart (RAM at 0x80000000, CLINT, HTIF console and exit)")
    .argument("<file>", "the ELF program (riscv-tests, or anything with tohost/fromhost)")
    .option("--max-insns <n>", "stop after N instructions (exit status 124)", parseCount)
    .option("--trace", "print each instruction's pc and bits to stderr, like spike -l")
    .option(
      "--mem <size>",
      "RAM size: bytes, or K/M/G (e.g. 256M, 1G, 512MiB)",
      parseMemSize,
      BARE_MAP.DEFAULT_RAM_SIZE,
    )
    .option("--stats", "print a JSON line with instruction counts and speed to stderr at the end")
    .action((file: string, opts: ElfOptions) => {
      setStatus(runElf(file, opts));
    });

  program
    .command("run")
    .description("boot Linux on the pv machine (SBI as hypercalls, virtio console and rng)")
    .option("--kernel <file>", "RISC-V Linux Image (default: the built guest image)")
    .option("--initrd <file>", "initramfs (default: the built guest initramfs)")
    .option("--append <args>", `kernel command line (default "${PV_DEFAULTS.BOOTARGS}")`)
    .option("--mem <size>", "RAM size: bytes, or K/M/G", parseMemSize, PV_DEFAULTS.MEM)
    .option("--exec <cmd>", "run CMD in the guest instead of a shell, exit with its status")
    .option("--stats", "print a JSON summary to stderr at the end")
    .option("--max-insns <n>", "stop after N instructions (exit status 124)", parseCount)
    .action((opts: RunOptions) => {
      setStatus(runPv(opts));
    });

  return program;
}

/** Run the CLI on `argv` (as process.argv); returns the process exit status. Never throws. */
export function main(argv: readonly string[] = process.argv): number {
  let status = EXIT.OK as number;
  const program = buildProgram((code) => {
    status = code;
  });
  try {
    program.parse([...argv]);
    return status;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with exit code 0; every parse error is a usage error.
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (e instanceof UsageError || e instanceof ElfError || e instanceof ImageError) {
      process.stderr.write(`paravm: error: ${e.message}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`paravm: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT.INTERNAL;
  }
}
