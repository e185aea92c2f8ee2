/**
 * Decoding of Stripe's form encoding: `a[b][0][c]=v` bracket notation, as sent by the `stripe`
 * SDK (indexed arrays) and by curl users (`a[]=v`).
 *
 * The decoder keeps arrays as objects with numeric keys; `ParamReader.list` turns them into
 * arrays on demand, because a decoder cannot tell `metadata[0]=x` (a map) from `items[0]=x`.
 */

export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

const KEY_PATTERN = /^([^[\]]+)((?:\[[^\]]*\])*)$/;

export function decodeForm(entries: Iterable<[string, string]>): FormObject {
  const root: FormObject = {};
  for (const [key, value] of entries) {
    assign(root, splitKey(key), value);
  }
  return root;
}

function splitKey(key: string): string[] {
  const match = KEY_PATTERN.exec(key);
  if (!match) return [key];
  const [, head, brackets] = match;
  const segments = [head];
  for (const part of brackets.matchAll(/\[([^\]]*)\]/g)) segments.push(part[1]);
  return segments;
}

function assign(root: FormObject, path: string[], value: string): void {
  let container = root;
  for (let i = 0; i < path.length; i++) {
    // An empty segment (`a[]`) appends: it takes the next free index of its container.
    const segment = path[i] === "" ? String(Object.keys(container).length) : path[i];
    if (i === path.length - 1) {
      container[segment] = value;
      return;
    }
    const next = container[segment];
    if (typeof next === "object") {
      container = next;
    } else {
      const created: FormObject = {};
      container[segment] = created;
      container = created;
    }
  }
}

/** A stable text form of decoded parameters, used to compare idempotent requests. */
export function canonicalForm(value: FormValue): string {
  if (typeof value === "string") return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalForm(value[key])}`).join(",")}}`;
}
