/**
 * Object schemas read from the pinned `stripe` SDK's type declarations
 * (node_modules/stripe/cjs/resources/**.d.ts): for every interface, which fields are required
 * and what type each field has. `checkObject` walks a JSON object served by the emulator and
 * reports every required field it lacks, at any depth, following the declared types (nested
 * interfaces, `Array<T>`, `ApiList<T>`, expanded `string | Customer` references).
 *
 * A small reader for the regular layout the SDK generator writes (one field per line,
 * namespaces for nested types), so that no list of fields is written by hand.
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const SDK_DIR = fileURLToPath(new URL("../../node_modules/stripe/cjs/", import.meta.url));

interface Field {
  optional: boolean;
  /** The declared type, or `null` for an inline `{ ... }` type (not followed). */
  type: string | null;
}

interface Interface {
  file: string;
  /** Dotted namespace path the interface is declared in (`Charge.PaymentMethodDetails`). */
  scope: string[];
  name: string;
  fields: Map<string, Field>;
}

interface SdkFile {
  interfaces: Map<string, Interface>;
  /** Local name → [file, exported name] for `import { A as B } from './x.js'`. */
  imports: Map<string, [string, string]>;
  /** `import * as NS from './ns/index.js'`. */
  namespaceImports: Map<string, string>;
  reexports: Map<string, [string, string]>;
}

const files = new Map<string, SdkFile>();

function load(path: string): SdkFile {
  const cached = files.get(path);
  if (cached) return cached;
  const file: SdkFile = {
    interfaces: new Map(),
    imports: new Map(),
    namespaceImports: new Map(),
    reexports: new Map(),
  };
  files.set(path, file);
  const lines = Deno.readTextFileSync(path).split("\n");
  const here = dirname(path);
  const target = (spec: string) => join(here, spec.replace(/\.js$/, ".d.ts"));
  // Each open brace is a namespace, an interface or something skipped (inline types, classes).
  const stack: { kind: "namespace" | "interface" | "other"; name: string }[] = [];
  let current: Interface | undefined;
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith("/**") || line.startsWith("*") || line === "") continue;
    let match;
    if (stack.length === 0 && (match = /^import \{(.*)\} from '(.*)';$/.exec(line))) {
      for (const part of match[1].split(",")) {
        const [name, alias] = part.trim().split(/\s+as\s+/);
        file.imports.set(alias ?? name, [target(match[2]), name]);
      }
      continue;
    }
    if (stack.length === 0 && (match = /^import \* as (\w+) from '(.*)';$/.exec(line))) {
      file.namespaceImports.set(match[1], target(match[2]));
      continue;
    }
    if (stack.length === 0 && (match = /^export \{(.*)\} from '(.*)';$/.exec(line))) {
      for (const part of match[1].split(",")) {
        const [name, alias] = part.trim().split(/\s+as\s+/);
        file.reexports.set(alias ?? name, [target(match[2]), name]);
      }
      continue;
    }
    if ((match = /^(?:export )?(?:declare )?namespace (\w+) \{$/.exec(line))) {
      stack.push({ kind: "namespace", name: match[1] });
      continue;
    }
    if (
      (match = /^(?:export )?(?:declare )?interface (\w+)(?:<[^>]*>)?(?: extends [^{]*)? \{$/.exec(
        line,
      ))
    ) {
      const scope = stack.filter((entry) => entry.kind === "namespace").map((entry) => entry.name);
      current = { file: path, scope, name: match[1], fields: new Map() };
      file.interfaces.set([...scope, match[1]].join("."), current);
      stack.push({ kind: "interface", name: match[1] });
      continue;
    }
    if (line.startsWith("}")) {
      const closed = stack.pop();
      if (closed?.kind === "interface") current = undefined;
      continue;
    }
    const top = stack.at(-1);
    if (top?.kind === "interface" && current) {
      if ((match = /^(\w+)(\?)?: (.*)$/.exec(line))) {
        const inline = match[3].endsWith("{");
        current.fields.set(match[1], {
          optional: match[2] === "?",
          type: inline ? null : match[3].replace(/;$/, ""),
        });
        if (inline) stack.push({ kind: "other", name: match[1] });
        continue;
      }
    }
    if (line.endsWith("{")) stack.push({ kind: "other", name: line });
  }
  return file;
}

function resolveExported(path: string, name: string[]): Interface | undefined {
  const file = load(path);
  const local = file.interfaces.get(name.join("."));
  if (local) return local;
  const reexport = file.reexports.get(name[0]);
  if (reexport) return resolveExported(reexport[0], [reexport[1], ...name.slice(1)]);
  return undefined;
}

/** Resolves a type name the way TypeScript does: enclosing namespaces outwards, then imports. */
function resolve(from: Interface, reference: string): Interface | undefined {
  const parts = reference.split(".");
  const file = load(from.file);
  const scopes = [...from.scope, from.name];
  for (let depth = scopes.length; depth >= 0; depth--) {
    const found = file.interfaces.get([...scopes.slice(0, depth), ...parts].join("."));
    if (found) return found;
  }
  const imported = file.imports.get(parts[0]);
  if (imported) return resolveExported(imported[0], [imported[1], ...parts.slice(1)]);
  const namespace = file.namespaceImports.get(parts[0]);
  if (namespace) return resolveExported(namespace, parts.slice(1));
  return undefined;
}

/** Splits `A | Array<B | C> | null` at its top-level `|`. */
function alternatives(type: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < type.length; index++) {
    const char = type[index];
    if (char === "<" || char === "(" || char === "{") depth++;
    else if (char === ">" || char === ")" || char === "}") depth--;
    else if (char === "|" && depth === 0) {
      parts.push(type.slice(start, index).trim());
      start = index + 1;
    }
  }
  parts.push(type.slice(start).trim());
  return parts;
}

function literalObject(candidate: Interface): string | undefined {
  const type = candidate.fields.get("object")?.type;
  return type && /^'[^']*'$/.test(type) ? type.slice(1, -1) : undefined;
}

type Json = Record<string, unknown>;

/** Every interface in the SDK's resources whose `object` field is one string literal. */
function objectTypes(): Map<string, Interface[]> {
  const byObject = new Map<string, Interface[]>();
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".d.ts")) {
        for (const candidate of load(path).interfaces.values()) {
          const object = literalObject(candidate);
          if (object && candidate.scope.length === 0) {
            byObject.set(object, [...(byObject.get(object) ?? []), candidate]);
          }
        }
      }
    }
  };
  walk(join(SDK_DIR, "resources"));
  return byObject;
}

let byObject: Map<string, Interface[]> | undefined;

/** The SDK interfaces declaring `object: '<type>'` (`customer` → Customer, DeletedCustomer). */
export function interfacesFor(object: string): string[] {
  byObject ??= objectTypes();
  return (byObject.get(object) ?? []).map((candidate) =>
    `${relative(SDK_DIR, candidate.file)}#${candidate.name}`
  );
}

/** Fields an SDK interface declares optional whose type is a list (`ApiList<T>`). */
export function optionalListFields(object: string): string[] {
  byObject ??= objectTypes();
  const candidate = (byObject.get(object) ?? []).find((found) =>
    found.fields.get("deleted")?.type !== "true"
  );
  if (!candidate) return [];
  return [...candidate.fields].filter(([, field]) =>
    field.optional && field.type !== null && /(^|\| )ApiList</.test(field.type)
  ).map(([name]) => name);
}

export interface Problem {
  path: string;
  message: string;
}

/**
 * Checks a served object (anything with an `object` field) against the SDK's declaration of
 * its type, and every nested value against its field's declared type.
 */
export function checkObject(value: Json, path = String(value.object)): Problem[] {
  byObject ??= objectTypes();
  const candidates = byObject.get(String(value.object)) ?? [];
  if (candidates.length === 0) {
    return [{ path, message: `no SDK type declares object '${String(value.object)}'` }];
  }
  return best(
    candidates.filter((candidate) => matchesDeletion(candidate, value))
      .map((candidate) => checkInterface(candidate, value, path)),
  );
}

/** `Deleted*` interfaces declare `deleted: true`; the live ones `deleted?: void` or nothing. */
function matchesDeletion(candidate: Interface, value: Json): boolean {
  return (candidate.fields.get("deleted")?.type === "true") === (value.deleted === true);
}

/** Of several possible declarations, the one the value fits best. */
function best(results: Problem[][]): Problem[] {
  if (results.length === 0) return [{ path: "", message: "no declaration fits" }];
  return results.reduce((a, b) => (b.length < a.length ? b : a));
}

function checkInterface(declared: Interface, value: Json, path: string): Problem[] {
  const problems: Problem[] = [];
  const object = literalObject(declared);
  if (object && value.object !== object) {
    return [{ path, message: `object is '${String(value.object)}', expected '${object}'` }];
  }
  for (const [name, field] of declared.fields) {
    if (!(name in value)) {
      if (!field.optional) problems.push({ path: `${path}.${name}`, message: "missing" });
      continue;
    }
    if (field.type !== null) {
      problems.push(...checkValue(declared, field.type, value[name], `${path}.${name}`));
    }
  }
  return problems;
}

function checkValue(scope: Interface, type: string, value: unknown, path: string): Problem[] {
  if (value === null || typeof value !== "object") return [];
  const options = alternatives(type);
  if (Array.isArray(value)) {
    const element = options.map((option) => /^Array<(.*)>$/.exec(option)?.[1]).find(Boolean);
    if (!element) return [];
    return value.flatMap((item, index) => checkValue(scope, element, item, `${path}[${index}]`));
  }
  const results: Problem[][] = [];
  for (const option of options) {
    const list = /^ApiList<(.*)>$/.exec(option);
    if (list) {
      const data = (value as Json).data;
      results.push(
        Array.isArray(data)
          ? data.flatMap((item, index) =>
            checkValue(scope, list[1], item, `${path}.data[${index}]`)
          )
          : [{ path: `${path}.data`, message: "missing" }],
      );
      continue;
    }
    if (!/^[A-Z][\w.]*$/.test(option)) continue;
    const declared = resolve(scope, option);
    if (declared && matchesDeletion(declared, value as Json)) {
      results.push(checkInterface(declared, value as Json, path));
    }
  }
  return results.length > 0 ? best(results) : [];
}
