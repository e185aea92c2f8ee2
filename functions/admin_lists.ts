// Service-role reads for operators: the admin lists, one stored event, and the overview figures.
// Pagination, filters and the row shapes are the SQL functions' (20261201001800_admin_lists.sql);
// here the query string becomes their arguments.
import { mapDatabaseErrors, type Sql } from "./db.ts";
import { json, validationError } from "./errors.ts";
import type { OperatorRoute } from "./deps.ts";
import type { Environment } from "./stripe.ts";

type Filter = string | number | boolean | null;

/** Turns one query parameter that is present and not empty into its SQL argument, or refuses it. */
type Parse = (value: string, name: string) => Filter;

const text: Parse = (value) => value;

function limit(value: string): number {
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
function since(value: string): string {
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

function flag(value: string, name: string): boolean {
  if (value !== "true" && value !== "false") {
    throw validationError([{ field: name, message: "must be true or false" }]);
  }
  return value === "true";
}

interface List {
  /** The query parameters it accepts (anything else is a 400, not silently ignored). */
  filters: Record<string, Parse>;
  /** Its SQL function, whose answer (a page, or the overview) is the response body as it is. */
  call(
    sql: Sql,
    environment: Environment,
    f: Record<string, Filter>,
  ): Promise<{ result: unknown }[]>;
}

const LISTS: Record<string, List> = {
  "webhook-events": {
    filters: { limit, cursor: text, status: text, type: text, objectId: text, since },
    call: (sql, environment, f) =>
      sql`select payments.list_webhook_events(${environment}, ${f.limit}, ${f.cursor}, ${f.status},
            ${f.type}, ${f.objectId}, ${f.since}) as result`,
  },
  transactions: {
    filters: {
      limit,
      cursor: text,
      type: text,
      status: text,
      subjectType: text,
      subjectId: text,
      customerId: text,
      since,
    },
    call: (sql, environment, f) =>
      sql`select payments.list_transactions(${environment}, ${f.limit}, ${f.cursor}, ${f.type},
            ${f.status}, ${f.subjectType}, ${f.subjectId}, ${f.customerId}, ${f.since}) as result`,
  },
  subscriptions: {
    filters: { limit, cursor: text, status: text },
    call: (sql, environment, f) =>
      sql`select payments.list_subscriptions(${environment}, ${f.limit}, ${f.cursor}, ${f.status})
            as result`,
  },
  customers: {
    filters: { limit, cursor: text },
    call: (sql, environment, f) =>
      sql`select payments.list_customers(${environment}, ${f.limit}, ${f.cursor}) as result`,
  },
  products: {
    filters: { limit, cursor: text, active: flag },
    call: (sql, environment, f) =>
      sql`select payments.list_products(${environment}, ${f.limit}, ${f.cursor}, ${f.active})
            as result`,
  },
  overview: {
    filters: { since },
    call: (sql, environment, f) =>
      sql`select payments.admin_overview(${environment}, ${f.since}) as result`,
  },
};

/** The route of one list: its query string checked and parsed, then its SQL function's answer. */
function listRoute(name: string): OperatorRoute {
  const { filters, call } = LISTS[name];
  return async (deps, request, environment) => {
    const params = new URL(request.url).searchParams;
    const unknown = [...params.keys()].filter((param) => !(param in filters));
    if (unknown.length > 0) {
      throw validationError(unknown.map((field) => ({
        field,
        message: `is not a filter of ${name}; use ${Object.keys(filters).join(", ")}`,
      })));
    }
    const f: Record<string, Filter> = {};
    for (const [param, parse] of Object.entries(filters)) {
      const value = params.get(param);
      f[param] = value === null || value === "" ? null : parse(value, param);
    }
    const [{ result }] = await mapDatabaseErrors(call(deps.sql, environment, f));
    return json(200, result);
  };
}

export const listWebhookEvents = listRoute("webhook-events");
export const listTransactions = listRoute("transactions");
export const listSubscriptions = listRoute("subscriptions");
export const listCustomers = listRoute("customers");
export const listProducts = listRoute("products");
export const getOverview = listRoute("overview");

export const getWebhookEvent: OperatorRoute = async (deps, _request, environment, eventId) => {
  const [{ event }] = await mapDatabaseErrors(deps.sql`
    select payments.get_webhook_event(${environment}, ${eventId}) as event`);
  return json(200, { event });
};
