/** Small DOM helpers: the dashboard is plain TypeScript, no framework. */

export type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, unknown>;

/** `h('a', { href: '/x', class: 'link', onclick: fn }, 'text')`: an element with attributes, listeners and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value as EventListener);
    else if (name === 'value' && 'value' in el) (el as HTMLInputElement).value = String(value);
    else if (name === 'checked' && 'checked' in el) (el as HTMLInputElement).checked = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces all children of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: (SVGElement | string)[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child);
  return el as SVGElement;
}

export function formatTime(unixSeconds: number | null | undefined): string {
  if (unixSeconds === null || unixSeconds === undefined) return '—';
  return new Date(unixSeconds * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** "3 min ago", "in 2 h". */
export function relativeTime(unixSeconds: number | null | undefined): string {
  if (unixSeconds === null || unixSeconds === undefined) return '—';
  const diff = unixSeconds - Date.now() / 1000;
  const abs = Math.abs(diff);
  const [value, unit] = abs < 45 ? [Math.round(abs), 's'] : abs < 2700 ? [Math.round(abs / 60), 'min'] : abs < 86_400 * 1.5 ? [Math.round(abs / 3600), 'h'] : [Math.round(abs / 86_400), 'd'];
  if (abs < 5) return 'just now';
  return diff < 0 ? `${value} ${unit} ago` : `in ${value} ${unit}`;
}

/** A `<time>` showing relative time, with the full date as its tooltip. */
export function timeEl(unixSeconds: number | null | undefined): HTMLElement {
  if (unixSeconds === null || unixSeconds === undefined) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: new Date(unixSeconds * 1000).toISOString(), title: formatTime(unixSeconds) }, relativeTime(unixSeconds));
}

/** Unix seconds from a `datetime-local` input's value (local time), or undefined when empty. */
export function fromLocalInput(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** A `datetime-local` value (local time, minutes) for a moment. */
export function toLocalInput(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function shortId(id: string): string {
  const [prefix, rest = ''] = id.split(/_(?=[^_]*$)/);
  return rest.length > 10 ? `${prefix}_…${rest.slice(-6)}` : id;
}

let idCounter = 0;
/** A unique id for label/control pairs. */
export function uid(prefix = 'f'): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
