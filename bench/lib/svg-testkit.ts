/**
 * For the chart tests: a small XML well-formedness check and a reader for the bars that
 * svg-chart.ts draws. Not a full XML parser — enough to catch what a generator gets wrong
 * (an unescaped "&" or "<" in a label, an unclosed element, a duplicated attribute, a
 * missing viewBox), without a parser dependency.
 */

const NAME = "[A-Za-z_][\\w.:-]*";
/** A character or entity reference XML knows without a DTD. */
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
const TAG = new RegExp(`^<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*"[^"]*")*)\\s*(/?)>$`);
const ATTR = new RegExp(`(${NAME})\\s*=\\s*"([^"]*)"`, "g");

/** Text with every entity reference removed must hold no "&" or "<". */
function badText(s: string): boolean {
  return /[&<]/.test(s.replace(ENTITY, ""));
}

export function attributes(attrText: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of attrText.matchAll(ATTR)) out.set(m[1]!, m[2]!);
  return out;
}

/** What makes `xml` not a well-formed SVG document; empty when it is one. */
export function svgProblems(xml: string): string[] {
  const problems: string[] = [];
  const body = xml.replace(/^<\?xml[^?]*\?>/, "");
  const stack: string[] = [];
  let roots = 0;
  for (const m of body.matchAll(/<!--[\s\S]*?-->|<[^>]*>|[^<]+|</g)) {
    const tok = m[0];
    if (tok.startsWith("<!--")) continue;
    if (!tok.startsWith("<")) {
      if (stack.length === 0 && tok.trim() !== "") problems.push(`text outside the root element: ${JSON.stringify(tok.slice(0, 40))}`);
      if (badText(tok)) problems.push(`unescaped & or < in text: ${JSON.stringify(tok.slice(0, 60))}`);
      continue;
    }
    const t = TAG.exec(tok);
    if (!t) {
      problems.push(`malformed tag: ${JSON.stringify(tok.slice(0, 80))}`);
      continue;
    }
    const [, close, name, attrText, selfClose] = t;
    if (close) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open ?? "nothing"}>`);
      continue;
    }
    const names = [...attrText!.matchAll(ATTR)].map((a) => a[1]!);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) problems.push(`<${name}> has attribute ${dup} twice`);
    for (const a of attrText!.matchAll(ATTR)) if (badText(a[2]!)) problems.push(`unescaped & or < in ${name}@${a[1]}`);
    if (stack.length === 0) {
      roots++;
      if (name !== "svg") problems.push(`the root element is <${name}>, not <svg>`);
      const viewBox = attributes(attrText!).get("viewBox") ?? "";
      if (!/^-?[\d.]+ -?[\d.]+ [\d.]+ [\d.]+$/.test(viewBox)) problems.push(`the root has no valid viewBox (${JSON.stringify(viewBox)})`);
    }
    if (!selfClose) stack.push(name!);
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(" > ")}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

export interface DrawnBar {
  readonly x: number;
  readonly width: number;
  readonly y: number;
  readonly fill: string;
  /** The bar's tooltip, entities decoded. */
  readonly title: string;
}

export function decodeXml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The bars (`<rect class="bar">`) in drawing order. */
export function drawnBars(svg: string): DrawnBar[] {
  const out: DrawnBar[] = [];
  for (const m of svg.matchAll(/<rect\b([^>]*)><title>([^<]*)<\/title><\/rect>/g)) {
    const a = attributes(m[1]!);
    if (a.get("class") !== "bar") continue;
    out.push({ x: Number(a.get("x")), width: Number(a.get("width")), y: Number(a.get("y")), fill: a.get("fill") ?? "", title: decodeXml(m[2]!) });
  }
  return out;
}

/** The texts of every <text> element, entities decoded (a nested <title> left out). */
export function drawnTexts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>(?:<title>[^<]*<\/title>)?([^<]*)<\/text>/g)].map((m) => decodeXml(m[1]!));
}
