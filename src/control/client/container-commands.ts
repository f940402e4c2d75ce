/**
 * `paravm container …`: containers in pv VMs of a running daemon (docs/containers.md,
 * "Command line and API"). Each command is one API call or a few (container-run.ts for
 * run and exec); what it prints is a table or a line (container-format.ts), or the API's
 * JSON with --json.
 *
 * Here --host names the container host VM (as in the API's `host`), so the daemon's
 * endpoint is --daemon URL (or PARAVM_HOST, as for `paravm vm`).
 */
import type { Command } from "commander";
import { CONTAINER_API, DEFAULT_HOST } from "../api/containers.js";
import { CONTAINER_HOST, NET_MODES } from "../../hypervisor/containers.js";
import { NET_DEFAULT } from "../../hypervisor/container-limits.js";
import { EXIT } from "../args.js";
import { containerPath } from "./api-client.js";
import { CLIENT_EXIT, print, printJson, withClient, type SetStatus } from "./cli-common.js";
import {
  checkHostVm,
  collectDevice,
  CONTAINER_EXIT,
  parseCpus,
  parseCpuWeight,
  parseMemMax,
  parseName,
  parseNet,
  parsePidsMax,
  parseSeconds,
  runBody,
  setBody,
  type LimitFlags,
  type RunFlags,
} from "./container-args.js";
import { containerLine, containerTable, type ContainerView } from "./container-format.js";
import { execContainer, runContainer } from "./container-run.js";

/** `stop --grace`: the library's range (Container.stop). */
const GRACE_MAX_S = 600;
/** What a stop or rm may take in a slow guest beyond its grace (a runtime call is up to 90 s there). */
const GUEST_SLACK_MS = CONTAINER_HOST.CMD_TIMEOUT_MS + 30_000;

const CONTAINER_HELP = `
Commands after -- are the container's, untouched: paravm container run -- sh -c 'echo hi'.
The daemon is found through --daemon URL, else PARAVM_HOST (http://HOST:PORT or
unix:/path/to/socket), else http://127.0.0.1:8470; the token comes from PARAVM_TOKEN.
Without --host, run uses the VM "${DEFAULT_HOST.NAME}" (pv, ${DEFAULT_HOST.MEM_BYTES / 1024 / 1024} MiB, ${DEFAULT_HOST.CPUS} vCPUs), created and
started when it is not running.
Exit status: 0 done; 2 usage error (the command line); ${CLIENT_EXIT.API_ERROR} the API refused (its message is
printed); ${CLIENT_EXIT.NO_CAPACITY} the memory budget cannot admit the host VM; ${CLIENT_EXIT.NO_DAEMON} no daemon is running.
run (in the foreground) and exec exit with the command's status: ${CONTAINER_EXIT.NO_SUCH_COMMAND} no such command,
${CONTAINER_EXIT.KILLED} killed (by the OOM killer: said on stderr); when the API refuses them, ${CONTAINER_EXIT.REFUSED}.`;

/** Said after a usage error of run and exec: the usual one is the command's own option taken for ours. */
const AFTER_DASHES = "(a command with options of its own goes after --: paravm container run -- sh -c 'echo hi')";

interface Common {
  daemon?: string;
  json?: boolean;
}

/** --daemon and --json on every container command. */
function common(cmd: Command, json = true): Command {
  cmd.option("--daemon <url>", "the daemon: http://HOST:PORT or unix:/path (default: PARAVM_HOST, else http://127.0.0.1:8470)");
  if (json) cmd.option("--json", "print the API's JSON answer instead of a table or line");
  return cmd;
}

function limitOptions(cmd: Command): Command {
  return cmd
    .option("--cpus <n>", "at most N vCPUs' time, as docker's --cpus (1.5 = 150% of one vCPU; up to the host VM's vCPUs)", parseCpus)
    .option("--cpu-weight <w>", "cpu.weight against the other containers, 1..10000 (default 100)", parseCpuWeight)
    .option("--mem-max <size>", "memory.max: bytes, K/M/G, or max (at least 4M; at most the host VM's RAM)", parseMemMax)
    .option("--pids-max <n>", "pids.max, 1..65536 (default 512)", parsePidsMax);
}

export function registerContainerCommands(program: Command, setStatus: SetStatus): void {
  const ct = program
    .command("container")
    .description(`containers in pv VMs of a running daemon (\`paravm serve\`): run, ls, logs, exec, set, stop, rm`)
    .addHelpText("after", CONTAINER_HELP);

  common(
    limitOptions(
      ct
        .command("run")
        .description("run CMD in a new container: in the foreground its output and exit status, with -d its name")
        .argument("<cmd...>", "the command and its arguments (after --)")
        .showHelpAfterError(AFTER_DASHES)
        .option("--host <vm>", `the pv VM to run it in (default ${DEFAULT_HOST.NAME}, started when needed)`)
        .option("--name <name>", "its name: [a-z0-9-], 1-32 characters (default c-<8 hex digits>)", parseName),
    )
      .option("--net <mode>", `its network: ${NET_MODES.join(", ")} (default ${NET_DEFAULT})`, parseNet)
      .option("--device <path>", "a device of the host's guest to give it (repeatable)", collectDevice)
      .option("-d, --detach", "print its name once it runs and return")
      .option("--rm", "remove it once it has exited (foreground only)"),
  ).action((cmd: string[], opts: RunFlags & Common & { detach?: boolean; rm?: boolean }) =>
    withClient(
      setStatus,
      opts.daemon,
      async (c) => {
        const body = runBody(cmd, opts);
        return runContainer(c, body, { detach: opts.detach === true, rm: opts.rm === true, json: opts.json === true });
      },
      CONTAINER_EXIT.REFUSED,
    ),
  );

  common(ct.command("ls").description("list the containers: host, state, exit status, limits, memory and CPU used, command").option("--host <vm>", "only those in this VM")).action(
    (opts: Common & { host?: string }) =>
      withClient(setStatus, opts.daemon, async (c) => {
        const host = checkHostVm(opts.host);
        const cs = await c.json<ContainerView[]>("GET", host === undefined ? "/containers" : `/containers?host=${encodeURIComponent(host)}`);
        if (opts.json) printJson(cs);
        else print(containerTable(cs));
        return EXIT.OK;
      }),
  );

  common(ct.command("logs").description("print a container's output so far (stdout and stderr; the guest keeps 1 MiB)").argument("<name>", "the container"), false).action(
    (name: string, opts: Common) =>
      withClient(setStatus, opts.daemon, async (c) => {
        const a = await c.request("GET", `/api/v1${containerPath(name, "/logs")}`, {});
        process.stdout.write(a.body);
        return EXIT.OK;
      }),
  );

  common(
    ct
      .command("exec")
      .description("run CMD inside a running container; its output printed, its status ours")
      .argument("<name>", "the container")
      .argument("<cmd...>", "the command and its arguments (after --)")
      .showHelpAfterError(AFTER_DASHES)
      .option("--timeout <s>", `kill it after S seconds (default ${CONTAINER_API.EXEC_DEFAULT_S})`, parseSeconds(1, CONTAINER_API.EXEC_MAX_S)),
    false,
  ).action((name: string, cmd: string[], opts: Common & { timeout?: number }) =>
    withClient(setStatus, opts.daemon, (c) => execContainer(c, name, cmd, opts.timeout), CONTAINER_EXIT.REFUSED),
  );

  common(limitOptions(ct.command("set").description("change a running container's limits; all of them are applied, or none").argument("<name>", "the container"))).action(
    (name: string, opts: LimitFlags & Common) =>
      withClient(setStatus, opts.daemon, async (c) => {
        const v = await c.json<ContainerView>("PATCH", containerPath(name), { body: setBody(opts) });
        if (opts.json) printJson(v);
        else print(containerLine(v));
        return EXIT.OK;
      }),
  );

  common(
    ct
      .command("stop")
      .description("stop a container: SIGTERM to its PID 1, then SIGKILL to all of it after the grace")
      .argument("<name>", "the container")
      .option("--grace <s>", `seconds between SIGTERM and SIGKILL, 0..${GRACE_MAX_S} (default ${CONTAINER_HOST.STOP_GRACE_S})`, parseSeconds(0, GRACE_MAX_S)),
  ).action((name: string, opts: Common & { grace?: number }) =>
    withClient(setStatus, opts.daemon, async (c) => {
      const grace = opts.grace ?? CONTAINER_HOST.STOP_GRACE_S;
      const v = await c.json<ContainerView>("POST", containerPath(name, "/stop"), { body: { graceS: grace }, timeoutMs: grace * 1000 + GUEST_SLACK_MS });
      if (opts.json) printJson(v);
      else print(containerLine(v));
      return EXIT.OK;
    }),
  );

  common(
    ct
      .command("rm")
      .description("remove containers and everything they made in their guest (a running one only with -f: stopped first)")
      .argument("<name...>", "the containers")
      .option("-f, --force", "stop it first if it runs"),
  ).action((names: string[], opts: Common & { force?: boolean }) =>
    withClient(setStatus, opts.daemon, async (c) => {
      for (const name of names) {
        await c.json("DELETE", containerPath(name, opts.force ? "?force=true" : ""), { timeoutMs: GUEST_SLACK_MS });
        if (!opts.json) print(`${name}: removed`);
      }
      if (opts.json) printJson(names.map((name) => ({ name, removed: true })));
      return EXIT.OK;
    }),
  );
}
