/**
 * Events: retrieve and list (`type` with a `*` wildcard, `types[]`, `created` ranges,
 * `delivery_success`), newest first, within the 30 days Stripe keeps.
 */
import type { Context } from "../context.ts";
import { invalidRequest, noSuch } from "../errors.ts";
import { newestFirst, paginate } from "../pagination.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import { endpoint, type PathParams } from "../router.ts";
import type { EmulatorEvent } from "../store.ts";

/** `GET /v1/events/{id}`: only `expand`. */
const RETRIEVE_PARAMS: ParamSpec = {};

function retrieveEvent(ctx: Context, _params: ParamReader, path: PathParams) {
  const event = ctx.partition.events.get(path.id);
  if (!event) throw noSuch("event", path.id);
  return event;
}

/** `customer.*` matches `customer.created` and `customer.subscription.updated`. */
function typeMatcher(pattern: string): (type: string) => boolean {
  if (!pattern.includes("*")) return (type) => type === pattern;
  const source = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  const regex = new RegExp(`^${source}$`);
  return (type) => regex.test(type);
}

function createdMatcher(params: ParamReader): (event: EmulatorEvent) => boolean {
  const exact = params.has("created") && typeof params.values.created === "string"
    ? params.integer("created")
    : undefined;
  const range = params.object("created");
  const gt = range?.integer("gt");
  const gte = range?.integer("gte");
  const lt = range?.integer("lt");
  const lte = range?.integer("lte");
  return ({ created }) =>
    (exact === undefined || created === exact) &&
    (gt === undefined || created > gt) &&
    (gte === undefined || created >= gte) &&
    (lt === undefined || created < lt) &&
    (lte === undefined || created <= lte);
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "type", "types", "delivery_success"],
  nested: { created: { read: ["gt", "gte", "lt", "lte"] } },
};

/** Stripe lists (and guarantees) the events of the last 30 days only. */
export const EVENT_RETENTION_SECONDS = 30 * 86_400;
const MAX_TYPES = 20;

function listEvents(ctx: Context, params: ParamReader) {
  const type = params.string("type");
  const types = params.strings("types");
  if (type !== undefined && types !== undefined) {
    throw invalidRequest("You may only specify one of these parameters: type, types.", "types");
  }
  if (types !== undefined && (types.length === 0 || types.length > MAX_TYPES)) {
    throw invalidRequest(`Invalid types: between 1 and ${MAX_TYPES} event types.`, "types");
  }
  // false: events some endpoint has not acknowledged yet (pending, or every attempt failed).
  const deliverySuccess = params.boolean("delivery_success");
  const matchesType = type === undefined ? () => true : typeMatcher(type);
  const matchesCreated = createdMatcher(params);
  const oldest = ctx.now() - EVENT_RETENTION_SECONDS;
  const events = [...ctx.partition.events.values()].filter((event) =>
    event.created >= oldest &&
    matchesType(event.type) &&
    (types === undefined || types.includes(event.type)) &&
    (deliverySuccess === undefined || (event.pending_webhooks === 0) === deliverySuccess) &&
    matchesCreated(event)
  );
  return paginate(events, params, "/v1/events", newestFirst(ctx.partition));
}

export const eventRoutes = [
  endpoint("GET", "/v1/events", LIST_PARAMS, listEvents),
  endpoint("GET", "/v1/events/{id}", RETRIEVE_PARAMS, retrieveEvent),
];
