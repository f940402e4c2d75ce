/**
 * The words bench:compare puts under its figures, computed from the measured cells only:
 * each row's "why" sentences (the per-operation counters of the columns that have them,
 * side by side, e.g. full's ATA data-port exits per MiB against pv's virtio
 * notifications) and the headline the report and the README lead with. A sentence whose
 * figures were not measured is left out rather than written with a gap.
 */
import { fmtNum, fmtRatio, vsPv, withUnit } from "./compare-format.js";
import { COLUMN_TITLES, type CompareCell, type CompareColumn, type CompareRow } from "./compare-types.js";

/** Counters listed per column in a sentence: the total first, then the largest reasons. */
const MAX_REASONS = 3;
/** perOp keys that are counts of their own, not reasons for exits: instruction counts and firmware traps. */
const isTotal = (k: string): boolean => k === "exits" || k === "firmware traps" || /instructions/.test(k);

/** "524,288 exits (mmio.ata.data.write 524,288, …), 9,650,000 instructions" for one cell's perOp. */
export function perOpText(cell: CompareCell): string | null {
  const p = cell.perOp;
  // A run-minus-baseline count below zero is noise larger than the figure: no sentence.
  if (p === undefined || (p["exits"] !== undefined && p["exits"] < 0)) return null;
  const parts: string[] = [];
  if (p["exits"] !== undefined) {
    const reasons = Object.entries(p)
      .filter(([k, v]) => !isTotal(k) && Number.isFinite(v) && v > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_REASONS)
      .map(([k, v]) => `${k} ${fmtNum(v)}`);
    parts.push(`${fmtNum(p["exits"])} exits${reasons.length > 0 ? ` (${reasons.join(", ")})` : ""}`);
  } else {
    for (const [k, v] of Object.entries(p)) if (!isTotal(k) && Number.isFinite(v)) parts.push(`${fmtNum(v)} ${k}`);
  }
  if (p["firmware traps"] !== undefined && p["firmware traps"] > 0) parts.push(`${fmtNum(p["firmware traps"])} traps into the guest's firmware`);
  if (p["instructions"] !== undefined) parts.push(`${fmtNum(p["instructions"])} guest instructions`);
  for (const [k, v] of Object.entries(p)) if (k !== "instructions" && /instructions/.test(k) && Number.isFinite(v)) parts.push(`${fmtNum(v)} ${k}`);
  return parts.length > 0 ? parts.join(", ") : null;
}

/** The row's "why" sentences: each column with per-operation counters, and how far full's exits are from pv's. */
export function explainRow(row: Pick<CompareRow, "cells">): string[] {
  const out: string[] = [];
  const cols = (Object.keys(row.cells) as CompareColumn[]).filter((c) => row.cells[c].perOp !== undefined);
  for (const c of cols) {
    const cell = row.cells[c];
    const t = perOpText(cell);
    if (t !== null) out.push(`${COLUMN_TITLES[c]}: ${t} per ${cell.opUnit ?? "operation"}.`);
  }
  const pv = row.cells.pv.perOp?.["exits"];
  const full = row.cells.full.perOp?.["exits"];
  if (pv !== undefined && full !== undefined && pv > 0 && full > pv) {
    out.push(`full takes ${fmtRatio(full / pv)}× pv's exits per ${row.cells.full.opUnit ?? "operation"}: every one is a trip out of the guest that pv does not make.`);
  }
  return out;
}

/** pv against the column: "4.3× slower" / "1.50× faster" (in the row's better direction), or null without both figures. */
function pvAgainst(row: CompareRow | undefined, column: CompareColumn): string | null {
  if (row === undefined) return null;
  const c = vsPv(row, column);
  if (c === null) return null;
  // c.worse is how much worse the column is than pv: below 1, pv is the worse one.
  return c.worse < 1 ? `${fmtRatio(1 / c.worse)}× slower` : `${fmtRatio(c.worse)}× faster`;
}

/**
 * One or two sentences for the README: what para-virtualization buys over full emulation
 * (the largest measured gap between pv and full, with its counters), and where pv stands
 * against QEMU with virtio; only measured figures appear.
 */
export function headline(rows: readonly CompareRow[]): string {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const parts: string[] = [];
  // The row where full is furthest behind pv.
  let best: { row: CompareRow; worse: number } | null = null;
  for (const r of rows) {
    const c = vsPv(r, "full");
    if (c !== null && c.worse > 1 && (best === null || c.worse > best.worse)) best = { row: r, worse: c.worse };
  }
  if (best !== null) {
    const { row, worse } = best;
    const pvV = row.cells.pv.value!;
    const fullV = row.cells.full.value!;
    const pvE = row.cells.pv.perOp?.["exits"];
    const fullE = row.cells.full.perOp?.["exits"];
    const why =
      pvE !== undefined && fullE !== undefined
        ? `, because each ${row.cells.pv.opUnit ?? "operation"} costs ${fmtNum(pvE)} exits to the hypervisor instead of ${fmtNum(fullE)}`
        : "";
    parts.push(
      `${row.title}: a pv guest does ${withUnit(pvV, row.unit)} against ${withUnit(fullV, row.unit)} for the same kernel on emulated hardware ` +
        `(${fmtRatio(worse)}× better)${why}.`,
    );
  }
  const vsQemu = (["cpu", "disk-write", "boot-shell"] as const)
    .map((id) => ({ id, a: pvAgainst(byId.get(id), "qemu-virtio") }))
    .filter((x): x is { id: (typeof x)["id"]; a: string } => x.a !== null)
    .map(({ id, a }) => `${a} ${id === "cpu" ? "on CPU-bound code" : id === "disk-write" ? "on disk writes" : "to a shell"}`);
  if (vsQemu.length > 0) parts.push(`Against QEMU TCG with virtio devices, pv is ${joinWords(vsQemu)}.`);
  const ctr = byId.get("boot-shell")?.cells.container.value;
  if (ctr !== null && ctr !== undefined) parts.push(`A container on a running pv VM is ready in ${withUnit(ctr, "s")}.`);
  return parts.length > 0 ? parts.join(" ") : "No figure could be measured in this run; each cell says why.";
}

const joinWords = (xs: readonly string[]): string => (xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`);
