/**
 * `paravm` command line. Commands translate their options into calls on the machine
 * layer; nothing here knows about instructions or devices.
 *
 *     paravm elf FILE …         bare-metal programs (this file)
 *     paravm run …              Linux on the pv or full machine (run-command.ts)
 *     paravm multi --vm …       several VMs on virtual switches (multi-command.ts)
 *     paravm compare --exec …   pv and full side by side (compare.ts, stats-table.ts)
 *     paravm up FILE            a fleet from a file, watched live (up-command.ts, fleet-file.ts, top-table.ts)
 *     paravm serve              the daemon: REST/WebSocket API, metrics, durable state (api/)
 *     paravm vm …, fleet apply, container …  a client of a running daemon, `paravm serve` (client/)
 *
 * Argument parsing shared by the commands is in args.ts. Exit status: the guest's; 124
 * when --max-insns stopped the run; 2 for usage errors (one line on stderr); 1 when the
 * guest cannot go on; 70 for an internal error.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { BareBoard, BARE_MAP } from "../machine/bare.js";
import { ElfError } from "../machine/elf.js";
import { ImageError } from "../machine/linux-image.js";
import { PV_DEFAULTS } from "../machine/pv.js";
import { FULL_DEFAULTS } from "../machine/full.js";
import { DiskError } from "../devices/virtio/blk/file-backend.js";
import { FLEET_DEFAULTS as MULTI_DEFAULTS } from "../hypervisor/fleet-run.js";
import { AdmissionError } from "../hypervisor/memory-pool.js";
import { compareProfiles, statsTableFromFiles, type CompareOptions } from "./compare.js";
import { EXIT, UsageError, parseMemSize, parseCount, readProgram, defaultGuestDir, parseProfile, parseCpus, parsePcpus, parseDiskControllerArg, parseHostMem, parseCodeCacheMib, parseSpareThreads } from "./args.js";
import { VCPU_THREADS } from "../hypervisor/vcpu-threads.js";
import { runPv, runRestore, statsJson, EscapeFilter, type RunOptions } from "./run-command.js";
import { runMulti, type MultiOptions } from "./multi-command.js";
import { runUp, type UpOptions } from "./up-command.js";
import { runServe, type ServeOptions } from "./api/serve-command.js";
import { registerClientCommands } from "./client/commands.js";

/** `paravm run` options that describe the machine: a snapshot file already does (`--restore`). */
const RESTORE_CONFLICTS = ["profile", "firmware", "kernel", "initrd", "append", "disk", "diskController", "mem", "memTarget", "cpus", "maxCpus", "exec", "maxInsns", "codeCache", "diskRate", "net"] as const;
const flagOf = (o: string): string => `--${o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export { defaultGuestDir, EscapeFilter, EXIT, parseCount, parseCpus, parseMemSize, parseProfile, statsJson, UsageError };

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


/** Collect repeated --vm options. */
const collect = (value: string, prev: string[]): string[] => [...prev, value];

function buildProgram(setStatus: (code: number | Promise<number>) => void): Command {
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
    .description("boot Linux: pv machine (SBI as hypercalls, virtio devices) or full (OpenSBI on emulated hardware)")
    .option(
      "--profile <pv|full>",
      "pv: the kernel's SBI calls are hypercalls, virtio devices; full: unmodified OpenSBI in guest M-mode, 16550 UART, ATA disk, e1000",
      parseProfile,
      "pv",
    )
    .option("--firmware <file>", `M-mode firmware for --profile full (default ${FULL_DEFAULTS.FIRMWARE})`)
    .option("--kernel <file>", "RISC-V Linux Image (default: the built guest image)")
    .option("--initrd <file>", "initramfs (default: the built guest initramfs)")
    .option("--append <args>", `kernel command line (default "${PV_DEFAULTS.BOOTARGS}")`)
    .option("--disk <file[,readonly][,cache=writeback|none]>", "raw disk image: virtio-blk /dev/vda (pv) or ATA /dev/sda (full); size a multiple of 512; snapshot: writes kept in memory only")
    .option(
      "--disk-controller <ata|ahci>",
      "full profile: the disk's controller, ata (platform ATA in PIO mode, the default) or ahci (PCI AHCI, DMA)",
      parseDiskControllerArg,
    )
    .option("--mem <size>", "RAM size: bytes, or K/M/G", parseMemSize, PV_DEFAULTS.MEM)
    .option("--mem-target <size>", "pv: boot with the balloon holding RAM down to SIZE (at least max(32M, mem/8))", parseMemSize)
    .option("--cpus <n>", `harts, 1..${PV_DEFAULTS.MAX_CPUS} (secondaries started by the guest through SBI HSM)`, parseCpus, 1)
    .option("--max-cpus <n>", "pv: harts present, of which --cpus are online at boot; the rest come online live through the guest agent", parseCpus)
    .option("--pcpus <n>", "host cores the scheduler hands out (default: this host's cores; 1 to oversubscribe on purpose)", parsePcpus)
    .option("--host-mem <size>", "host memory budget VMs are admitted against (default: 75% of the host's available memory)", parseHostMem)
    .option("--exec <cmd>", "run CMD in the guest instead of a shell, exit with its status")
    .option("--stats", "print a JSON summary to stderr at the end")
    .option("--max-insns <n>", "stop after N instructions (exit status 124)", parseCount)
    .option("--code-cache <mib>", "host memory per hart for decoded and compiled guest code, in MiB (default 64); less code stays cached", parseCodeCacheMib)
    .option("--disk-rate <spec>", "rate limit for the disk: bw=BYTES/s,ops=REQS/s[,bw_burst=…,ops_burst=…] (K/M/G)")
    .option(
      "--net <name[,mac=…][,rate=bw=…,ops=…]>",
      `virtio-net eth0 on network NAME (alone: for counters); address ${MULTI_DEFAULTS.SUBNET.replace(".0/", ".2/")} by ip= on the kernel command line`,
    )
    .option("--restore <file>", "continue the VM saved in a snapshot FILE instead of booting (its machine, images and disk come from the file)")
    .option("--snapshot-to <file>", "on SIGUSR1, write a snapshot of the running VM to FILE and keep running (kill -USR1 <pid>)")
    .action((opts: RunOptions, cmd: Command) => {
      if (opts.restore === undefined) return setStatus(runPv(opts));
      // The file holds the machine: options that describe one would be silently ignored.
      const given = RESTORE_CONFLICTS.filter((o) => cmd.getOptionValueSource(o) === "cli");
      if (given.length > 0) return setStatus(Promise.reject(new UsageError(`--restore takes the VM from the file: ${given.map(flagOf).join(", ")} cannot be given with it`)));
      setStatus(runRestore({ ...opts, restore: opts.restore }));
    });

  program
    .command("multi")
    .description("run several VMs (pv or full) in this process on shared virtual networks; ends when all have exited")
    .option("--firmware <file>", `M-mode firmware for profile=full VMs (default ${FULL_DEFAULTS.FIRMWARE})`)
    .requiredOption(
      "--vm <spec>",
      "name=N[,profile=pv|full][,net=NET][,mac=…][,mem=…][,mem-target=…][,cpus=…][,max-cpus=…][,weight=1..65535][,cap=%][,disk=FILE][,net-rate=bw=…,ops=…][,disk-rate=…],exec=CMD (exec last; repeat per VM)",
      collect,
      [],
    )
    .option("--kernel <file>", "RISC-V Linux Image (default: the built guest image)")
    .option("--initrd <file>", "initramfs (default: the built guest initramfs)")
    .option("--stats", "print a JSON summary (per VM, and per switch port) to stderr at the end")
    .option("--max-insns <n>", "stop each VM after N instructions", parseCount)
    .option("--pcpus <n>", "host cores the scheduler hands out (default: this host's cores; 1 to oversubscribe on purpose)", parsePcpus)
    .option("--host-mem <size>", "host memory budget VMs are admitted against (default: 75% of the host's available memory)", parseHostMem)
    .addHelpText(
      "after",
      `\nEach VM joins network NET (one learning switch per name) and gets an address from\n${MULTI_DEFAULTS.SUBNET} in --vm order (.2, .3, …), given to the kernel as ip= (no DHCP).\nExit status: the first non-zero guest status (the other VMs are then stopped), else 0.`,
    )
    .action((opts: MultiOptions) => {
      setStatus(runMulti(opts));
    });

  program
    .command("up")
    .description("boot the fleet a YAML/JSON file describes (checked whole first) and show it live; q, Ctrl-C or SIGTERM stops every VM")
    .argument("<file>", "the fleet file: networks: and vms: (README, \"Fleets\"; examples/*.yaml)")
    .option("--json", "one metrics JSON line per VM per second on stdout instead of the table")
    .option("--host-mem <size>", "host memory budget the fleet must fit (default: 75% of the host's available memory)", parseHostMem)
    .option("--pcpus <n>", "host cores the scheduler hands out (default: this host's cores)", parsePcpus)
    .option("--log-dir <dir>", "where each VM's console log goes (default: ~/.cache/paravm/logs/<fleet>-<time>)")
    .option("--kernel <file>", "RISC-V Linux Image (default: the built guest image)")
    .option("--initrd <file>", "initramfs (default: the built guest initramfs)")
    .option("--firmware <file>", `M-mode firmware for profile: full VMs (default ${FULL_DEFAULTS.FIRMWARE})`)
    .action((file: string, opts: UpOptions) => {
      setStatus(runUp(file, opts));
    });

  program
    .command("serve")
    .description("the daemon: VMs over a REST/WebSocket API (docs/api.md), Prometheus /metrics, state kept in --state-dir; SIGINT/SIGTERM stop every VM")
    .option("--listen <host:port>", "address to listen on (default 127.0.0.1:8470; any other host needs a token)")
    .option("--socket <path>", "listen on this Unix socket instead")
    .option("--token <token>", "bearer token clients must send (default $PARAVM_TOKEN; generated and printed off loopback)")
    .option("--state-dir <dir>", "where vms.json is kept (default $XDG_STATE_HOME/paravm or ~/.local/state/paravm)")
    .option("--host-mem <size>", "host memory budget VMs are admitted against (default: 75% of the host's available memory)", parseHostMem)
    .option("--pcpus <n>", "host cores the scheduler hands out (default: this host's cores)", parsePcpus)
    .option("--spare-threads <n>", `vCPU threads kept started ahead, so a restore or incoming migration does not wait for one to load (0..8, default ${VCPU_THREADS.DAEMON_SPARES})`, parseSpareThreads)
    .option("--kernel <file>", "RISC-V Linux Image (default: the built guest image)")
    .option("--initrd <file>", "initramfs (default: the built guest initramfs)")
    .option("--firmware <file>", `M-mode firmware for profile full VMs (default ${FULL_DEFAULTS.FIRMWARE})`)
    .option("--link <net=host:port>", "link network NET to the same-named network of the daemon at HOST:PORT and keep it up (repeat per link; docs/api.md, \"Network links\")", collect, [])
    .option("--link-token <token>", "the far daemons' token for links (default $PARAVM_LINK_TOKEN, which `ps` does not show)")
    .action((opts: ServeOptions) => {
      setStatus(runServe(opts, packageVersion()));
    });

  program
    .command("compare")
    .description("run one command on the pv and on the full machine and print their --stats side by side")
    .requiredOption("--exec <cmd>", "the guest command (run once per profile)")
    .option("--kernel <file>", "RISC-V Linux Image (default: the built guest image)")
    .option("--initrd <file>", "initramfs (default: the built guest initramfs)")
    .option("--disk <file[,readonly|,snapshot]>", "disk for both runs (pv: virtio-blk /dev/vda, full: ATA /dev/sda)")
    .option("--mem <size>", "RAM size for both")
    .option("--cpus <n>", "harts for both")
    .option("--timeout-s <s>", "give up on a run after this long", parseCount, 600)
    .action((opts: CompareOptions) => {
      setStatus(
        (async () => {
          let out;
          try {
            out = compareProfiles(opts, (line) => process.stderr.write(`${line}\n`));
          } catch (e) {
            throw new UsageError((e as Error).message.split("\n")[0]!);
          }
          process.stdout.write(`${out.table}\n`);
          const bad = out.statuses.findIndex((s) => s !== 0);
          if (bad >= 0) process.stderr.write(`paravm: the command exited ${out.statuses[bad]} on ${bad === 0 ? "pv" : "full"}\n`);
          return bad >= 0 ? EXIT.GUEST_FAILED : EXIT.OK;
        })(),
      );
    });

  program
    .command("stats-table")
    .description("print saved --stats lines (one file each) side by side")
    .argument("<files...>", "files holding `paravm run --stats` output (stderr)")
    .action((files: string[]) => {
      setStatus(
        (async () => {
          try {
            process.stdout.write(`${statsTableFromFiles(files)}\n`);
          } catch (e) {
            throw new UsageError((e as Error).message);
          }
          return EXIT.OK;
        })(),
      );
    });

  registerClientCommands(program, setStatus);

  return program;
}

/** The exit status for an error thrown by a command: one line on stderr, never a stack trace for usage errors. */
function errorStatus(e: unknown): number {
  if (e instanceof CommanderError) {
    // --help and --version end with exit code 0; every parse error is a usage error.
    return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  }
  if (e instanceof AdmissionError) {
    process.stderr.write(`paravm: error: ${e.message}\n`);
    return EXIT.NO_CAPACITY;
  }
  if (e instanceof UsageError || e instanceof ElfError || e instanceof ImageError || e instanceof DiskError) {
    process.stderr.write(`paravm: error: ${e.message}\n`);
    return EXIT.USAGE;
  }
  process.stderr.write(`paravm: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return EXIT.INTERNAL;
}

/**
 * Run the CLI on `argv` (as process.argv); returns the process exit status. Never throws.
 * Commands that keep running (`run`) finish asynchronously: main returns 0 at once and
 * sets `process.exitCode` when the command ends (after bin/paravm.js has stored the 0).
 * `mainAsync` resolves to the final status instead.
 */
export function main(argv: readonly string[] = process.argv): number {
  const r = start(argv);
  if (typeof r === "number") return r;
  void r.then((code) => {
    process.exitCode = code;
  });
  return EXIT.OK;
}

/** As `main`, but resolves to the final exit status of every command. */
export async function mainAsync(argv: readonly string[] = process.argv): Promise<number> {
  return start(argv);
}

function start(argv: readonly string[]): number | Promise<number> {
  let status: number | Promise<number> = EXIT.OK;
  const program = buildProgram((code) => {
    status = code;
  });
  try {
    program.parse([...argv]);
  } catch (e) {
    return errorStatus(e);
  }
  const s = status as number | Promise<number>;
  return typeof s === "number" ? s : s.catch(errorStatus);
}
