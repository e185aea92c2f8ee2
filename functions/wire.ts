// The HTTP API's request and response bodies, declared once. The function's handlers, the CLI,
// the demo and the client SDK import these; the packed SDK carries them in a generated
// client/index.d.ts (scripts/client_types.ts, run by `npm pack`) so that it installs on its own.
// Types only, and no imports: the generator copies this file as it is.

/** A Stripe environment; both live side by side in one database. */
export type Environment = "test" | "live";

/** The app-owned billing owner: a user, team, workspace, organization, tenant or group. */
export interface Subject {
  /** Lowercase snake_case, such as `user` or `team`. */
  type: string;
  id: string;
}

/** Every refusal: `{ error: { code, message, details } }` with a fitting HTTP status. */
export interface ErrorBody {
  error: {
    /** `validation_failed`, `unauthorized`, `forbidden`, `not_found`, `stripe_error`, ... */
    code: string;
    message: string;
    /** Such as `{ fields: [{ field, message }] }` for `validation_failed`. */
    details?: unknown;
  };
}

// --- POST /stripe/{environment}/checkout-sessions (a user) ---

export interface CheckoutLineItem {
  /** A Stripe price id (`price_...`). */
  priceId: string;
  /** 1 to 999; defaults to 1. */
  quantity?: number;
}

export interface CheckoutSessionParams {
  mode: "payment" | "subscription";
  /** Required for subscriptions; defaults to `{ type: 'user', id: <caller> }` otherwise. */
  subject?: Subject;
  lineItems: CheckoutLineItem[];
  successUrl: string;
  cancelUrl: string;
  customerEmail?: string | null;
  /** Copied to the Checkout Session (and its payment or subscription). */
  metadata?: Record<string, string>;
  /** Unique per environment and caller; a retry with the same key returns the same session. */
  idempotencyKey?: string | null;
}

export interface CheckoutSession {
  /** The row id in `payments.stripe_checkout_sessions`. */
  id: string;
  /** Stripe's `cs_...` id, once Stripe created the session. */
  checkoutSessionId: string | null;
  /** The hosted Checkout page; null unless the session is open. */
  url: string | null;
  status: "initialized" | "open" | "completed" | "expired" | "failed";
  paymentStatus: string | null;
  mode: "payment" | "subscription";
  subject: Subject;
  customerId: string | null;
  amountTotal: number | null;
  currency: string | null;
  expiresAt: string | null;
  idempotencyKey: string | null;
  createdAt: string;
}

/** Answered with 201. */
export interface CheckoutSessionResponse {
  checkoutSession: CheckoutSession;
}

// --- POST /stripe/{environment}/customer-portal-sessions (a user) ---

export interface CustomerPortalSessionParams {
  /** Defaults to `{ type: 'user', id: <caller> }`. */
  subject?: Subject;
  returnUrl?: string;
  /** A Billing Portal configuration (`bpc_...`) listed in the deployment's PAYMENTS_PORTAL_CONFIGURATIONS. */
  configurationId?: string;
}

export interface CustomerPortalSession {
  id: string;
  portalSessionId: string | null;
  url: string | null;
  status: "initialized" | "created" | "failed";
  subject: Subject;
  customerId: string;
  returnUrl: string | null;
  createdAt: string;
}

/** Answered with 201; 404 when the subject has no Stripe customer yet. */
export interface CustomerPortalSessionResponse {
  customerPortalSession: CustomerPortalSession;
}

// --- POST /webhooks/stripe/{environment} (Stripe) ---

/** What ingesting or replaying one event did. */
export interface EventResult {
  eventId: string;
  status: "processed" | "ignored" | "duplicate" | "failed";
  error: string | null;
}

/** Answered with 200; a failed event is a 500 `event_failed` so that Stripe retries. */
export interface WebhookReceivedResponse {
  received: true;
  eventId: string;
  status: EventResult["status"];
}

// --- GET /health (anyone) ---

/** 200 with `ok`, or 503 with `degraded` when the database does not answer. */
export type HealthResponse =
  | { status: "ok"; database: "ok" }
  | { status: "degraded"; database: "unavailable" };

// --- GET /stripe/status (service role) ---

export interface EnvironmentStatus {
  /** A secret key is stored. */
  configured: boolean;
  /** `connected` or `disconnected`. */
  status: string;
  secretKeyLast4: string | null;
  account: { id: string; name: string | null; email: string | null; livemode: boolean } | null;
  webhook: { endpointId: string | null; url: string | null; signingSecretStored: boolean };
  lastSync: {
    at: string | null;
    /** `running`, `succeeded`, `failed`, or `interrupted` when a run never reported back. */
    status: string | null;
    error: string | null;
    counts: Record<string, number>;
  };
  counts: {
    products: number;
    prices: number;
    customers: number;
    subscriptions: number;
    transactions: number;
    /** By processing status: `processed`, `pending`, `failed`, `ignored`. */
    webhookEvents: Record<string, number>;
  };
  /** Only for a configured environment. */
  delivery: DeliveryHealth | null;
}

/** Read from Stripe (the endpoint, its pending events) and from webhook_events. */
export interface DeliveryHealth {
  /** The managed endpoint as Stripe reports it; `missing` when none is recorded or Stripe lost it. */
  endpointStatus: "enabled" | "disabled" | "missing" | "unknown";
  /** The newest event received by a verified webhook delivery. */
  lastDeliveryAt: string | null;
  /** The newest event stored by reconciliation. */
  lastReconciledAt: string | null;
  /** Events Stripe still reports pending (`pending_webhooks` > 0) since `scannedSince` that are not stored; null when Stripe did not answer. */
  pendingNotStored: number | null;
  scannedSince: string;
  /** Why Stripe could not be read, if it could not. */
  error: string | null;
}

export interface StatusResponse {
  environments: Record<Environment, EnvironmentStatus>;
  /** Deployment settings an operator should fix before taking live payments, in sentences. */
  warnings: string[];
}

// --- the managed webhook endpoint: PUT .../config and POST /stripe/{environment}/webhook ---

/**
 * `configured`: the endpoint exists (`created` says whether this call made it). `skipped`: no
 * `PUBLIC_URL`, so Stripe could not reach it. `failed`: Stripe refused or could not be reached;
 * `reason` says why.
 */
export type WebhookState =
  | { status: "configured"; endpointId: string; url: string; created: boolean }
  | { status: "skipped" | "failed"; reason: string };

export interface WebhookEndpointResponse {
  environment: Environment;
  webhook: WebhookState;
}

// --- POST /stripe/{environment}/sync (service role) ---

/** Optional body; `?resume=true` does the same. */
export interface SyncRequest {
  /** Continue the unfinished sync from its checkpoints (per object type) instead of starting over. */
  resume?: boolean;
}

export type SyncObjectType =
  | "product"
  | "price"
  | "customer"
  | "subscription"
  | "invoice_payment"
  | "payment_intent"
  | "refund";

/** One line of the NDJSON stream (`accept: application/x-ndjson`); the last is `done` or `error`. */
export type SyncProgress =
  | { type: "resumed"; startedAt: string }
  | { type: "page"; object: SyncObjectType; page: number; count: number; total: number }
  | { type: "archived"; object: SyncObjectType; count: number }
  | { type: "reconciled"; seen: number; new: number; failed: number }
  | { type: "done"; counts: Record<string, number>; archived: Record<string, number> }
  | { type: "error"; message: string; code: string };

/** The answer without streaming: the sync's last step. */
export interface SyncResponse {
  environment: Environment;
  sync?: SyncProgress;
}

// --- PUT and DELETE /stripe/{environment}/config (service role) ---

export interface ConfigRequest {
  /** `sk_test_`/`rk_test_` for `test`, `sk_live_`/`rk_live_` for `live`. */
  secretKey: string;
}

/** The key is stored even when the webhook endpoint could not be configured. */
export interface ConfigResponse {
  environment: Environment;
  account: { id: string; accountChanged: boolean };
  secretKeyLast4: string;
  webhook: WebhookState;
  sync?: SyncProgress;
}

export interface ConfigRemovedResponse {
  environment: Environment;
  /** False when no key was stored (removing is idempotent). */
  removed: boolean;
  webhookRemoved: boolean;
}

// --- POST /stripe/{environment}/events/{id}/replay (service role) ---

/** Answered with 200; an event that fails again is a 500 `event_failed` with the result in details. */
export interface ReplayResponse {
  event: EventResult;
}

// --- POST /stripe/{environment}/reconcile (service role) ---

/** Body or query: `since` (`72h`, `3d` or an ISO time; default 72h, at most 30 days), `types`. */
export interface ReconcileRequest {
  since?: string;
  /** Event types; defaults to the types the webhook endpoint subscribes to. */
  types?: string[];
}

export interface ReconcileResponse {
  environment: Environment;
  since: string;
  types: string[] | null;
  /** Events Stripe listed (of the chosen types) since `since`. */
  listed: number;
  /** Already stored (by a delivery or an earlier run): not ingested again. */
  seen: number;
  /** Stored now, processed or ignored. */
  new: number;
  /** Stored now as failed (a replay or a later run retries them), or refused as malformed. */
  failed: number;
  /** The first failures, with their errors. */
  failures: { eventId: string; type: string; error: string | null }[];
}

// ---------------------------------------------------------------------------------------------
// Admin lists, overview and catalog (issue 13). Built by the SQL functions of
// 20261201001800_admin_lists.sql and by functions/catalog.ts; timestamps are ISO 8601 strings.
// ---------------------------------------------------------------------------------------------

/** Every admin list answers one page; pass `nextCursor` back as `cursor` for the next one. */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export type WebhookEventStatus = "pending" | "processed" | "failed" | "ignored";

export interface WebhookEventSummary {
  /** Stripe's `evt_…` id, as in the replay route. */
  eventId: string;
  type: string;
  status: WebhookEventStatus;
  objectType: string | null;
  objectId: string | null;
  livemode: boolean;
  apiVersion: string | null;
  attempts: number;
  lastError: string | null;
  /** When Stripe created the event. */
  createdAt: string;
  receivedAt: string;
  processedAt: string | null;
}

/** `GET /stripe/{environment}/webhook-events/{eventId}` → `{event}` */
export interface WebhookEventDetail extends WebhookEventSummary {
  payload: Record<string, unknown>;
}

export interface Transaction {
  id: string;
  type: "one_time_payment" | "subscription_invoice" | "refund" | "failed_payment";
  status: "pending" | "succeeded" | "failed" | "refunded" | "partially_refunded";
  /** The Stripe object the row stands for (pi_, in_ or re_). */
  objectId: string;
  subjectType: string | null;
  subjectId: string | null;
  customerId: string | null;
  customerEmail: string | null;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
  chargeId: string | null;
  invoiceId: string | null;
  subscriptionId: string | null;
  refundId: string | null;
  /** Smallest currency unit, as in Stripe. */
  amount: number;
  amountRefunded: number;
  currency: string | null;
  description: string | null;
  paidAt: string | null;
  failedAt: string | null;
  refundedAt: string | null;
  createdAt: string;
}

export interface TransactionTotal {
  currency: string | null;
  count: number;
  amount: number;
  amountRefunded: number;
}

/** The first page (no cursor) also carries totals of the whole filtered set. */
export interface TransactionPage extends Page<Transaction> {
  totals?: TransactionTotal[];
}

export interface Subscription {
  subscriptionId: string;
  customerId: string;
  subjectType: string | null;
  subjectId: string | null;
  status: string;
  cancelAtPeriodEnd: boolean;
  cancelAt: string | null;
  canceledAt: string | null;
  endedAt: string | null;
  trialEnd: string | null;
  currentPeriodEnd: string | null;
  items: { priceId: string | null; productId: string | null; quantity: number | null }[];
  metadata: Record<string, string>;
  archived: boolean;
  createdAt: string;
}

export interface Customer {
  customerId: string;
  email: string | null;
  name: string | null;
  metadata: Record<string, string>;
  deleted: boolean;
  archived: boolean;
  subject: { type: string; id: string } | null;
  createdAt: string;
}

export interface Recurring {
  interval: "day" | "week" | "month" | "year";
  intervalCount: number;
}

export interface Price {
  priceId: string;
  /** Set on prices answered by the catalog routes; list items sit inside their product. */
  productId?: string;
  currency: string;
  unitAmount: number | null;
  type: "one_time" | "recurring";
  recurring: Recurring | null;
  lookupKey: string | null;
  nickname: string | null;
  active: boolean;
  metadata: Record<string, string>;
  archived?: boolean;
}

export interface Product {
  productId: string;
  name: string;
  description: string | null;
  active: boolean;
  defaultPriceId: string | null;
  metadata: Record<string, string>;
  archived?: boolean;
  createdAt?: string;
  /** In lists: the product's prices. */
  prices?: Price[];
}

/** `POST /stripe/{environment}/products` body; PATCH takes any subset. */
export interface ProductInput {
  name?: string;
  description?: string | null;
  active?: boolean;
  metadata?: Record<string, string>;
}

/** `POST /stripe/{environment}/prices` body; PATCH takes `nickname`, `active`, `lookupKey`, `metadata`. */
export interface PriceInput {
  productId?: string;
  currency?: string;
  unitAmount?: number;
  recurring?: { interval: Recurring["interval"]; intervalCount?: number } | null;
  nickname?: string | null;
  lookupKey?: string | null;
  active?: boolean;
  metadata?: Record<string, string>;
}

/** `GET /stripe/{environment}/overview` */
export interface Overview {
  since: string;
  revenuePerDay: { day: string; currency: string | null; amount: number; count: number }[];
  eventsPerHour: { hour: string; status: WebhookEventStatus; count: number }[];
  subscriptionsByStatus: Record<string, number>;
  failedEvents: number;
}

// ---------------------------------------------------------------------------------------------
// End of the issue 13 section.
// ---------------------------------------------------------------------------------------------
