import { errors } from '../domain/errors.js';

const MAX_PAIRS = 2000;
const MAX_DEPTH = 16;

export type FormValue = string | FormValue[] | { [key: string]: FormValue };

/**
 * Parses `application/x-www-form-urlencoded` with Stripe's bracket notation, as stripe-node sends
 * it (`a[0]=x&a[1]=y`, `metadata[k]=v`, `data[object][id]=…`) and as curl users write it
 * (`a[]=x`, percent-encoded brackets, `+` for space). Objects whose keys are all indexes become
 * arrays, in index order. Values stay strings; an empty value means "unset".
 */
export function parseForm(text: string): Record<string, FormValue> {
  const root: Record<string, FormValue> = {};
  if (text === '') return root;
  const pairs = text.split('&');
  if (pairs.length > MAX_PAIRS) throw errors.malformedBody(`more than ${MAX_PAIRS} parameters`);
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const key = decode(rawKey);
    const value = decode(rawValue);
    assign(root, parseKey(key), value);
  }
  return arraysFromIndexes(root) as Record<string, FormValue>;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    throw errors.malformedBody(`'${text.slice(0, 60)}' is not valid percent-encoding`);
  }
}

/** `a[b][0][]` → `['a', 'b', '0', '']`. */
function parseKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open === 0 || (open === -1 && key.includes(']'))) throw errors.malformedBody(`'${key.slice(0, 80)}' is not a valid parameter name (unbalanced brackets)`);
  if (open === -1) return [key];
  const segments = [key.slice(0, open)];
  const rest = key.slice(open);
  const re = /\[([^\[\]]*)\]/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = re.exec(rest)) !== null) {
    segments.push(match[1]!);
    consumed = re.lastIndex;
  }
  if (consumed !== rest.length) throw errors.malformedBody(`'${key.slice(0, 80)}' is not a valid parameter name (unbalanced brackets)`);
  if (segments.length > MAX_DEPTH) throw errors.malformedBody(`'${key.slice(0, 80)}' is nested more than ${MAX_DEPTH} levels deep`);
  return segments;
}

function assign(root: Record<string, FormValue>, path: string[], value: string): void {
  let node: Record<string, FormValue> | FormValue[] = root;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    if (segment === '__proto__' || segment === 'constructor' || segment === 'prototype') {
      throw errors.malformedBody(`'${segment}' is not allowed in a parameter name`);
    }
    const last = i === path.length - 1;
    const nextIsAppend = !last && path[i + 1] === '';
    if (Array.isArray(node)) {
      // Only reached through `[]`: each `a[][k]` starts a new element unless the last lacks k.
      if (last) {
        node.push(value);
        return;
      }
      throw errors.malformedBody(`'${path.join('][')}' mixes [] with further brackets, which is not supported`);
    }
    if (segment === '') throw errors.malformedBody('empty parameter name');
    if (last) {
      node[segment] = value;
      return;
    }
    let child: FormValue | undefined = node[segment];
    if (nextIsAppend) {
      if (!Array.isArray(child)) {
        child = [];
        node[segment] = child;
      }
      if (i + 1 === path.length - 1) {
        child.push(value);
        return;
      }
      throw errors.malformedBody(`'${path[0]}[${path.slice(1).join('][')}]' mixes [] with further brackets, which is not supported`);
    }
    if (typeof child !== 'object' || child === null || Array.isArray(child)) {
      child = {};
      node[segment] = child;
    }
    node = child as Record<string, FormValue>;
  }
}

function arraysFromIndexes(value: FormValue): FormValue {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(arraysFromIndexes);
  const keys = Object.keys(value);
  const converted: Record<string, FormValue> = {};
  for (const key of keys) converted[key] = arraysFromIndexes(value[key]!);
  if (keys.length > 0 && keys.every((k) => /^(0|[1-9]\d{0,3})$/.test(k))) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((k) => converted[String(k)]!);
  }
  return converted;
}
