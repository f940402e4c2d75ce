/**
 * The containers beside the VMs (issue 14): one row per container (host, state, exit
 * status, address, limits, memory used, CPU time, command) with stop and remove buttons. Shown on
 * the fleet page for every host, and on a VM's page for that VM. The list is re-read
 * every couple of seconds (the daemon reads its guests' statuses at most once a second)
 * and at once when an event says a container changed.
 */
import type { Api, ContainerView } from "./api.js";
import { button, h, setText, syncKeyedRows } from "./dom.js";
import { bytes, UNKNOWN } from "./format.js";
import type { EventFeed } from "./live.js";
import { notify, notifyError } from "./notice.js";

/** How often the list is re-read (memory used and CPU time move on their own). */
export const CONTAINERS_POLL_MS = 2000;

const COLUMNS = ["container", "host", "state", "exit", "address", "CPUs", "weight", "mem max", "mem used", "CPU time", "command", ""] as const;
const COL = Object.fromEntries(COLUMNS.map((c, i) => [c, i])) as Record<(typeof COLUMNS)[number], number>;

/** cpu.max ("QUOTA/PERIOD", "max/PERIOD") as vCPUs, as docker's --cpus. */
export function cpusText(cpuMax: string | null): string {
  const m = /^(\d+)\/(\d+)$/.exec(cpuMax ?? "");
  return m === null ? "no cap" : String(Number((Number(m[1]) / Number(m[2])).toFixed(2)));
}

/** Its address on the container network, or the network mode when it has none (loopback, none, or not running). */
export function addressText(v: Pick<ContainerView, "ip" | "net">): string {
  return v.ip ?? (v.net === "bridge" ? UNKNOWN : v.net);
}

const limitBytes = (v: number | "max" | null): string => (v === "max" ? "no limit" : bytes(v));

interface Row {
  tr: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  stop: HTMLButtonElement;
  remove: HTMLButtonElement;
  /** As last painted: a running container is removed with force (stopped first), after asking. */
  running: boolean;
}

export interface ContainersTable {
  el: HTMLElement;
  destroy(): void;
}

/** The table of every container, or of those in VM `host`. */
export function containersTable(api: Api, events: EventFeed, host?: string): ContainersTable {
  const tbody = h("tbody");
  // On a VM's page every row has that VM as its host: the column is hidden there.
  const table = h("table", { class: host === undefined ? "containers" : "containers one-host", id: host === undefined ? "containers-table" : "vm-containers-table" }, h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", {}, c)))), tbody);
  const empty = h("p", { class: "empty" }, host === undefined ? "No containers: run one with `paravm container run -- CMD…`." : `No containers in ${host}.`);
  const rows = new Map<string, Row>();
  let views: ContainerView[] = [];

  const refresh = async (): Promise<void> => {
    try {
      views = await api.get<ContainerView[]>(host === undefined ? "/containers" : `/containers?host=${encodeURIComponent(host)}`);
      sync();
    } catch (e) {
      notifyError("reading the containers", e);
    }
  };

  async function act(name: string, what: "stop" | "remove", running: boolean): Promise<void> {
    if (what === "remove" && !window.confirm(running ? `Remove ${name}? It runs: it is stopped first.` : `Remove ${name} and everything it made in its VM?`)) return;
    const row = rows.get(name);
    if (row) row.stop.disabled = row.remove.disabled = true;
    try {
      if (what === "stop") await api.post(api.containerPath(name, "/stop"), {});
      else await api.del(api.containerPath(name, running ? "?force=true" : ""));
      notify(`container ${name}: ${what === "stop" ? "stopped" : "removed"}`);
    } catch (e) {
      notifyError(`${what} container ${name}`, e);
    } finally {
      if (row) row.stop.disabled = row.remove.disabled = false;
      void refresh();
    }
  }

  function makeRow(name: string): Row {
    const cells = COLUMNS.map(() => h("td"));
    const row: Row = { tr: h("tr", { "data-container": name }), cells, stop: h("button"), remove: h("button"), running: false };
    row.stop = button("stop", () => void act(name, "stop", row.running), "act act-stop");
    row.remove = button("remove", () => void act(name, "remove", row.running), "act act-remove danger");
    row.stop.dataset.verb = "stop";
    row.remove.dataset.verb = "remove";
    cells[COL[""]]!.append(h("div", { class: "actions" }, row.stop, row.remove));
    row.tr.append(...cells);
    return row;
  }

  function sync(): void {
    syncKeyedRows(tbody, rows, views, makeRow, paint); // in the API's order (by name)
    empty.hidden = views.length > 0;
    table.hidden = views.length === 0;
  }

  function paint(row: Row, v: ContainerView): void {
    const c = row.cells;
    const running = v.state === "running";
    row.running = running;
    setText(c[COL.container]!, v.name);
    setText(c[COL.host]!, v.host);
    setText(c[COL.state]!, v.state);
    c[COL.state]!.className = `state state-${v.state}`;
    c[COL.state]!.title = v.lostReason ?? v.oomMessage ?? "";
    setText(c[COL.exit]!, v.exitStatus === null ? UNKNOWN : String(v.exitStatus));
    setText(c[COL.address]!, addressText(v));
    setText(c[COL.CPUs]!, cpusText(v.limits.cpuMax));
    setText(c[COL.weight]!, v.limits.cpuWeight === null ? UNKNOWN : String(v.limits.cpuWeight));
    setText(c[COL["mem max"]]!, limitBytes(v.limits.memMax));
    setText(c[COL["mem used"]]!, running ? bytes(v.usage.memBytes) : UNKNOWN);
    setText(c[COL["CPU time"]]!, v.usage.cpuSeconds === null ? UNKNOWN : `${v.usage.cpuSeconds.toFixed(1)} s`);
    setText(c[COL.command]!, v.cmd.join(" "));
    row.stop.hidden = !running;
    row.remove.hidden = v.state === "creating";
  }

  const offEvents = events.added.on((e) => {
    if (e.type === "container" && (host === undefined || e.vm === host)) void refresh();
  });
  const poll = window.setInterval(() => void refresh(), CONTAINERS_POLL_MS);
  void refresh();
  table.hidden = true;
  return {
    el: h("div", { class: "table-wrap containers-wrap" }, table, empty),
    destroy() {
      offEvents();
      window.clearInterval(poll);
    },
  };
}
