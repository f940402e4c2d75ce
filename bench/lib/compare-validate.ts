/**
 * Checks that a parsed JSON value is a bench:compare results file (compare-types.ts)
 * before the report is rendered from it: the CLI reads files a person names, and the
 * renderer turns row ids into file names, so a wrong shape must stop with a message that
 * says where it is wrong ("rows[3] (disk-read).cells.qemu-emulated: value is null but
 * `why` is missing"), never with a TypeError or a chart of NaN.
 */
import { COMPARE_COLUMNS, type CompareResults } from "./compare-types.js";

/** Row ids become file names (<id>.svg): lower-case words and dashes only, no paths. */
const ROW_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Enough problems to fix the file; a wholly wrong file would list hundreds. */
const MAX_PROBLEMS = 20;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === "string";
const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "number" && !Number.isFinite(v) ? String(v) : `a ${typeof v}`);

/** Every problem found (at most MAX_PROBLEMS, the last saying more were cut); empty when valid. */
export function compareResultsProblems(x: unknown): string[] {
  const p: string[] = [];
  const need = (ok: boolean, msg: string) => {
    if (!ok) p.push(msg);
    return ok;
  };
  if (!need(isObj(x), `the file holds ${kind(x)}, not an object`)) return p;
  const r = x as Obj;
  need(r["bench"] === "compare", `bench is ${JSON.stringify(r["bench"])}, not "compare" (is this another bench's results?)`);
  need(isStr(r["date"]) && !Number.isNaN(Date.parse(r["date"])), `date is not an ISO date-time: ${JSON.stringify(r["date"])}`);
  need(isNum(r["durationS"]) && r["durationS"] >= 0, `durationS is ${kind(r["durationS"])}, not a number of seconds ≥ 0`);
  need(isStr(r["headline"]) && r["headline"].trim() !== "", "headline is missing or empty");
  checkHost(r["host"], need);
  checkRecord(r["versions"], "versions", (v) => v === null || isStr(v), "a string or null", need);
  checkRecord(r["guest"], "guest", isStr, "a string", need);
  checkRecord(r["options"], "options", (v) => isNum(v) || isStr(v) || typeof v === "boolean", "a number, string or boolean", need);
  if (need(isObj(r["git"]), `git is ${kind(r["git"])}, not {commit, dirty}`)) {
    const g = r["git"] as Obj;
    need(g["commit"] === null || isStr(g["commit"]), "git.commit is not a string or null");
    need(g["dirty"] === null || typeof g["dirty"] === "boolean", "git.dirty is not a boolean or null");
  }
  if (need(Array.isArray(r["rows"]), `rows is ${kind(r["rows"])}, not an array`)) {
    const rows = r["rows"] as unknown[];
    need(rows.length > 0, "rows is empty: nothing to report");
    const seen = new Set<string>();
    rows.forEach((row, i) => checkRow(row, i, seen, need));
  }
  if (p.length > MAX_PROBLEMS) return [...p.slice(0, MAX_PROBLEMS), `… and ${p.length - MAX_PROBLEMS} more`];
  return p;
}

/** The value as CompareResults, or an Error listing every problem. */
export function asCompareResults(x: unknown): CompareResults {
  const p = compareResultsProblems(x);
  if (p.length > 0) throw new Error(`not a bench:compare results file:\n${p.map((s) => `  - ${s}`).join("\n")}`);
  return x as CompareResults;
}

type Need = (ok: boolean, msg: string) => boolean;

function checkHost(h: unknown, need: Need): void {
  if (!isObj(h)) return void need(false, `host is ${kind(h)}, not the machine's description`);
  for (const k of ["cpuModel", "platform", "release", "arch", "node"]) need(isStr(h[k]), `host.${k} is ${kind(h[k])}, not a string`);
  for (const k of ["cpuCount", "totalMemGiB"]) need(isNum(h[k]), `host.${k} is ${kind(h[k])}, not a number`);
  need(Array.isArray(h["loadAvg"]) && h["loadAvg"].every(isNum), "host.loadAvg is not an array of numbers");
}

function checkRecord(v: unknown, name: string, ok: (x: unknown) => boolean, what: string, need: Need): void {
  if (!isObj(v)) return void need(false, `${name} is ${kind(v)}, not an object`);
  for (const [k, x] of Object.entries(v)) need(ok(x), `${name}.${k} is ${kind(x)}, not ${what}`);
}

function checkRow(row: unknown, i: number, seen: Set<string>, need: Need): void {
  if (!isObj(row)) return void need(false, `rows[${i}] is ${kind(row)}, not an object`);
  const id = row["id"];
  const at = `rows[${i}]${isStr(id) ? ` (${id})` : ""}`;
  if (need(isStr(id) && ROW_ID.test(id), `${at}: id ${JSON.stringify(id)} is not lower-case letters, digits and dashes (it names the chart file)`)) {
    need(!seen.has(id as string), `${at}: id "${id}" is used by an earlier row too`);
    seen.add(id as string);
  }
  for (const k of ["title", "unit", "method"]) need(isStr(row[k]), `${at}: ${k} is ${kind(row[k])}, not a string`);
  need(row["better"] === "lower" || row["better"] === "higher", `${at}: better is ${JSON.stringify(row["better"])}, not "lower" or "higher"`);
  need(Array.isArray(row["explain"]) && row["explain"].every(isStr), `${at}: explain is not an array of sentences`);
  const cells = row["cells"];
  if (!isObj(cells)) return void need(false, `${at}: cells is ${kind(cells)}, not an object with one cell per column`);
  for (const col of COMPARE_COLUMNS) {
    if (need(col in cells, `${at}: cells has no "${col}" column (every row needs all of ${COMPARE_COLUMNS.join(", ")})`)) {
      checkCell(cells[col], `${at}.cells.${col}`, need);
    }
  }
  for (const k of Object.keys(cells)) {
    need((COMPARE_COLUMNS as readonly string[]).includes(k), `${at}: cells has an unknown column "${k}"`);
  }
}

function checkCell(c: unknown, at: string, need: Need): void {
  if (!isObj(c)) return void need(false, `${at} is ${kind(c)}, not a cell`);
  const v = c["value"];
  if (need(v === null || isNum(v), `${at}: value is ${kind(v)}, not a finite number or null`) && v === null) {
    need(isStr(c["why"]) && c["why"].trim() !== "", `${at}: value is null but \`why\` (the reason it could not be measured) is missing`);
  }
  if (c["why"] !== undefined) need(isStr(c["why"]), `${at}: why is not a string`);
  if (c["samples"] !== undefined) need(Array.isArray(c["samples"]) && c["samples"].every(isNum), `${at}: samples is not an array of finite numbers`);
  if (c["perOp"] !== undefined) {
    if (need(isObj(c["perOp"]), `${at}: perOp is not an object`)) {
      for (const [k, x] of Object.entries(c["perOp"] as Obj)) need(isNum(x), `${at}: perOp["${k}"] is ${kind(x)}, not a finite number`);
    }
  }
  for (const k of ["opUnit", "note"]) if (c[k] !== undefined) need(isStr(c[k]), `${at}: ${k} is not a string`);
}
