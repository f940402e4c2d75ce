/**
 * `paravm serve`: the daemon. Holds one Vmm (and its Hypervisor) and serves it on
 * 127.0.0.1:8470 by default, on another address (then a token is required: given, or
 * generated and printed), or on a Unix socket. SIGINT/SIGTERM stop every VM cleanly (each
 * owner thread closes its disk, which syncs it) and exit 0; the state directory keeps the
 * VMs for the next start. `--link NET=HOST:PORT` links a network to another daemon's and
 * keeps the link up (src/net/links.ts).
 */
import { existsSync, lstatSync, readFileSync, unlinkSync } from "node:fs";
import { isIP } from "node:net";
import { FULL_DEFAULTS } from "../../machine/full.js";
import { mib } from "../../hypervisor/memory-pool.js";
import { VM_NAME } from "../../hypervisor/vm-spec.js";
import { VCPU_THREADS } from "../../hypervisor/vcpu-threads.js";
import { LinkError, parseLinkTarget } from "../../net/links.js";
import { checkDisk, EXIT, loadGuest, UsageError } from "../args.js";
import { generateToken } from "./auth.js";
import { buildServer } from "./server.js";
import { defaultStateDir } from "./state.js";
import { Vmm } from "./vmm.js";

export const SERVE_DEFAULTS = { HOST: "127.0.0.1", PORT: 8470 } as const;

export interface ServeOptions {
  listen?: string;
  socket?: string;
  token?: string;
  stateDir?: string;
  hostMem?: number;
  pcpus?: number;
  spareThreads?: number;
  kernel?: string;
  initrd?: string;
  firmware?: string;
  /** `--link NET=HOST:PORT`, each kept up (src/net/links.ts). */
  link?: string[];
  linkToken?: string;
}

/** `--link` values as network and far daemon, checked whole before the daemon starts. */
export function parseLinks(specs: readonly string[]): { network: string; to: string }[] {
  const seen = new Set<string>();
  return specs.map((spec) => {
    const eq = spec.indexOf("=");
    const network = spec.slice(0, eq);
    const to = spec.slice(eq + 1);
    if (eq < 0 || !VM_NAME.test(network)) throw new UsageError(`--link '${spec}': expected NET=HOST:PORT, NET a network name (letters, digits, '_', '.', '-'; at most 32)`);
    try {
      parseLinkTarget(to);
    } catch (e) {
      if (e instanceof LinkError) throw new UsageError(`--link '${spec}': ${e.message}`);
      throw e;
    }
    if (seen.has(`${network} ${to}`)) throw new UsageError(`--link '${spec}' is given twice`);
    seen.add(`${network} ${to}`);
    return { network, to };
  });
}

/** "HOST:PORT" (IPv6 in brackets) → host and port; a clear error naming --listen otherwise. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || port > 65535) throw new UsageError(`--listen '${text}': expected HOST:PORT (127.0.0.1:8470, [::1]:8470, 0.0.0.0:8470)`);
  if (m[1] !== undefined && isIP(host) !== 6) throw new UsageError(`--listen '${text}': ${host} is not an IPv6 address`);
  return { host, port };
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export async function runServe(opts: ServeOptions, version: string): Promise<number> {
  if (opts.listen !== undefined && opts.socket !== undefined) throw new UsageError("--listen and --socket: give one");
  const addr = opts.socket === undefined ? parseListen(opts.listen ?? `${SERVE_DEFAULTS.HOST}:${SERVE_DEFAULTS.PORT}`) : null;
  const local = addr === null || LOOPBACK.has(addr.host);
  const given = opts.token ?? (process.env.PARAVM_TOKEN !== undefined && process.env.PARAVM_TOKEN !== "" ? process.env.PARAVM_TOKEN : undefined);
  if (given !== undefined && given.length < 8) throw new UsageError("--token: at least 8 characters");
  const token = given ?? (local ? null : generateToken());
  const links = parseLinks(opts.link ?? []);
  const envLinkToken = process.env.PARAVM_LINK_TOKEN;
  const linkToken = opts.linkToken ?? (envLinkToken !== undefined && envLinkToken !== "" ? envLinkToken : null);

  const stateDir = opts.stateDir ?? defaultStateDir();
  const firmwareFile = opts.firmware ?? FULL_DEFAULTS.FIRMWARE;
  let vmm: Vmm;
  try {
    vmm = new Vmm({
      stateDir,
      version,
      ...(opts.hostMem !== undefined ? { hostMemBytes: opts.hostMem } : {}),
      ...(opts.pcpus !== undefined ? { pcpus: opts.pcpus } : {}),
      spareThreads: opts.spareThreads ?? VCPU_THREADS.DAEMON_SPARES,
      links: { defaultToken: linkToken, log: (line) => void process.stderr.write(`paravm: ${line}\n`) },
      images: () => {
        const { kernel, initrd } = loadGuest(opts);
        return { kernel, ...(initrd ? { initrd } : {}), ...(existsSync(firmwareFile) ? { firmware: readFileSync(firmwareFile) } : {}) };
      },
      diskProblem: (path) => {
        try {
          checkDisk(path);
          return null;
        } catch (e) {
          return (e as Error).message.replace(/^--disk /, "");
        }
      },
    });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--state-dir '${stateDir}': ${(e as Error).message}`);
  }
  const app = await buildServer({ vmm, token, version });
  let where: string;
  try {
    if (opts.socket !== undefined) {
      // A socket file left by a daemon that died: nobody listens on it any more.
      if (existsSync(opts.socket) && lstatSync(opts.socket).isSocket()) unlinkSync(opts.socket);
      await app.listen({ path: opts.socket });
      where = `unix:${opts.socket}`;
    } else {
      await app.listen({ host: addr!.host, port: addr!.port });
      const a = app.server.address();
      const port = typeof a === "object" && a ? a.port : addr!.port;
      where = `http://${addr!.host.includes(":") ? `[${addr!.host}]` : addr!.host}:${port}`;
    }
  } catch (e) {
    await vmm.close();
    throw new UsageError(`cannot listen on ${opts.socket ?? opts.listen ?? `${SERVE_DEFAULTS.HOST}:${SERVE_DEFAULTS.PORT}`}: ${(e as Error).message}`);
  }
  const snap = vmm.hv.memory.snapshot();
  process.stderr.write(
    `paravm: listening on ${where} (${token === null ? "no token: loopback only" : "token required"}); state in ${stateDir}; ` +
      `${vmm.records.size} VM${vmm.records.size === 1 ? "" : "s"}; host memory budget ${mib(snap.budgetBytes)} (${vmm.hv.memorySource}); ${vmm.hv.scheduler.pcpus} host cores\n`,
  );
  if (token !== null && given === undefined) process.stderr.write(`paravm: token (generated): ${token}\n`);
  // Dialed once the daemon listens, so a far daemon linking back finds it; kept up from here on.
  for (const l of links) vmm.links.keep(l.network, l.to);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  process.stderr.write("paravm: stopping every VM\n");
  await app.close();
  await vmm.close();
  process.stderr.write("paravm: stopped\n");
  return EXIT.OK;
}
