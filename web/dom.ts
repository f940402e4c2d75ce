/**
 * A few DOM helpers. Everything that carries text goes in through text nodes or
 * textContent, never innerHTML: VM names, API messages and guest output are data, and a
 * guest (or whoever named a VM) must not be able to put markup into the page.
 */
export type Child = Node | string | number | null | undefined | false;

export interface Attrs {
  class?: string;
  id?: string;
  title?: string;
  /** Only constants of ours (colors), never data. */
  style?: string;
  for?: string;
  role?: string;
  [attr: `data-${string}`]: string;
  [attr: `aria-${string}`]: string;
}

/** Create an element with attributes and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined) el.setAttribute(k, v);
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Replace every child of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** Set text only when it changed (the fleet table is rewritten every second; this keeps selections and repaints small). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function button(label: string, onClick: () => void, cls = ""): HTMLButtonElement {
  const b = h("button", { class: cls }, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

/** A labelled form field: <label>text <input></label>. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLLabelElement {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), input, hint ? h("small", { class: "hint" }, hint) : null);
}

export function input(name: string, value = "", type = "text", placeholder = ""): HTMLInputElement {
  const el = h("input", { id: `f-${name}` });
  el.name = name;
  el.type = type;
  el.value = value;
  el.placeholder = placeholder;
  return el;
}

export function select(name: string, options: readonly string[], value: string): HTMLSelectElement {
  const el = h("select", { id: `f-${name}` }, ...options.map((o) => h("option", {}, o)));
  el.name = name;
  el.value = value;
  return el;
}

/**
 * Keep a table body's rows in step with a list keyed by name: rows for names gone are
 * removed, new names get `make(name)`, every row is passed to `paint` and re-appended in
 * the list's order (appending an attached row moves it, so the order follows the list).
 */
export function syncKeyedRows<V extends { name: string }, R extends { tr: HTMLTableRowElement }>(
  tbody: HTMLElement,
  rows: Map<string, R>,
  views: readonly V[],
  make: (name: string) => R,
  paint?: (row: R, view: V) => void,
): void {
  const names = new Set(views.map((v) => v.name));
  for (const [name, row] of rows) {
    if (!names.has(name)) {
      row.tr.remove();
      rows.delete(name);
    }
  }
  for (const v of views) {
    let row = rows.get(v.name);
    if (row === undefined) rows.set(v.name, (row = make(v.name)));
    paint?.(row, v);
    tbody.append(row.tr);
  }
}
