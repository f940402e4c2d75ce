/**
 * The CLI as a client of `paravm serve` (docs/api.md): `paravm vm …` and `paravm fleet
 * apply` (`paravm container …` is container-commands.ts, `paravm net …` net-commands.ts). Each command is one or two API
 * calls; what it prints is a table or a line (format.ts), or the API's JSON with --json.
 */
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { WORKLOADS } from "../fleet-file.js";
import { EXIT, parseCount, parseCpus, parseMemSize, parseProfile, readProgram, UsageError } from "../args.js";
import { vmPath } from "./api-client.js";
import { CLIENT_EXIT, print, printJson, withClient as withClientAt, type SetStatus } from "./cli-common.js";
import { registerContainerCommands } from "./container-commands.js";
import { attachConsole, followLogs } from "./console.js";
import { registerNetCommands } from "./net-commands.js";
import { fleetLines, snapshotLine, vmLine, vmTable, type FleetApplied, type SnapshotResult, type VmView } from "./format.js";
import { registerMigrateCommand } from "./migrate-command.js";
import { registerRestoreCommand, restoreBody, snapshotPath } from "./restore-command.js";
import { runTop } from "./top.js";
import { parseWholeNumber, patchFromFlags, vmEntryFromFlags, type CreateFlags, type SetFlags } from "./vm-args.js";

/** `vm logs` without --bytes: the console's whole scroll-back (the daemon keeps 64 KiB). */
const LOGS_DEFAULT_BYTES = 64 * 1024;

const EXIT_HELP = `
The daemon is found through --host URL, else PARAVM_HOST (http://HOST:PORT or
unix:/path/to/socket), else http://127.0.0.1:8470; the token comes from PARAVM_TOKEN.
Exit status: 0 done; 2 usage error (the command line); 1 the API refused (its message is
printed); 3 the memory budget cannot admit the VM (HTTP 507); 69 no daemon is running.`;

interface Common {
  host?: string;
  json?: boolean;
}

export { CLIENT_EXIT };

/** A client for the command's --host. */
const withClient = (setStatus: SetStatus, opts: Common, f: Parameters<typeof withClientAt>[2]): void => withClientAt(setStatus, opts.host, f);

/** --host and --json on every client command. */
function common(cmd: Command, json = true): Command {
  cmd.option("--host <url>", "the daemon: http://HOST:PORT or unix:/path (default: PARAVM_HOST, else http://127.0.0.1:8470)");
  if (json) cmd.option("--json", "print the API's JSON answer instead of a table or line");
  return cmd;
}

export function registerClientCommands(program: Command, setStatus: SetStatus): void {
  const vm = program
    .command("vm")
    .description("manage the VMs of a running daemon (`paravm serve`): ls, create, start, stop, pause, resume, reboot, rm, set, snapshot, restore, migrate, console, logs, top")
    .addHelpText("after", EXIT_HELP);

  common(vm.command("ls").description("list the VMs: state, vCPUs, memory, weight, cap, autoscale")).action((opts: Common) =>
    withClient(setStatus, opts, async (c) => {
      const vms = await c.json<VmView[]>("GET", "/vms");
      if (opts.json) printJson(vms);
      else print(vmTable(vms));
      return EXIT.OK;
    }),
  );

  common(
    vm
      .command("create")
      .description("create a VM from `paravm run`'s machine flags (sent as a fleet-file VM entry); --start boots it")
      .argument("<name>", "the VM's name (letters, digits, '_', '.', '-'; at most 32)")
      .option("--profile <pv|full>", "pv (default) or full", parseProfile)
      .option("--cpus <n>", "vCPUs online at boot (default 1)", parseCpus)
      .option("--max-cpus <n>", "pv: vCPUs present, brought online live with `vm set --vcpus`", parseCpus)
      .option("--mem <size>", "RAM: bytes, or K/M/G (default 256M)", parseMemSize)
      .option("--mem-target <size>", "pv: boot with the balloon holding RAM down to SIZE", parseMemSize)
      .option("--disk <file[,readonly|,snapshot]>", "a raw disk image (path relative to here)")
      .option("--net <name[,mac=…]>", "a NIC on the daemon's network NAME")
      .option("--exec <cmd>", "run CMD in the guest instead of a shell")
      .option("--workload <name>", `a built-in guest program instead (${Object.keys(WORKLOADS).join(", ")})`)
      .option("--weight <w>", "scheduler weight (1..65535, default 256)", parseWholeNumber)
      .option("--cap <percent>", "at most this % of one host core (0: no cap)", parseWholeNumber)
      .option("--start", "start it once created"),
  ).action((name: string, opts: CreateFlags & Common) =>
    withClient(setStatus, opts, async (c) => {
      const v = await c.json<VmView>("POST", "/vms", { body: vmEntryFromFlags(name, opts) });
      if (opts.json) printJson(v);
      else print(vmLine(v));
      return EXIT.OK;
    }),
  );

  for (const [action, what] of [
    ["start", "boot a created or stopped VM"],
    ["stop", "stop a VM (its spec stays; `vm rm` removes it)"],
    ["pause", "stop scheduling a VM's vCPUs (it keeps its memory)"],
    ["resume", "schedule a paused VM again"],
    ["reboot", "restart a running VM's guest"],
  ] as const) {
    common(vm.command(action).description(what).argument("<name>", "the VM")).action((name: string, opts: Common) =>
      withClient(setStatus, opts, async (c) => {
        const v = await c.json<VmView>("POST", vmPath(name, `/${action}`));
        if (opts.json) printJson(v);
        else print(vmLine(v));
        return EXIT.OK;
      }),
    );
  }

  common(vm.command("rm").description("remove a stopped VM (the API refuses a running one: stop it first)").argument("<name>", "the VM")).action(
    (name: string, opts: Common) =>
      withClient(setStatus, opts, async (c) => {
        await c.json("DELETE", vmPath(name));
        if (opts.json) printJson({ name, removed: true });
        else print(`${name}: removed`);
        return EXIT.OK;
      }),
  );

  common(
    vm
      .command("set")
      .description("change a VM's live settings; all of them are applied, or none")
      .argument("<name>", "the VM")
      .option("--weight <w>", "scheduler weight (1..65535)", parseWholeNumber)
      .option("--cap <percent>", "at most this % of one host core (0: no cap)", parseWholeNumber)
      .option("--vcpus <n>", "vCPUs online (pv, up to the VM's --max-cpus)", parseWholeNumber)
      .option("--mem-target <size>", "pv: the balloon's target, K/M/G", parseMemSize)
      .option("--autoscale <json|off>", 'the autoscaler\'s limits, as a fleet file\'s autoscale: ({"cpu":{"weight":{"min":128,"max":1024}}}), or off'),
  ).action((name: string, opts: SetFlags & Common) =>
    withClient(setStatus, opts, async (c) => {
      const v = await c.json<VmView>("PATCH", vmPath(name), { body: patchFromFlags(opts) });
      if (opts.json) printJson(v);
      else print(vmLine(v));
      return EXIT.OK;
    }),
  );

  common(
    vm
      .command("snapshot")
      .description("write a running or paused VM's snapshot to FILE; a running guest is paused for the write, then goes on (docs/snapshots.md)")
      .argument("<name>", "the VM (1 vCPU)")
      .argument("<file>", "the snapshot file, relative to here; an existing file is replaced only if it is a paravm snapshot"),
  ).action((name: string, file: string, opts: Common) =>
    withClient(setStatus, opts, async (c) => {
      const r = await c.json<SnapshotResult>("POST", vmPath(name, "/snapshot"), { body: { file: snapshotPath(file) } });
      if (opts.json) printJson(r);
      else print(snapshotLine(r));
      return EXIT.OK;
    }),
  );

  registerRestoreCommand(vm, common, (opts, f) => withClient(setStatus, opts, f));

  registerMigrateCommand(vm, setStatus, common);

  common(vm.command("console").description("attach this terminal to a VM's console (Ctrl-A X detaches; the VM keeps running)").argument("<name>", "the VM"), false).action(
    (name: string, opts: Common) => withClient(setStatus, opts, (c) => attachConsole(c, name)),
  );

  common(
    vm
      .command("logs")
      .description("print a VM's console output (its scroll-back); --follow keeps printing")
      .argument("<name>", "the VM")
      .option("--follow", "stream the console as it is written, until Ctrl-C")
      .option("--bytes <n>", "the last N bytes of scroll-back (default all the daemon keeps)", parseCount),
    false,
  ).action((name: string, opts: Common & { follow?: boolean; bytes?: number }) =>
    withClient(setStatus, opts, async (c) => {
      if (opts.follow) {
        if (opts.bytes !== undefined) throw new UsageError("vm logs: --bytes and --follow together: --follow starts with the scroll-back");
        return followLogs(c, name);
      }
      process.stdout.write(await c.text(vmPath(name, `/console?bytes=${opts.bytes ?? LOGS_DEFAULT_BYTES}`)));
      return EXIT.OK;
    }),
  );

  common(
    vm
      .command("top")
      .description("the VMs' live metrics, once a second (q quits); without a terminal, one line per VM")
      .option("--count <n>", "stop after N updates", parseCount),
  ).action((opts: Common & { count?: number }) => withClient(setStatus, opts, (c) => runTop(c, opts)));

  const fleet = program.command("fleet").description("a fleet file (as for `paravm up`) applied to a running daemon").addHelpText("after", EXIT_HELP);
  common(
    fleet
      .command("apply")
      .description(
        "create the file's new VMs, update live settings, replace stopped VMs whose machine changed, then start every VM of the fleet; the daemon refuses changes to a running VM's machine (all or nothing)",
      )
      .argument("<file>", "the fleet file (YAML or JSON; networks: and vms:)")
      .option("--no-start", "leave the VMs as they are (created, stopped) instead of starting them"),
  ).action((file: string, opts: Common & { start: boolean }) =>
    withClient(setStatus, opts, async (c) => {
      const r = await c.json<FleetApplied>("POST", opts.start ? "/fleet" : "/fleet?start=false", { body: readFleetFile(file) });
      if (opts.json) printJson(r);
      else print(fleetLines(r));
      return EXIT.OK;
    }),
  );

  registerContainerCommands(program, setStatus);
  registerNetCommands(program, setStatus);
}

export { restoreBody, snapshotPath };

/**
 * A fleet file parsed here, with its disk paths made absolute against the file's
 * directory (as `paravm up` resolves them): the daemon runs elsewhere and never sees the
 * file. Everything else is the API's to check.
 */
export function readFleetFile(file: string): unknown {
  const text = Buffer.from(readProgram(file, "fleet file")).toString("utf8");
  let doc: unknown;
  try {
    doc = extname(file) === ".json" ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  const base = dirname(resolve(file));
  const vms = (doc as { vms?: unknown } | null)?.vms;
  if (Array.isArray(vms)) {
    for (const v of vms) {
      const disks = (v as { disks?: unknown } | null)?.disks;
      if (!Array.isArray(disks)) continue;
      for (const d of disks) {
        if (typeof d === "object" && d !== null && typeof (d as { path?: unknown }).path === "string") {
          const p = (d as { path: string }).path;
          if (p !== "" && !isAbsolute(p)) (d as { path: string }).path = resolve(base, p);
        }
      }
    }
  }
  return doc;
}
