/** Method + path routing with `{name}` placeholders, for the API, the pages and the controls. */
import type { Context } from "./context.ts";
import type { ParamReader, ParamSpec } from "./params.ts";

export type PathParams = Record<string, string>;

/** An API handler returns the JSON body of a 200 response or throws a `StripeError`. */
export type Handler = (ctx: Context, params: ParamReader, path: PathParams) => unknown;

export interface Route<H = Handler> {
  method: string;
  segments: string[];
  handler: H;
}

export function route<H = Handler>(method: string, pattern: string, handler: H): Route<H> {
  return { method, segments: pattern.split("/").filter(Boolean), handler };
}

/** A `/v1` endpoint: its handler and the parameters it accepts. */
export interface Endpoint extends Route<Handler> {
  params: ParamSpec;
}

export function endpoint(
  method: string,
  pattern: string,
  params: ParamSpec,
  handler: Handler,
): Endpoint {
  return { ...route(method, pattern, handler), params };
}

export function matchRoute<R extends Route<unknown>>(
  routes: R[],
  method: string,
  pathname: string,
): { route: R; path: PathParams } | undefined {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  for (const candidate of routes) {
    if (candidate.method !== method || candidate.segments.length !== parts.length) continue;
    const path: PathParams = {};
    const matches = candidate.segments.every((segment, index) => {
      if (segment.startsWith("{")) {
        path[segment.slice(1, -1)] = parts[index];
        return true;
      }
      return segment === parts[index];
    });
    if (matches) return { route: candidate, path };
  }
  return undefined;
}
