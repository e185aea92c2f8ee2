/**
 * Stripe's routes for a collection of objects at one base path (`/v1/products`): create, list,
 * retrieve, update, delete and actions, with the list and retrieve plumbing every collection shares.
 */
import type { Context } from "../context.ts";
import { expand } from "../expand.ts";
import { newestFirst, paginate } from "../pagination.ts";
import type { ParamReader, ParamSpec } from "../params.ts";
import { type Endpoint, endpoint, type Handler } from "../router.ts";

export type Verb = [ParamSpec, Handler];

export interface Collection<T extends { id: string }> {
  create?: Verb;
  /** The objects `GET {base}` returns for these filters; paginated newest first and expanded. */
  list?: [ParamSpec, (ctx: Context, params: ParamReader) => Iterable<T>];
  /** The object `GET {base}/{id}` returns (it takes only `expand`), or throws the 404. */
  find?: (ctx: Context, id: string) => T;
  /** For a retrieve that is more than `find` plus `expand`. */
  retrieve?: Verb;
  update?: Verb;
  delete?: Verb;
  /** `POST {base}/{id}/{action}`. */
  actions?: Record<string, Verb>;
}

/** `GET {base}/{id}` and `GET {base}` take only `expand` beyond what the collection names. */
const RETRIEVE_PARAMS: ParamSpec = {};

export function collection<T extends { id: string }>(
  base: string,
  verbs: Collection<T>,
): Endpoint[] {
  const routes: Endpoint[] = [];
  const add = (method: string, pattern: string, verb: Verb | undefined) => {
    if (verb) routes.push(endpoint(method, pattern, verb[0], verb[1]));
  };
  const { find, list } = verbs;
  add("POST", base, verbs.create);
  if (list) {
    add("GET", base, [list[0], (ctx, params) => listPage(ctx, params, list[1](ctx, params), base)]);
  }
  if (find) {
    add("GET", `${base}/{id}`, [
      RETRIEVE_PARAMS,
      (ctx, params, path) => expand(ctx.partition, find(ctx, path.id), params.expand()),
    ]);
  }
  add("GET", `${base}/{id}`, verbs.retrieve);
  add("POST", `${base}/{id}`, verbs.update);
  add("DELETE", `${base}/{id}`, verbs.delete);
  for (const [action, verb] of Object.entries(verbs.actions ?? {})) {
    add("POST", `${base}/{id}/${action}`, verb);
  }
  return routes;
}

/** One page of a top-level list at `url`, newest first, with `expand` applied. */
export function listPage<T extends { id: string }>(
  ctx: Context,
  params: ParamReader,
  items: Iterable<T>,
  url: string,
) {
  return expand(
    ctx.partition,
    paginate(items, params, url, newestFirst(ctx.partition)),
    params.expand(),
  );
}

/** The items whose `fields` equal the string filters of the same names the request gave. */
export function whereEqual<T>(
  items: Iterable<T>,
  params: ParamReader,
  fields: (keyof T & string)[],
): T[] {
  const wanted = fields.map((field) => [field, params.string(field)] as const)
    .filter(([, value]) => value !== undefined);
  return [...items].filter((item) => wanted.every(([field, value]) => item[field] === value));
}
