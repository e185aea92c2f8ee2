/** `expand[]`: replaces ids in a response with the objects they name (`customer`, `data.price`). */
import { invalidRequest } from "./errors.ts";
import type { Partition } from "./store.ts";

type Json = Record<string, unknown>;

export function expand<T>(partition: Partition, value: T, paths: string[]): T {
  if (paths.length === 0) return value;
  const copy = structuredClone(value);
  for (const path of paths) {
    expandPath(partition, copy as Json, path.split("."), path);
  }
  return copy;
}

function expandPath(partition: Partition, target: Json, segments: string[], path: string): void {
  const [head, ...rest] = segments;
  if (head === "data" && target.object === "list" && Array.isArray(target.data)) {
    for (const item of target.data) expandPath(partition, item as Json, rest, path);
    return;
  }
  if (!(head in target)) {
    throw invalidRequest(`This property cannot be expanded (${path}).`, "expand");
  }
  let field = target[head];
  if (typeof field === "string") {
    const resolved = partition.lookup(field);
    if (!resolved) {
      throw invalidRequest(`This property cannot be expanded (${path}).`, "expand");
    }
    field = structuredClone(resolved);
    target[head] = field;
  }
  if (rest.length > 0 && field !== null && typeof field === "object") {
    expandPath(partition, field as Json, rest, path);
  }
}
