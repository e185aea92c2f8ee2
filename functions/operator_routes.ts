// The operator routes (admin lists, one event, overview, catalog) under /stripe/{environment}/,
// registered by handler.ts. Each handler gets the checked environment and the decoded id.
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
import type { Deps } from "./deps.ts";
import type { Environment } from "./stripe.ts";

export type OperatorRoute = (
  deps: Deps,
  request: Request,
  environment: Environment,
  id: string,
) => Promise<Response>;

/** [path after /stripe/{environment}/ (one `([^/]+)` at most), handlers by method] */
export const OPERATOR_ROUTES: [string, Partial<Record<string, OperatorRoute>>][] = [
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
