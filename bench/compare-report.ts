/**
 * Re-render bench:compare's report from a results file, without measuring anything:
 * after changing the renderer, or to look at an older run.
 *
 *   node dist/bench/compare-report.js FILE.json [--out DIR]
 *
 *   FILE.json   a results file of `npm run bench:compare` (bench/results/compare-….json,
 *               or the results.json next to a report)
 *   --out DIR   where to write README.md, results.json and the SVG charts; default
 *               docs/compare (relative to the repository root)
 *
 * A file that is missing, is not JSON or has the wrong shape is rejected with the reasons
 * (exit status 1) and nothing is written.
 */
import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { printHeaderHelp, ROOT } from "./lib/common.js";
import { renderCompareReport } from "./lib/compare-report.js";
import { asCompareResults } from "./lib/compare-validate.js";

const DEFAULT_OUT = join(ROOT, "docs", "compare");
const USAGE = "usage: node dist/bench/compare-report.js FILE.json [--out DIR]";

function main(argv: string[]): number {
  let args;
  try {
    args = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: "string" }, help: { type: "boolean", short: "h" } } });
  } catch (e) {
    console.error(`compare-report: ${(e as Error).message}\n${USAGE}`);
    return 1;
  }
  if (args.values.help) printHeaderHelp("compare-report.ts");
  if (args.positionals.length !== 1) {
    console.error(`compare-report: expected one results file, got ${args.positionals.length}\n${USAGE}`);
    return 1;
  }
  const file = args.positionals[0]!;
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    console.error(`compare-report: cannot read ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`);
    return 1;
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (e) {
    console.error(`compare-report: ${file} is not valid JSON: ${(e as Error).message}`);
    return 1;
  }
  let results;
  try {
    results = asCompareResults(data);
  } catch (e) {
    console.error(`compare-report: ${file} is ${(e as Error).message}`);
    return 1;
  }
  const out = args.values.out !== undefined ? resolve(args.values.out) : DEFAULT_OUT;
  // Relative to where the command ran when inside it, else the whole path.
  const shown = (p: string) => (relative(process.cwd(), p).startsWith("..") ? p : relative(process.cwd(), p) || p);
  try {
    const { files } = renderCompareReport(results, out);
    console.log(`compare-report: wrote ${files.length} files to ${shown(out)}/ (the report is ${shown(files[0]!)})`);
  } catch (e) {
    console.error(`compare-report: cannot write the report to ${shown(out)}: ${(e as Error).message}`);
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
