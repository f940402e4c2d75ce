// bench:compare's report, rendered from the synthetic results of compare-testkit.ts. The
// expected ratios and words are computed here from the input numbers, so a renderer that
// divided the wrong way, or called a slower disk "better", fails; the links are followed
// to files on disk; the CLI is run as a person would run it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { COLUMN_COLORS } from "./compare-charts.js";
import { compareReportFiles, optionFlag, renderCompareReport } from "./compare-report.js";
import { syntheticCompareResults } from "./compare-testkit.js";
import { COLUMN_TITLES, COMPARE_COLUMNS, type CompareResults, type CompareRow } from "./compare-types.js";
import { compareResultsProblems } from "./compare-validate.js";
import { contrastRatio } from "./svg-chart.js";
import { drawnBars, svgProblems } from "./svg-testkit.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "compare-report.js");
/** WCAG's minimum contrast for graphics against their background. */
const MIN_GRAPHIC_CONTRAST = 3;

const work = mkdtempSync(join(tmpdir(), "paravm-compare-report-"));
after(() => rmSync(work, { recursive: true, force: true }));

const input = syntheticCompareResults();
const outDir = join(work, "report");
const { files } = renderCompareReport(input, outDir);
const md = readFileSync(join(outDir, "README.md"), "utf8");

/** The summary table's line for a row (it links to the row's section). */
function summaryLine(row: CompareRow): string {
  const line = md.split("\n").find((l) => l.startsWith(`| [${row.title}](#${row.id})`));
  assert.ok(line, `summary line for ${row.id}`);
  return line;
}

/** A table line's cells, split at unescaped pipes. */
const cellsOf = (line: string) => line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());

const rowById = (results: CompareResults, id: string) => results.rows.find((r) => r.id === id)!;

test("the summary gives each column's ratio against pv, computed from the values, with the right word", () => {
  let checked = 0;
  for (const row of input.rows) {
    const line = cellsOf(summaryLine(row));
    assert.equal(line.length, 1 + COMPARE_COLUMNS.length, `${row.id}: one cell per column (a "|" in a reason must be escaped)`);
    const pv = row.cells.pv.value!;
    COMPARE_COLUMNS.forEach((col, i) => {
      const v = row.cells[col].value;
      if (col === "pv" || v === null || pv === 0 || v === 0) return;
      const ratio = v / pv;
      const worse = row.better === "lower" ? ratio > 1 : ratio < 1;
      const text = line[i + 1]!;
      assert.ok(text.includes(`${ratio.toPrecision(3)}× pv`), `${row.id}/${col}: ${text}`);
      if (ratio.toPrecision(3) !== "1.00") assert.ok(text.includes(worse ? "worse" : "better"), `${row.id}/${col}: ${text}`);
      if (ratio < 1 && ratio.toPrecision(3) !== "1.00") assert.ok(text.includes(`${(1 / ratio).toPrecision(3)}×`), `${row.id}/${col}: the inverse factor`);
      checked++;
    });
  }
  assert.ok(checked > 30, `${checked} ratios checked`);
});

test("a higher-is-better row calls a smaller figure worse", () => {
  const disk = rowById(input, "disk-write");
  assert.equal(disk.better, "higher");
  const full = cellsOf(summaryLine(disk))[2]!;
  const factor = (disk.cells.pv.value! / disk.cells.full.value!).toPrecision(3);
  assert.ok(full.includes(`${factor}× worse`), full);
  assert.match(summaryLine(disk), /MiB\/s, higher is better/);
});

test("the best figure of a row is bold", () => {
  const density = rowById(input, "density");
  const best = COMPARE_COLUMNS.reduce((a, c) => (density.cells[c].value! > density.cells[a].value! ? c : a), "pv" as (typeof COMPARE_COLUMNS)[number]);
  const cell = cellsOf(summaryLine(density))[1 + COMPARE_COLUMNS.indexOf(best)]!;
  assert.ok(cell.startsWith(`**${density.cells[best].value} instances**`), cell);
});

test("a cell that was not measured says why, in the summary and in its row's table", () => {
  let nulls = 0;
  for (const row of input.rows) {
    for (const col of COMPARE_COLUMNS) {
      const c = row.cells[col];
      if (c.value !== null) continue;
      nulls++;
      const why = c.why!.replace(/\|/g, "\\|");
      assert.ok(summaryLine(row).includes(`not measured: ${why}`), `${row.id}/${col}`);
      assert.ok(md.includes(`| ${COLUMN_TITLES[col]} | not measured: ${why} |`), `${row.id}/${col} in its section`);
    }
  }
  assert.ok(nulls > 0, "the fixture has null cells");
  assert.ok(md.includes(`each of the other ${nulls} says why`), "the count of unmeasured cells");
});

test("explain sentences, methods and per-operation figures are in the report", () => {
  for (const row of input.rows) {
    for (const s of row.explain) assert.ok(md.includes(`- ${s}`), s);
    assert.ok(md.includes(row.method), row.id);
  }
  const disk = rowById(input, "disk-write");
  const ports = disk.cells.full.perOp!["data-port exits"]!;
  const line = md.split("\n").find((l) => l.startsWith("| data-port exits |"))!;
  assert.ok(cellsOf(line).includes(ports.toLocaleString("en-US")), line);
  assert.ok(md.includes(`| per ${disk.cells.pv.opUnit} |`), "the per-op table names the operation");
});

test("every image and link points at a file that was written; every SVG is well-formed", () => {
  const targets = [...md.matchAll(/\]\(([^)#]+)\)/g)].map((m) => m[1]!);
  assert.ok(targets.includes("summary.svg") && targets.includes("results.json"));
  for (const row of input.rows) assert.ok(targets.includes(`${row.id}.svg`), row.id);
  for (const t of targets) assert.ok(existsSync(join(outDir, t)), t);
  const svgs = files.filter((f) => f.endsWith(".svg"));
  assert.ok(svgs.length > input.rows.length);
  for (const f of svgs) assert.deepEqual(svgProblems(readFileSync(f, "utf8")), [], f);
});

test("the summary chart's bars are the same ratios (times worse than pv)", () => {
  const svg = readFileSync(join(outDir, "summary.svg"), "utf8");
  const bars = drawnBars(svg);
  const disk = rowById(input, "disk-write");
  const full = bars.find((b) => b.title.startsWith(`${disk.title}, ${COLUMN_TITLES.full}:`))!;
  assert.ok(full.title.includes(`${(disk.cells.pv.value! / disk.cells.full.value!).toPrecision(3)}× worse`), full.title);
  const boot = rowById(input, "boot-shell");
  const virtio = bars.find((b) => b.title.startsWith(`${boot.title}, ${COLUMN_TITLES["qemu-virtio"]}:`))!;
  assert.ok(virtio.title.includes(`${(boot.cells.pv.value! / boot.cells["qemu-virtio"].value!).toPrecision(3)}× better`), virtio.title);
  // On a log scale around 1×, a bar's length is proportional to |log(ratio)|.
  const len = (b: { width: number }) => b.width;
  const ratioFull = disk.cells.pv.value! / disk.cells.full.value!;
  const ratioVirtio = boot.cells.pv.value! / boot.cells["qemu-virtio"].value!;
  const expected = Math.log(ratioFull) / Math.log(ratioVirtio);
  assert.ok(Math.abs(len(full) / len(virtio) - expected) < 0.05 * expected, `${len(full)} / ${len(virtio)} vs ${expected}`);
});

test("results.json is the input; the same input renders the same files", () => {
  assert.deepEqual(JSON.parse(readFileSync(join(outDir, "results.json"), "utf8")), input);
  assert.deepEqual(compareReportFiles(syntheticCompareResults()), compareReportFiles(input));
  assert.equal(files[0], join(outDir, "README.md"));
});

test("the report names the machine, versions, commit and options, and how to reproduce", () => {
  assert.ok(md.includes(input.headline));
  assert.ok(md.includes(input.host.cpuModel));
  assert.ok(md.includes(input.versions["qemu"]!));
  assert.ok(md.includes(input.git.commit!));
  assert.ok(md.includes("clean tree"));
  const cmd = md.split("\n").find((l) => l.startsWith("npm run bench:compare"))!;
  for (const [k, v] of Object.entries(input.options)) {
    const flag = optionFlag(k, v).join(" ");
    if (flag) assert.ok(cmd.includes(flag), `${flag} in ${cmd}`);
  }
  assert.deepEqual(optionFlag("diskMib", 16), ["--disk-mib", "16"]);
  assert.deepEqual(optionFlag("skipNet", false), []);
  assert.deepEqual(optionFlag("guestDir", "my dir"), ["--guest-dir", "'my dir'"]);
});

test("each column's colour stands out against white and from the others", () => {
  const colors = COMPARE_COLUMNS.map((c) => COLUMN_COLORS[c]);
  for (const c of colors) assert.ok(contrastRatio(c, "#ffffff") >= MIN_GRAPHIC_CONTRAST, c);
  assert.equal(new Set(colors).size, colors.length);
});

/** The synthetic input with one change made by `edit` on a deep copy. */
function broken(edit: (r: any) => void): unknown {
  const r = JSON.parse(JSON.stringify(input));
  edit(r);
  return r;
}

test("invalid results are rejected with a message that names the problem", () => {
  const cases: [string, unknown, RegExp][] = [
    ["missing column", broken((r) => delete r.rows[5].cells["qemu-virtio"]), /rows\[5\] \(disk-write\): cells has no "qemu-virtio" column/],
    ["null without why", broken((r) => (r.rows[0].cells.full = { value: null })), /rows\[0\] \(boot-shell\)\.cells\.full: value is null but `why`/],
    ["unsafe id", broken((r) => (r.rows[1].id = "../../etc")), /rows\[1\].*id "..\/..\/etc"/],
    ["unknown column", broken((r) => (r.rows[2].cells.kvm = { value: 1 })), /unknown column "kvm"/],
    ["wrong bench", broken((r) => (r.bench = "boot")), /bench is "boot"/],
    ["string value", broken((r) => (r.rows[3].cells.pv.value = "fast")), /rows\[3\] \(syscall\)\.cells\.pv: value is a string/],
    ["better", broken((r) => (r.rows[0].better = "faster")), /better is "faster"/],
    ["duplicate id", broken((r) => (r.rows[1].id = r.rows[0].id)), /id "boot-shell" is used by an earlier row/],
    ["not an object", [], /holds an array/],
  ];
  for (const [name, value, re] of cases) {
    const p = compareResultsProblems(value);
    assert.ok(p.some((s) => re.test(s)), `${name}: ${p.join("; ")}`);
  }
  assert.deepEqual(compareResultsProblems(input), []);
  const dir = join(work, "never");
  assert.throws(() => renderCompareReport(broken((r) => delete r.rows[0].cells.pv) as CompareResults, dir), /cells has no "pv" column/);
  assert.equal(existsSync(dir), false, "nothing written for an invalid input");
});

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
}

test("CLI: re-renders a results file; rejects a missing, non-JSON or wrong-shaped file naming why", () => {
  const good = join(work, "good.json");
  writeFileSync(good, JSON.stringify(input));
  const out = join(work, "cli-out");
  const ok = cli(good, "--out", out);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(readFileSync(join(out, "README.md"), "utf8"), md);

  const missing = cli(join(work, "nope.json"), "--out", out);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.json: no such file/);

  const notJson = join(work, "bad.json");
  writeFileSync(notJson, "{ not json");
  const nj = cli(notJson, "--out", out);
  assert.equal(nj.status, 1);
  assert.match(nj.stderr, /bad\.json is not valid JSON/);

  const shape = join(work, "shape.json");
  writeFileSync(shape, JSON.stringify(broken((r) => delete r.rows[7].cells["qemu-emulated"])));
  const bad = cli(shape, "--out", join(work, "not-written"));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /not a bench:compare results file/);
  assert.match(bad.stderr, /rows\[7\] \(net-throughput\): cells has no "qemu-emulated" column/);
  assert.equal(existsSync(join(work, "not-written")), false);

  const usage = cli();
  assert.equal(usage.status, 1);
  assert.match(usage.stderr, /usage:/);
});
