/**
 * How objects leave the emulator: `expand[]` replaces ids with the objects they name
 * (`customer`, `data.price`), and includable fields (`invoice.payments`, `charge.refunds`) are
 * shown only when a request names them in `expand[]`, as the pinned API version does.
 */
import { invalidRequest } from "./errors.ts";
import type { Partition } from "./store.ts";

type Json = Record<string, unknown>;

/**
 * Fields the emulator keeps on its objects but Stripe returns only when expanded. The SDK's
 * types mark them optional (`payments?: ApiList<InvoicePayment>`); the schema test checks
 * that no optional list field of a served object shows unless expanded.
 */
export const INCLUDABLE: Readonly<Record<string, readonly string[]>> = {
  charge: ["refunds"],
  invoice: ["confirmation_secret", "payments"],
};

export function expand<T>(partition: Partition, value: T, paths: string[]): T {
  if (paths.length === 0) return value;
  const copy = structuredClone(value);
  for (const path of paths) {
    expandPath(partition, copy as Json, path.split("."), path);
  }
  return copy;
}

/** A copy of `value` as the API shows it: includable fields only where `paths` name them. */
export function render<T>(value: T, paths: string[] = []): T {
  const copy = structuredClone(value);
  // Expanding `payments.data.payment.payment_intent` includes `payments` on the way.
  const named = new Set(paths.flatMap((path) => {
    const segments = path.split(".");
    return segments.map((_, index) => segments.slice(0, index + 1).join("."));
  }));
  hideIncludable(copy, "", named);
  return copy;
}

function hideIncludable(value: unknown, prefix: string, paths: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) hideIncludable(item, prefix, paths);
    return;
  }
  if (value === null || typeof value !== "object") return;
  const target = value as Json;
  const includable = typeof target.object === "string" ? INCLUDABLE[target.object] : undefined;
  for (const field of includable ?? []) {
    if (!paths.has(`${prefix}${field}`)) delete target[field];
  }
  for (const [key, field] of Object.entries(target)) {
    hideIncludable(field, `${prefix}${key}.`, paths);
  }
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
