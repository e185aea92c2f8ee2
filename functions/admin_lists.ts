// Service-role reads for operators: the admin lists, one stored event, and the overview figures.
// Pagination, filters and the row shapes are the SQL functions' (20261201001800_admin_lists.sql);
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

// An ISO 8601 date, or date-time with an optional offset (none means UTC).
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(10000, 0, 1);

/**
 * `since` as an exact instant. Date.parse would roll 2026-02-30 over to March and pass years
 * PostgreSQL cannot hold, so the calendar is checked field by field.
 */
function since(params: Query): string | null {
  const value = text(params, "since");
  if (value === null) return null;
  const refuse = (why: string) =>
    validationError([{
      field: "since",
      message:
        `'${value}' ${why}; use an ISO 8601 date or time such as 2026-11-30 or 2026-11-30T12:00:00Z`,
    }]);
  const match = ISO_TIME.exec(value);
  if (!match) throw refuse("is not an ISO 8601 date or time");
  const [, y, mo, d, h = "00", mi = "00", s = "00", fraction = "", offset = "Z"] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
  if (year < 1970) throw refuse("is outside the years 1970 to 9999");
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(local);
  if (
    date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59
  ) {
    throw refuse("is not a real calendar date and time");
  }
  let offsetMs = 0;
  if (offset.toUpperCase() !== "Z") {
    const [, sign, oh, om] = /^([+-])(\d{2}):?(\d{2})$/.exec(offset)!;
    if (Number(oh) > 23 || Number(om) > 59) throw refuse("has an offset out of range");
    offsetMs = (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  }
  const instant = local - offsetMs + Math.round(Number(`0${fraction || ".0"}`) * 1000);
  if (instant < EARLIEST || instant >= LATEST) {
    throw refuse("is outside the years 1970 to 9999");
  }
  // Rebuilt with an explicit offset: the database session's time zone must not shift it.
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${fraction}${offset.toUpperCase()}`;
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
