/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) and sums self time per
 * function and per source line. Locations in dist/*.js are mapped back to the .ts
 * sources through the `.js.map` files tsc writes next to them.
 *
 * Format: nodes[] (id, callFrame{functionName,url,lineNumber,columnNumber} 0-based,
 * hitCount, positionTicks[{line 1-based, ticks}]), samples[] (node id per sample),
 * timeDeltas[] (µs before each sample), startTime/endTime (µs).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  positionTicks?: { line: number; ticks: number }[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  /** Function name (or "(program)", "(garbage collector)", …). */
  name: string;
  /** "path:line" of the function (or of the line, for line entries); mapped to .ts when possible. */
  location: string;
  selfMs: number;
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  samples: number;
  functions: HotSpot[];
  lines: HotSpot[];
}

// ---- source maps (just enough: generated line/column -> source file/line) ----

interface Segment {
  genCol: number;
  src: number;
  srcLine: number;
}
interface SourceMap {
  sources: string[];
  lines: Segment[][];
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function decodeVlq(s: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of s) {
    const digit = B64.indexOf(ch);
    if (digit < 0) break;
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

function parseSourceMap(file: string): SourceMap | null {
  try {
    const raw = JSON.parse(readFileSync(file, "utf8")) as { sources: string[]; sourceRoot?: string; mappings: string };
    const base = resolve(dirname(file), raw.sourceRoot ?? "");
    const sources = raw.sources.map((s) => resolve(base, s));
    const lines: Segment[][] = [];
    let src = 0;
    let srcLine = 0;
    for (const lineText of raw.mappings.split(";")) {
      const segs: Segment[] = [];
      let genCol = 0;
      for (const segText of lineText.split(",")) {
        if (segText === "") continue;
        const f = decodeVlq(segText);
        genCol += f[0] ?? 0;
        if (f.length >= 4) {
          src += f[1] ?? 0;
          srcLine += f[2] ?? 0;
          segs.push({ genCol, src, srcLine });
        }
      }
      lines.push(segs);
    }
    return { sources, lines };
  } catch {
    return null;
  }
}

/** Maps generated positions in dist/*.js back to sources; caches one map per file. */
class SourceMapper {
  private readonly maps = new Map<string, SourceMap | null>();
  constructor(private readonly root: string) {}

  /** line0/col0 are 0-based; returns "path:line" (1-based), relative to the repo root. */
  locate(url: string, line0: number, col0: number): string {
    const path = this.pathOf(url);
    if (path === null) return url === "" ? "(native)" : `${url}:${line0 + 1}`;
    let map = this.maps.get(path);
    if (map === undefined) {
      map = existsSync(path + ".map") ? parseSourceMap(path + ".map") : null;
      this.maps.set(path, map);
    }
    const segs = map?.lines[line0];
    if (map && segs && segs.length > 0) {
      let best = segs[0] as Segment;
      for (const s of segs) if (s.genCol <= col0) best = s;
      const src = map.sources[best.src];
      if (src !== undefined) return `${relative(this.root, src)}:${best.srcLine + 1}`;
    }
    return `${relative(this.root, path)}:${line0 + 1}`;
  }

  private pathOf(url: string): string | null {
    if (url.startsWith("file://")) return fileURLToPath(url);
    if (url.startsWith("/")) return url;
    return null;
  }
}

// ---- the profile ----

/** Self time per node id, in microseconds: each sample lasts until the next one. */
function selfTimes(p: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  let t = p.startTime;
  const stamps: number[] = [];
  for (const d of p.timeDeltas) {
    t += d;
    stamps.push(t);
  }
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    const start = stamps[i] ?? p.endTime;
    const end = i + 1 < stamps.length ? (stamps[i + 1] as number) : p.endTime;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, end - start));
  }
  return self;
}

export function summarizeProfile(file: string, root: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const mapper = new SourceMapper(root);
  const self = selfTimes(p);
  let totalUs = 0;
  for (const v of self.values()) totalUs += v;

  const byFunction = new Map<string, { name: string; location: string; us: number }>();
  const byLine = new Map<string, { name: string; location: string; us: number }>();
  for (const node of p.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0) continue;
    const cf = node.callFrame;
    // A function with neither a name nor a script is code made at run time (`new Function`,
    // eval): the block compiler's blocks. V8's own root node is named "(root)".
    const name = cf.functionName || (cf.url ? "(anonymous)" : "(generated code)");
    const location = cf.url ? mapper.locate(cf.url, cf.lineNumber, cf.columnNumber) : "";
    const key = `${name}\u0000${cf.url}:${cf.lineNumber}`;
    const f = byFunction.get(key) ?? { name, location, us: 0 };
    f.us += us;
    byFunction.set(key, f);

    // Split the node's self time over its source lines in proportion to their ticks.
    const ticks = node.positionTicks ?? [];
    const totalTicks = ticks.reduce((a, b) => a + b.ticks, 0);
    for (const pt of ticks) {
      if (!cf.url || totalTicks === 0) continue;
      const loc = mapper.locate(cf.url, pt.line - 1, 0);
      const l = byLine.get(loc) ?? { name, location: loc, us: 0 };
      l.us += (us * pt.ticks) / totalTicks;
      byLine.set(loc, l);
    }
  }

  const toHot = (e: { name: string; location: string; us: number }): HotSpot => ({
    name: e.name,
    location: e.location,
    selfMs: e.us / 1000,
    percent: totalUs > 0 ? (100 * e.us) / totalUs : 0,
  });
  const sortTop = (m: Map<string, { name: string; location: string; us: number }>) =>
    [...m.values()].sort((a, b) => b.us - a.us).slice(0, top).map(toHot);

  return {
    totalMs: totalUs / 1000,
    samples: p.samples.length,
    functions: sortTop(byFunction),
    lines: sortTop(byLine),
  };
}
