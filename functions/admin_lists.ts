// Service-role reads for operators: the admin lists, one stored event, and the overview figures.
// Pagination, filters and the row shapes are the SQL functions' (20261130000100_admin_lists.sql);
// here the query string becomes their arguments.
import { authenticate } from "./auth.ts";
import { mapDatabaseErrors } from "./db.ts";
import type { Deps } from "./deps.ts";
import { json, validationError } from "./errors.ts";
import type { Environment } from "./stripe.ts";

type Query = URLSearchParams;

/** The query parameters each list accepts; anything else is a 400, not silently ignored. */
const ACCEPTED: Record<string, string[]> = {
  "webhook-events": ["limit", "cursor", "status", "type", "objectId", "since"],
  transactions: [
    "limit",
    "cursor",
    "type",
    "status",
    "subjectType",
    "subjectId",
    "customerId",
    "since",
  ],
  subscriptions: ["limit", "cursor", "status"],
  customers: ["limit", "cursor"],
  products: ["limit", "cursor", "active"],
  overview: ["since"],
};

function query(request: Request, list: string): Query {
  const params = new URL(request.url).searchParams;
  const unknown = [...params.keys()].filter((name) => !ACCEPTED[list].includes(name));
  if (unknown.length > 0) {
    throw validationError(unknown.map((field) => ({
      field,
      message: `is not a filter of ${list}; use ${ACCEPTED[list].join(", ")}`,
    })));
  }
  return params;
}

function text(params: Query, name: string): string | null {
  const value = params.get(name);
  return value === null || value === "" ? null : value;
}

function limit(params: Query): number | null {
  const value = text(params, "limit");
  if (value === null) return null;
  if (!/^\d{1,4}$/.test(value)) {
    throw validationError([{ field: "limit", message: "must be a whole number from 1 to 100" }]);
  }
  return Number(value);
}

function since(params: Query): string | null {
  const value = text(params, "since");
  if (value === null) return null;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw validationError([{
      field: "since",
      message: `'${value}' is not an ISO 8601 time such as 2026-11-30T12:00:00Z`,
    }]);
  }
  return value;
}

function flag(params: Query, name: string): boolean | null {
  const value = text(params, name);
  if (value === null) return null;
  if (value !== "true" && value !== "false") {
    throw validationError([{ field: name, message: "must be true or false" }]);
  }
  return value === "true";
}

async function page(run: Promise<{ page: unknown }[]>): Promise<Response> {
  const [{ page }] = await mapDatabaseErrors(run);
  return json(200, page);
}

export async function listWebhookEvents(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const q = query(request, "webhook-events");
  return await page(
    deps.sql`select payments.list_webhook_events(${environment}, ${limit(q)}, ${
      text(q, "cursor")
    }, ${text(q, "status")}, ${text(q, "type")}, ${text(q, "objectId")}, ${since(q)}) as page`,
  );
}

export async function getWebhookEvent(
  deps: Deps,
  request: Request,
  environment: Environment,
  eventId: string,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const [{ event }] = await mapDatabaseErrors(deps.sql`
    select payments.get_webhook_event(${environment}, ${eventId}) as event`);
  return json(200, { event });
}

export async function listTransactions(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const q = query(request, "transactions");
  return await page(
    deps.sql`select payments.list_transactions(${environment}, ${limit(q)}, ${text(q, "cursor")}, ${
      text(q, "type")
    }, ${text(q, "status")}, ${text(q, "subjectType")}, ${text(q, "subjectId")}, ${
      text(q, "customerId")
    }, ${since(q)}) as page`,
  );
}

export async function listSubscriptions(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const q = query(request, "subscriptions");
  return await page(
    deps.sql`select payments.list_subscriptions(${environment}, ${limit(q)}, ${
      text(q, "cursor")
    }, ${text(q, "status")}) as page`,
  );
}

export async function listCustomers(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const q = query(request, "customers");
  return await page(
    deps.sql`select payments.list_customers(${environment}, ${limit(q)}, ${
      text(q, "cursor")
    }) as page`,
  );
}

export async function listProducts(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const q = query(request, "products");
  return await page(
    deps.sql`select payments.list_products(${environment}, ${limit(q)}, ${text(q, "cursor")}, ${
      flag(q, "active")
    }) as page`,
  );
}

export async function getOverview(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const q = query(request, "overview");
  const [{ overview }] = await mapDatabaseErrors(deps.sql`
    select payments.admin_overview(${environment}, ${since(q)}) as overview`);
  return json(200, overview);
}
