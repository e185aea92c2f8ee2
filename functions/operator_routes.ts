// The operator routes under /stripe/{environment}/ (configuration, sync, reconcile, replay, the
// admin lists, the catalog), registered by handler.ts. Every one of them is for the service role
// alone: handler.ts authenticates before calling any, so no handler checks it again. Each handler
// gets the checked environment and the decoded id.
import { deleteConfig, putConfig, repairWebhook, replayEvent, sync } from "./admin.ts";
import {
  getOverview,
  getWebhookEvent,
  listCustomers,
  listProducts,
  listSubscriptions,
  listTransactions,
  listWebhookEvents,
} from "./admin_lists.ts";
import { createPrice, createProduct, updatePrice, updateProduct } from "./catalog.ts";
import type { OperatorRoute } from "./deps.ts";
import { reconcile } from "./reconcile.ts";

/** [path after /stripe/{environment}/ (one `([^/]+)` at most), handlers by method] */
export const OPERATOR_ROUTES: [string, Partial<Record<string, OperatorRoute>>][] = [
  ["config", { PUT: putConfig, DELETE: deleteConfig }],
  ["sync", { POST: sync }],
  ["reconcile", { POST: reconcile }],
  ["webhook", { POST: repairWebhook }],
  ["events/([^/]+)/replay", { POST: replayEvent }],
  ["webhook-events", { GET: listWebhookEvents }],
  ["webhook-events/([^/]+)", { GET: getWebhookEvent }],
  ["transactions", { GET: listTransactions }],
  ["subscriptions", { GET: listSubscriptions }],
  ["customers", { GET: listCustomers }],
  ["overview", { GET: getOverview }],
  ["products", { GET: listProducts, POST: createProduct }],
  ["products/([^/]+)", { PATCH: updateProduct }],
  ["prices", { POST: createPrice }],
  ["prices/([^/]+)", { PATCH: updatePrice }],
];
