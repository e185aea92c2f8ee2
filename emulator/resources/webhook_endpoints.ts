/**
 * Webhook endpoints: create (the only response that shows `secret`), retrieve, update, delete,
 * list. Delivery itself lives in webhooks.ts.
 */
import type Stripe from "stripe";
import { unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { invalidRequest, missingParam, orNoSuch } from "../errors.ts";
import { newId, randomToken } from "../ids.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import type { PathParams } from "../router.ts";
import { collection } from "./collection.ts";
import type { WebhookEndpointRecord } from "../store.ts";

function findEndpoint(ctx: Context, id: string): WebhookEndpointRecord {
  return orNoSuch(ctx.partition.webhookEndpoints.get(id), "webhook endpoint", id);
}

function readUrl(params: ParamReader): string | undefined {
  const url = params.string("url");
  if (url === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !["http:", "https:"].includes(parsed.protocol)) {
    throw invalidRequest(`Invalid URL: ${url}`, "url", "url_invalid");
  }
  return url;
}

function readEnabledEvents(params: ParamReader): string[] | undefined {
  const events = params.strings("enabled_events");
  if (events === undefined) return undefined;
  if (events.length === 0) throw missingParam("enabled_events");
  events.forEach((event, index) => {
    if (!/^(\*|[a-z_]+(\.[a-z_]+)+)$/.test(event)) {
      throw invalidRequest(
        `Invalid enabled_events[${index}]: ${event} is not an event type.`,
        `enabled_events[${index}]`,
      );
    }
  });
  return events;
}

const CREATE_PARAMS: ParamSpec = {
  read: ["api_version", "description", "enabled_events", "metadata", "url"],
  ignored: ["connect"],
};

function createEndpoint(ctx: Context, params: ParamReader) {
  const url = readUrl(params);
  if (!url) throw missingParam("url");
  const enabledEvents = readEnabledEvents(params);
  if (!enabledEvents) throw missingParam("enabled_events");
  const endpoint: Stripe.WebhookEndpoint = {
    id: newId("we"),
    object: "webhook_endpoint",
    api_version: params.nullableString("api_version") ?? null,
    application: null,
    created: unixNow(),
    description: params.nullableString("description") ?? null,
    enabled_events: enabledEvents,
    livemode: ctx.livemode,
    metadata: params.metadata() ?? {},
    status: "enabled",
    url,
  };
  const secret = `whsec_${randomToken(32)}`;
  ctx.partition.insert(ctx.partition.webhookEndpoints, endpoint.id, { endpoint, secret });
  return { ...endpoint, secret };
}

/** `GET /v1/webhook_endpoints/{id}`: only `expand`. */
const RETRIEVE_PARAMS: ParamSpec = {};

function retrieveEndpoint(ctx: Context, _params: ParamReader, path: PathParams) {
  return findEndpoint(ctx, path.id).endpoint;
}

const UPDATE_PARAMS: ParamSpec = {
  read: ["description", "disabled", "enabled_events", "metadata", "url"],
};

function updateEndpoint(ctx: Context, params: ParamReader, path: PathParams) {
  const { endpoint } = findEndpoint(ctx, path.id);
  endpoint.url = readUrl(params) ?? endpoint.url;
  endpoint.enabled_events = readEnabledEvents(params) ?? endpoint.enabled_events;
  const description = params.nullableString("description");
  if (description !== undefined) endpoint.description = description;
  endpoint.metadata = params.metadata(endpoint.metadata) ?? endpoint.metadata;
  const disabled = params.boolean("disabled");
  if (disabled !== undefined) endpoint.status = disabled ? "disabled" : "enabled";
  return endpoint;
}

/** `DELETE /v1/webhook_endpoints/{id}`: no parameters. */
const DELETE_PARAMS: ParamSpec = {};

function deleteEndpoint(ctx: Context, _params: ParamReader, path: PathParams) {
  findEndpoint(ctx, path.id);
  ctx.partition.webhookEndpoints.delete(path.id);
  return { id: path.id, object: "webhook_endpoint", deleted: true };
}

const LIST_PARAMS: ParamSpec = { read: PAGINATION };

function listEndpoints(ctx: Context) {
  return [...ctx.partition.webhookEndpoints.values()].map((record) => record.endpoint);
}

export const webhookEndpointRoutes = collection("/v1/webhook_endpoints", {
  create: [CREATE_PARAMS, createEndpoint],
  list: [LIST_PARAMS, listEndpoints],
  retrieve: [RETRIEVE_PARAMS, retrieveEndpoint],
  update: [UPDATE_PARAMS, updateEndpoint],
  delete: [DELETE_PARAMS, deleteEndpoint],
});
