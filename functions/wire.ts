// Wire types: the JSON the payments function answers, shared by the function, the CLI and the
// dashboard (which reads this file's shapes through its JSDoc) so that no shape is declared twice.

// ---------------------------------------------------------------------------------------------
// Admin lists, overview and catalog (issue 13). Built by the SQL functions of
// 20261130000100_admin_lists.sql and by functions/catalog.ts; timestamps are ISO 8601 strings.
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
