/**
 * The client's container output: the `container ls` table, one container in a line, and
 * the daemon's container events as lines for the progress of a run. No I/O here.
 */
import type { ContainerView as ServerContainerView } from "../api/containers.js";
import { shortBytes } from "../top-table.js";
import { textTable } from "./format.js";

/** A container as the API gives it (docs/api.md, `ContainerView`). */
export type ContainerView = ServerContainerView;

/** A command longer than this is cut in the table (the whole is in --json). */
const COMMAND_SHOWN = 40;

const dash = (v: string | number | null | undefined): string => (v === null || v === undefined || v === "" ? "-" : String(v));

/** cpu.max ("QUOTA/PERIOD", "max/PERIOD") as docker's --cpus: vCPUs, or "-" for no cap. */
export function cpusOf(cpuMax: string | null): string {
  const m = /^(\d+)\/(\d+)$/.exec(cpuMax ?? "");
  if (m === null) return "-";
  return String(Number((Number(m[1]) / Number(m[2])).toFixed(2)));
}

/** A command as a shell would take it back: words with blanks or quotes in single quotes. */
export function commandText(cmd: readonly string[]): string {
  return cmd.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

const limitBytes = (v: number | "max" | null): string => (typeof v === "number" ? shortBytes(v) : "-");

const COLUMNS: readonly { head: string; cell: (c: ContainerView) => string; only?: (cs: readonly ContainerView[]) => boolean }[] = [
  { head: "NAME", cell: (c) => c.name },
  { head: "HOST", cell: (c) => c.host },
  { head: "STATE", cell: (c) => c.state },
  { head: "EXIT", cell: (c) => dash(c.exitStatus) },
  // Only when some container has an address (the net modes that give it an interface).
  { head: "IP", cell: (c) => dash(c.ip), only: (cs) => cs.some((c) => c.ip !== null && c.ip !== undefined) },
  { head: "CPUS", cell: (c) => cpusOf(c.limits.cpuMax) },
  { head: "WEIGHT", cell: (c) => dash(c.limits.cpuWeight) },
  { head: "MEM MAX", cell: (c) => limitBytes(c.limits.memMax) },
  { head: "MEM USED", cell: (c) => (c.state === "running" ? shortBytes(c.usage.memBytes) : "-") },
  { head: "CPU TIME", cell: (c) => (c.usage.cpuSeconds === null ? "-" : `${c.usage.cpuSeconds.toFixed(1)}s`) },
  { head: "COMMAND", cell: (c) => cut(commandText(c.cmd), COMMAND_SHOWN) },
];

/** `container ls`: one row per container; a hint instead of an empty table. */
export function containerTable(cs: readonly ContainerView[]): string[] {
  if (cs.length === 0) return ["no containers (run one with `paravm container run -- CMD…`)"];
  const cols = COLUMNS.filter((c) => c.only === undefined || c.only(cs));
  return textTable(
    cols.map((c) => c.head),
    cs.map((v) => cols.map((c) => c.cell(v))),
  );
}

/** After run -d, set or stop: the container in one line. */
export function containerLine(c: ContainerView): string {
  const exit = c.state === "exited" ? ` (exit status ${dash(c.exitStatus)})` : c.state === "lost" ? ` (${dash(c.lostReason)})` : "";
  const cpus = cpusOf(c.limits.cpuMax);
  return `${c.name}: ${c.state}${exit} on ${c.host}, cpus ${cpus === "-" ? "no cap" : cpus}, cpu weight ${dash(c.limits.cpuWeight)}, mem max ${limitBytes(c.limits.memMax)}, pids max ${dash(c.limits.pidsMax)}`;
}

/** A daemon event about containers (or their host VM booting) as a progress line, or null when it is not one. */
export function containerEventLine(e: Record<string, unknown>): string | null {
  if (e.type === "container" && typeof e.message === "string") return e.message;
  if (e.type === "state" && typeof e.vm === "string") return `VM ${e.vm}: ${String(e.state)}`;
  if (e.type === "created" && typeof e.vm === "string") return `VM ${e.vm}: created`;
  return null;
}
