/**
 * Side-by-side table of `--stats` documents: the same command on the pv and the full
 * machine (`paravm compare`, or `paravm stats-table a.json b.json`), so the cost of each
 * path is read off one screen — where pv makes one hypercall, full traps into firmware
 * and touches device registers.
 *
 * Exit reasons are grouped from their names (see src/machine/run-loop.ts): "sbi.<ext>.<fn>"
 * hypercalls, "mmio.<device>.read|write" per device window, "mmio.<device>.<register>.…"
 * per register (full), "firmware.<cause>" traps into guest M-mode (full), "wfi".
 */

/** The fields of a `--stats` document this table reads. */
export interface StatsDoc {
  readonly profile?: string;
  readonly stop?: string;
  readonly bootMs?: number | null;
  readonly wallMs?: number;
  readonly instructions?: number;
  readonly instructionsByPrivilege?: { readonly M: number; readonly S: number; readonly U: number };
  readonly exits?: Record<string, number>;
  readonly interrupts?: Record<string, number>;
}

/** Parse a `--stats` line; throws an Error naming `what` when it is not one. */
export function parseStatsDoc(text: string, what: string): StatsDoc {
  const line = text.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (line === undefined) throw new Error(`${what}: no --stats JSON line found`);
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (e) {
    throw new Error(`${what}: not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || !("exits" in doc) || !("instructions" in doc)) {
    throw new Error(`${what}: not a paravm --stats document (no exits/instructions)`);
  }
  return doc as StatsDoc;
}

type Row = [label: string, ...cells: string[]];

const num = (n: number | undefined | null): string => (n === undefined || n === null ? "-" : Math.round(n).toLocaleString("en-US"));

/** Exits summed by group: hypercalls, MMIO (per device window), firmware entries, WFI. */
export function exitGroups(exits: Record<string, number>): Map<string, number> {
  const g = new Map<string, number>();
  const add = (k: string, v: number): void => void g.set(k, (g.get(k) ?? 0) + v);
  for (const [k, v] of Object.entries(exits)) {
    const parts = k.split(".");
    if (parts[0] === "sbi") add("hypercalls (SBI)", v);
    else if (parts[0] === "mmio" && parts.length === 3) add(`mmio ${parts[1]}`, v);
    else if (parts[0] === "wfi") add("wfi", v);
  }
  return g;
}

/** Total exits to the hypervisor: hypercalls, MMIO window accesses, WFI (per-register rows are a breakdown, not added). */
export function totalExits(exits: Record<string, number>): number {
  let t = 0;
  for (const v of exitGroups(exits).values()) t += v;
  return t;
}

/** Traps into the guest's own M-mode firmware (full): not exits, but work the pv guest never does. */
function firmwareEntries(exits: Record<string, number>): Map<string, number> {
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(exits)) if (k.startsWith("firmware.")) m.set(k.slice(9), v);
  return m;
}

/** The `n` busiest registers over all docs: "device.register.read|write". */
function topRegisters(docs: readonly StatsDoc[], n: number): string[] {
  const all = new Map<string, number>();
  for (const d of docs) {
    for (const [k, v] of Object.entries(d.exits ?? {})) {
      const parts = k.split(".");
      if (parts[0] === "mmio" && parts.length >= 4) all.set(parts.slice(1).join("."), (all.get(parts.slice(1).join(".")) ?? 0) + v);
    }
  }
  return [...all.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k]) => k);
}

/** The table as text: one column per document, labelled by `labels`. */
export function sideBySide(labels: readonly string[], docs: readonly StatsDoc[]): string {
  const rows: Row[] = [];
  const section = (title: string): void => void rows.push([`${title}`, ...docs.map(() => "")]);
  const row = (label: string, f: (d: StatsDoc) => number | undefined | null): void =>
    void rows.push([`  ${label}`, ...docs.map((d) => num(f(d)))]);

  section("run");
  rows.push(["  stop", ...docs.map((d) => d.stop ?? "-")]);
  row("boot to userspace, ms", (d) => d.bootMs);
  row("wall, ms", (d) => d.wallMs);
  section("guest instructions");
  row("total", (d) => d.instructions);
  row("M-mode (firmware)", (d) => d.instructionsByPrivilege?.M);
  row("S-mode (kernel)", (d) => d.instructionsByPrivilege?.S);
  row("U-mode (user)", (d) => d.instructionsByPrivilege?.U);
  section("exits to the hypervisor");
  row("total", (d) => totalExits(d.exits ?? {}));
  const groups = new Set<string>();
  for (const d of docs) for (const k of exitGroups(d.exits ?? {}).keys()) groups.add(k);
  for (const k of [...groups].sort()) row(k, (d) => exitGroups(d.exits ?? {}).get(k) ?? 0);
  const fw = new Set<string>();
  for (const d of docs) for (const k of firmwareEntries(d.exits ?? {}).keys()) fw.add(k);
  if (fw.size > 0) {
    section("traps into guest firmware (M-mode)");
    for (const k of [...fw].sort()) row(k, (d) => firmwareEntries(d.exits ?? {}).get(k) ?? 0);
  }
  const regs = topRegisters(docs, 10);
  if (regs.length > 0) {
    section("busiest device registers");
    for (const r of regs) {
      const [dev, ...rest] = r.split(".");
      row(r, (d) => d.exits?.[`mmio.${dev}.${rest.join(".")}`] ?? 0);
    }
  }
  section("interrupts raised");
  const irqs = new Set<string>();
  for (const d of docs) for (const k of Object.keys(d.interrupts ?? {})) irqs.add(k);
  for (const k of [...irqs].sort()) row(k, (d) => d.interrupts?.[k] ?? 0);

  const header: Row = ["", ...labels];
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  return all
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd())
    .join("\n");
}
