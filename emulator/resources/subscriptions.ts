/**
 * Subscriptions: retrieve, list, update (`cancel_at_period_end`, `metadata`), cancel; and the
 * helpers Checkout and billing use to create them and move them between states.
 */
import type Stripe from "stripe";
import { addInterval, unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { invalidRequest, noSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId } from "../ids.ts";
import { newestFirst, paginate } from "../pagination.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import { endpoint, type PathParams } from "../router.ts";

export interface SubscriptionInput {
  customer: string;
  /** Recurring prices only; they share one billing interval. */
  lines: { price: Stripe.Price; quantity: number }[];
  metadata: Stripe.Metadata;
  description: string | null;
  status: Stripe.Subscription.Status;
}

const STATUSES = [
  "active",
  "all",
  "canceled",
  "ended",
  "incomplete",
  "incomplete_expired",
  "past_due",
  "paused",
  "trialing",
  "unpaid",
] as const;

const ENDED = ["canceled", "incomplete_expired"];

const FEEDBACK = [
  "customer_service",
  "low_quality",
  "missing_features",
  "other",
  "switched_service",
  "too_complex",
  "too_expensive",
  "unused",
] as const;

interface CancellationInput {
  comment?: string | null;
  feedback?: Stripe.Subscription.CancellationDetails.Feedback | null;
}

function findSubscription(ctx: Context, id: string, param = "id"): Stripe.Subscription {
  const subscription = ctx.partition.subscriptions.get(id);
  if (!subscription) throw noSuch("subscription", id, param);
  return subscription;
}

/** Stores a subscription whose first period starts now; the caller emits. */
export function insertSubscription(ctx: Context, input: SubscriptionInput): Stripe.Subscription {
  const id = newId("sub");
  const now = unixNow();
  const items = input.lines.map((line) => buildItem(id, line.price, line.quantity, now));
  const subscription: Stripe.Subscription = {
    id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: now,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: "charge_automatically",
    created: now,
    currency: input.lines[0].price.currency,
    customer: input.customer,
    customer_account: null,
    days_until_due: null,
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: input.description,
    discounts: [],
    ended_at: null,
    invoice_settings: {
      account_tax_ids: null,
      custom_fields: null,
      description: null,
      footer: null,
      issuer: { type: "self" },
    },
    items: {
      object: "list",
      data: items,
      has_more: false,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: null,
    livemode: ctx.livemode,
    managed_payments: null,
    metadata: { ...input.metadata },
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: "off",
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: now,
    status: input.status,
    test_clock: null,
    transfer_data: null,
    trial_end: null,
    trial_settings: {
      end_behavior: { billing_cycle_anchor: null, missing_payment_method: "create_invoice" },
    },
    trial_start: null,
  };
  return ctx.partition.insert(ctx.partition.subscriptions, id, subscription);
}

function buildItem(
  subscriptionId: string,
  price: Stripe.Price,
  quantity: number,
  start: number,
): Stripe.SubscriptionItem {
  const recurring = price.recurring;
  if (!recurring) throw invalidRequest(`Price ${price.id} is not recurring.`, "price");
  return {
    id: newId("si", 14),
    object: "subscription_item",
    billing_thresholds: null,
    created: start,
    current_period_end: addInterval(start, recurring.interval, recurring.interval_count),
    current_period_start: start,
    current_trial: null,
    discounts: [],
    metadata: {},
    plan: {
      id: price.id,
      object: "plan",
      active: price.active,
      amount: price.unit_amount,
      amount_decimal: price.unit_amount_decimal,
      billing_scheme: "per_unit",
      created: price.created,
      currency: price.currency,
      interval: recurring.interval,
      interval_count: recurring.interval_count,
      livemode: price.livemode,
      metadata: { ...price.metadata },
      meter: null,
      nickname: price.nickname,
      product: price.product,
      tiers_mode: null,
      transform_usage: null,
      trial_period_days: recurring.trial_period_days,
      usage_type: "licensed",
    },
    price: structuredClone(price),
    quantity,
    subscription: subscriptionId,
    tax_rates: [],
  };
}

function currentPeriodEnd(subscription: Stripe.Subscription): number {
  return subscription.items.data[0].current_period_end;
}

/** Moves every item to its next billing period. */
export function advancePeriod(subscription: Stripe.Subscription): void {
  for (const item of subscription.items.data) {
    const { interval, interval_count } = item.plan;
    item.current_period_start = item.current_period_end;
    item.current_period_end = addInterval(item.current_period_end, interval, interval_count);
  }
}

export function setSubscriptionStatus(
  ctx: Context,
  subscription: Stripe.Subscription,
  status: Stripe.Subscription.Status,
): void {
  if (subscription.status === status) return;
  const before = structuredClone(subscription);
  subscription.status = status;
  ctx.emitUpdated("customer.subscription.updated", before, subscription);
}

export function cancelSubscriptionNow(
  ctx: Context,
  subscription: Stripe.Subscription,
  details: CancellationInput = {},
): void {
  const now = unixNow();
  subscription.status = "canceled";
  subscription.canceled_at = subscription.canceled_at ?? now;
  subscription.ended_at = now;
  subscription.cancellation_details = {
    ...subscription.cancellation_details,
    comment: details.comment ?? subscription.cancellation_details?.comment ?? null,
    feedback: details.feedback ?? subscription.cancellation_details?.feedback ?? null,
    feedback_option: subscription.cancellation_details?.feedback_option ?? null,
    reason: "cancellation_requested",
  };
  ctx.emit("customer.subscription.deleted", subscription);
}

/** `GET /v1/subscriptions/{id}`: only `expand`. */
const RETRIEVE_PARAMS: ParamSpec = {};

function retrieveSubscription(ctx: Context, params: ParamReader, path: PathParams) {
  return expand(ctx.partition, findSubscription(ctx, path.id), params.expand());
}

const CANCELLATION_DETAILS_PARAMS: ParamSpec = {
  read: ["comment", "feedback"],
  ignored: ["feedback_option"],
};

const UPDATE_PARAMS: ParamSpec = {
  read: ["cancel_at_period_end", "description", "metadata"],
  nested: { cancellation_details: CANCELLATION_DETAILS_PARAMS },
  // Items, proration, trials, discounts, taxes and payment settings are not emulated.
  ignored: [
    "add_invoice_items",
    "application_fee_percent",
    "automatic_tax",
    "billing_cycle_anchor",
    "billing_schedules",
    "billing_thresholds",
    "cancel_at",
    "collection_method",
    "coupon",
    "days_until_due",
    "default_payment_method",
    "default_source",
    "default_tax_rates",
    "discounts",
    "invoice_settings",
    "items",
    "off_session",
    "on_behalf_of",
    "pause_collection",
    "payment_behavior",
    "payment_settings",
    "pending_invoice_item_interval",
    "promotion_code",
    "proration_behavior",
    "proration_date",
    "transfer_data",
    "trial_end",
    "trial_from_plan",
    "trial_settings",
  ],
};

function updateSubscription(ctx: Context, params: ParamReader, path: PathParams) {
  const subscription = findSubscription(ctx, path.id);
  const before = structuredClone(subscription);
  const cancelAtPeriodEnd = params.boolean("cancel_at_period_end");
  const metadata = params.metadata(subscription.metadata);
  if (subscription.status === "canceled" && (cancelAtPeriodEnd !== undefined)) {
    throw invalidRequest(
      "A canceled subscription can only update its cancellation_details and metadata.",
    );
  }
  if (cancelAtPeriodEnd !== undefined) {
    subscription.cancel_at_period_end = cancelAtPeriodEnd;
    subscription.cancel_at = cancelAtPeriodEnd ? currentPeriodEnd(subscription) : null;
    subscription.canceled_at = cancelAtPeriodEnd ? unixNow() : null;
    subscription.cancellation_details = {
      ...readCancellationDetails(params, subscription),
      feedback_option: null,
      reason: cancelAtPeriodEnd ? "cancellation_requested" : null,
    };
  }
  subscription.metadata = metadata ?? subscription.metadata;
  const description = params.nullableString("description");
  if (description !== undefined) subscription.description = description;
  ctx.emitUpdated("customer.subscription.updated", before, subscription);
  return expand(ctx.partition, subscription, params.expand());
}

const CANCEL_PARAMS: ParamSpec = {
  nested: { cancellation_details: CANCELLATION_DETAILS_PARAMS },
  ignored: ["invoice_now", "prorate"],
};

function cancelSubscription(ctx: Context, params: ParamReader, path: PathParams) {
  const subscription = findSubscription(ctx, path.id);
  if (ENDED.includes(subscription.status)) {
    throw invalidRequest(`This subscription has already ended: ${subscription.id}.`);
  }
  cancelSubscriptionNow(ctx, subscription, readCancellationDetails(params, subscription));
  return expand(ctx.partition, subscription, params.expand());
}

function readCancellationDetails(
  params: ParamReader,
  subscription: Stripe.Subscription,
): Required<CancellationInput> {
  const details = params.object("cancellation_details");
  const current = subscription.cancellation_details;
  return {
    comment: details?.nullableString("comment") ?? current?.comment ?? null,
    feedback: details?.oneOf("feedback", FEEDBACK) ?? current?.feedback ?? null,
  };
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "customer", "price", "status"],
  ignored: [
    "automatic_tax",
    "collection_method",
    "created",
    "current_period_end",
    "current_period_start",
    "customer_account",
    "plan",
    "test_clock",
  ],
};

function listSubscriptions(ctx: Context, params: ParamReader) {
  const status = params.oneOf("status", STATUSES);
  const customer = params.string("customer");
  const price = params.string("price");
  const subscriptions = [...ctx.partition.subscriptions.values()].filter((subscription) =>
    matchesStatus(subscription.status, status) &&
    (customer === undefined || subscription.customer === customer) &&
    (price === undefined || subscription.items.data.some((item) => item.price.id === price))
  );
  const list = paginate(subscriptions, params, "/v1/subscriptions", newestFirst(ctx.partition));
  return expand(ctx.partition, list, params.expand());
}

/** Without a status filter Stripe lists every subscription that has not been canceled. */
function matchesStatus(status: string, filter: (typeof STATUSES)[number] | undefined): boolean {
  if (filter === undefined) return status !== "canceled";
  if (filter === "all") return true;
  if (filter === "ended") return ENDED.includes(status);
  return status === filter;
}

export const subscriptionRoutes = [
  endpoint("GET", "/v1/subscriptions", LIST_PARAMS, listSubscriptions),
  endpoint("GET", "/v1/subscriptions/{id}", RETRIEVE_PARAMS, retrieveSubscription),
  endpoint("POST", "/v1/subscriptions/{id}", UPDATE_PARAMS, updateSubscription),
  endpoint("DELETE", "/v1/subscriptions/{id}", CANCEL_PARAMS, cancelSubscription),
];
