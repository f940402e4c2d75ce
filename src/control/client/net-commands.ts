/**
 * `paravm net …`: a running daemon's networks and their links to other daemons
 * (docs/api.md, "Network links"). `net link` makes a link and waits until it is up (or
 * the daemon says why it cannot be); `net unlink` removes one; `net ls` lists networks,
 * their VMs and their links with state and counters.
 *
 * The far daemon's token comes from PARAVM_LINK_TOKEN, never from the command line
 * (where `ps` would show it); without it the daemon uses its own --link-token.
 */
import type { Command } from "commander";
import { LinkError, parseLinkTarget, type LinkView } from "../../net/links.js";
import { EXIT, UsageError } from "../args.js";
import { CLIENT_EXIT, print, printJson, withClient, type SetStatus } from "./cli-common.js";
import { textTable } from "./format.js";
import { shortBytes } from "../top-table.js";

const NET_HELP = `
Links join a network to the same-named network of another daemon (HOST:PORT, its API's
address), so the VMs on both are on one Ethernet segment. They must form a tree: the
daemons refuse a second link between the same two daemons' network, but cannot see a
loop through three. The far daemon's token comes from PARAVM_LINK_TOKEN (else the
daemon's own --link-token). The daemon is found through --host URL, else PARAVM_HOST,
else http://127.0.0.1:8470; its token comes from PARAVM_TOKEN.
Exit status: 0 done; 2 usage error; ${CLIENT_EXIT.API_ERROR} the daemon refused (unreachable far daemon, wrong
token, a loop, no such link: its message is printed); ${CLIENT_EXIT.NO_DAEMON} no daemon is running.`;

/** GET /networks, as the client reads it. */
export interface NetworkListing {
  readonly name: string;
  readonly subnet: string;
  readonly ports: readonly { readonly vm: string }[];
  readonly links?: readonly LinkView[];
}

interface Common {
  host?: string;
  json?: boolean;
}

const networkPath = (name: string, rest: string): string => `/networks/${encodeURIComponent(name)}${rest}`;

/** `--to`: only its form is checked here, by the daemon's own parser (the daemon judges the rest). */
function parseTo(text: string): string {
  try {
    parseLinkTarget(text);
  } catch (e) {
    if (e instanceof LinkError) throw new UsageError(`--to ${e.message}`);
    throw e;
  }
  return text;
}

/** A link as one cell: `->127.0.0.1:8471 up` (dialed) or `<-127.0.0.1:40210 up` (accepted). */
const linkCell = (l: LinkView): string => `${l.direction === "out" ? "->" : "<-"}${l.address} ${l.state}`;

/** One row per link (a network without links: one row with "-"). */
export function networkTable(nets: readonly NetworkListing[]): string[] {
  const rows = nets.flatMap((n) => {
    const vms = n.ports.map((p) => p.vm).join(",") || "-";
    const links = n.links ?? [];
    if (links.length === 0) return [[n.name, n.subnet, vms, "-", "-", "-", "-", "-", "-"]];
    return links.map((l) => [
      n.name,
      n.subnet,
      vms,
      linkCell(l),
      l.peer?.slice(0, 8) ?? "-",
      String(l.connects),
      `${l.rxFrames}/${shortBytes(l.rxBytes)}`,
      `${l.txFrames}/${shortBytes(l.txBytes)}`,
      String(l.drops.malformed + l.drops.noBuffer),
    ]);
  });
  return textTable(["NETWORK", "SUBNET", "VMS", "LINK", "PEER", "CONNECTS", "RX", "TX", "DROPS"], rows);
}

export function linkLine(network: string, l: LinkView): string {
  return `${network}: linked to ${l.address} (daemon ${l.peer?.slice(0, 8) ?? "?"}), ${l.state}`;
}

export function registerNetCommands(program: Command, setStatus: SetStatus): void {
  const net = program.command("net").description("a running daemon's networks and their links to other daemons: ls, link, unlink").addHelpText("after", NET_HELP);
  const common = (cmd: Command): Command =>
    cmd.option("--host <url>", "the daemon: http://HOST:PORT or unix:/path (default: PARAVM_HOST, else http://127.0.0.1:8470)").option("--json", "print the API's JSON answer instead");

  common(net.command("ls").description("networks: subnet, VMs, and each link's state, peer and counters (RX/TX: frames/bytes)")).action((opts: Common) =>
    withClient(setStatus, opts.host, async (c) => {
      const nets = await c.json<NetworkListing[]>("GET", "/networks");
      if (opts.json) printJson(nets);
      else print(networkTable(nets));
      return EXIT.OK;
    }),
  );

  common(
    net
      .command("link")
      .description("link network NET to the same-named network of the daemon at --to; waits until the link is up, which the daemon then keeps up")
      .argument("<net>", "the network")
      .requiredOption("--to <host:port>", "the far daemon's API address", parseTo),
  ).action((name: string, opts: Common & { to: string }) =>
    withClient(setStatus, opts.host, async (c) => {
      const token = process.env.PARAVM_LINK_TOKEN;
      const body = { to: opts.to, ...(token !== undefined && token !== "" ? { token } : {}) };
      const l = await c.json<LinkView>("POST", networkPath(name, "/links"), { body });
      if (opts.json) printJson(l);
      else print(linkLine(name, l));
      return EXIT.OK;
    }),
  );

  common(
    net
      .command("unlink")
      .description("remove the link this daemon dialed from network NET to --to")
      .argument("<net>", "the network")
      .requiredOption("--to <host:port>", "the far daemon, as the link was made", parseTo),
  ).action((name: string, opts: Common & { to: string }) =>
    withClient(setStatus, opts.host, async (c) => {
      await c.json("DELETE", networkPath(name, `/links?to=${encodeURIComponent(opts.to)}`));
      if (opts.json) printJson({ network: name, to: opts.to, removed: true });
      else print(`${name}: unlinked from ${opts.to}`);
      return EXIT.OK;
    }),
  );
}
