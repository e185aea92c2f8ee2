// Routing: one handler for the whole `payments` function, built from injected dependencies.
import { getStatus } from "./admin.ts";
import { authenticate } from "./auth.ts";
import { createCheckoutSession } from "./checkout.ts";
import { mapDatabaseErrors } from "./db.ts";
import type { Deps } from "./deps.ts";
import { errorResponse, json, PaymentsError } from "./errors.ts";
import { OPERATOR_ROUTES } from "./operator_routes.ts";
import { createCustomerPortalSession } from "./portal.ts";
import type { Environment } from "./stripe.ts";
import { receiveWebhook } from "./webhook.ts";
import type { HealthResponse } from "./wire.ts";

export type { Deps } from "./deps.ts";

type Route = (deps: Deps, request: Request, params: string[]) => Promise<Response>;

const ENV = "([^/]+)";
const ROUTES: [RegExp, Partial<Record<string, Route>>][] = [
  [/^\/health$/, { GET: (deps) => health(deps) }],
  [/^\/stripe\/status$/, { GET: (deps, request) => getStatus(deps, request) }],
  [new RegExp(`^/stripe/${ENV}/checkout-sessions$`), {
    POST: (deps, request, [env]) => createCheckoutSession(deps, request, environment(env)),
  }],
  [new RegExp(`^/stripe/${ENV}/customer-portal-sessions$`), {
    POST: (deps, request, [env]) => createCustomerPortalSession(deps, request, environment(env)),
  }],
  [new RegExp(`^/webhooks/stripe/${ENV}$`), {
    POST: (deps, request, [env]) => receiveWebhook(deps, request, environment(env)),
  }],
  ...OPERATOR_ROUTES.map(([path, methods]): [RegExp, Partial<Record<string, Route>>] => [
    new RegExp(`^/stripe/${ENV}/${path}$`),
    Object.fromEntries(
      Object.entries(methods).map(([method, handler]) => [
        method,
        async (deps: Deps, request: Request, [env, id]: string[]) => {
          const checked = environment(env);
          const decoded = id === undefined ? "" : segment(id);
          await authenticate(request, deps.auth, "service_role");
          return await handler!(deps, request, checked, decoded);
        },
      ]),
    ),
  ]),
];

// supabase-js calls from browsers; the JWT, not the origin, decides what a caller may do.
const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers":
    "authorization, x-client-info, apikey, content-type, stripe-signature, idempotency-key",
  "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
  // A browser app reads it from a 429 to know when to try again.
  "access-control-expose-headers": "retry-after",
};

export function createHandler(deps: Deps): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    let response: Response;
    try {
      response = await route(deps, request);
    } catch (error) {
      response = errorResponse(error, deps.log);
    }
    for (const [name, value] of Object.entries(CORS)) response.headers.set(name, value);
    return response;
  };
}

async function route(deps: Deps, request: Request): Promise<Response> {
  const path = functionPath(new URL(request.url).pathname);
  for (const [pattern, methods] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    const handler = methods[request.method];
    if (!handler) {
      throw new PaymentsError(
        405,
        "method_not_allowed",
        `${request.method} is not allowed on ${path}.`,
        {
          details: { allowed: Object.keys(methods) },
        },
      );
    }
    return await handler(deps, request, match.slice(1));
  }
  throw new PaymentsError(404, "not_found", `No route for ${request.method} ${path}.`);
}

/** The path inside the function: Supabase passes `/payments/...`, the local server `/functions/v1/payments/...`. */
export function functionPath(pathname: string): string {
  const match = /^(?:\/functions\/v1)?\/payments(\/.*)?$/.exec(pathname);
  const path = match ? match[1] ?? "/" : pathname;
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

/** A path segment, decoded; a malformed `%` escape is the caller's mistake, not a crash. */
function segment(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new PaymentsError(
      400,
      "invalid_request",
      `The path segment '${value}' has a malformed % escape.`,
    );
  }
}

function environment(value: string): Environment {
  if (value === "test" || value === "live") return value;
  throw new PaymentsError(
    404,
    "not_found",
    `Unknown environment '${value}': use 'test' or 'live'.`,
  );
}

/** Within the 2 s a load balancer gives a health check, even when the database hangs. */
const HEALTH_TIMEOUT_MS = 1_500;

async function health(deps: Deps): Promise<Response> {
  try {
    await mapDatabaseErrors(deps.sql`select 1`, { timeoutMs: HEALTH_TIMEOUT_MS });
    return json(200, { status: "ok", database: "ok" } satisfies HealthResponse);
  } catch {
    return json(503, { status: "degraded", database: "unavailable" } satisfies HealthResponse);
  }
}
