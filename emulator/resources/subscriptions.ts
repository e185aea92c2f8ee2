/**
 * Subscriptions: retrieve, list, update (`cancel_at_period_end`, `metadata`), cancel; and the
 * helpers Checkout and billing use to create them and move them between states.
 */
import type Stripe from "stripe";
import { addInterval } from "../clock.ts";
import type { Context } from "../context.ts";
import { invalidRequest, missingParam, noSuch, orNoSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId } from "../ids.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import type { PathParams } from "../router.ts";
import { collection } from "./collection.ts";
import { startSubscription } from "../billing.ts";
import { findCustomer } from "./customers.ts";
import { cardError } from "./payment_methods.ts";
import { findPrice } from "./prices.ts";
import { clockTimeOf } from "./test_clocks.ts";

export interface SubscriptionInput {
  customer: Stripe.Customer;
  /** Recurring prices only; they share one billing interval. */
  lines: { price: Stripe.Price; quantity: number }[];
  metadata: Stripe.Metadata;
  description: string | null;
  status: Stripe.Subscription.Status;
  defaultPaymentMethod: string | null;
  trialEnd: number | null;
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
  return orNoSuch(ctx.partition.subscriptions.get(id), "subscription", id, param);
}

/** Stores a subscription whose first period starts now; the caller emits. */
export function insertSubscription(ctx: Context, input: SubscriptionInput): Stripe.Subscription {
  const id = newId("sub");
  const now = ctx.now();
  // A trial is the first period: billing starts when it ends.
  const items = input.lines.map((line) =>
    buildItem(id, line.price, line.quantity, now, input.trialEnd)
  );
  const subscription: Stripe.Subscription = {
    id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: input.trialEnd ?? now,
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
    customer: input.customer.id,
    customer_account: null,
    days_until_due: null,
    default_payment_method: input.defaultPaymentMethod,
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
    test_clock: input.customer.test_clock ?? null,
    transfer_data: null,
    trial_end: input.trialEnd,
    trial_settings: {
      end_behavior: { billing_cycle_anchor: null, missing_payment_method: "create_invoice" },
    },
    trial_start: input.trialEnd === null ? null : now,
  };
  return ctx.partition.insert(ctx.partition.subscriptions, id, subscription);
}

function buildItem(
  subscriptionId: string,
  price: Stripe.Price,
  quantity: number,
  start: number,
  periodEnd: number | null = null,
): Stripe.SubscriptionItem {
  const recurring = price.recurring;
  if (!recurring) throw invalidRequest(`Price ${price.id} is not recurring.`, "price");
  return {
    id: newId("si", 14),
    object: "subscription_item",
    billing_thresholds: null,
    created: start,
    current_period_end: periodEnd ??
      addInterval(start, recurring.interval, recurring.interval_count),
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
  reason: Stripe.Subscription.CancellationDetails.Reason = "cancellation_requested",
): void {
  const now = ctx.now();
  subscription.status = "canceled";
  subscription.canceled_at = subscription.canceled_at ?? now;
  subscription.ended_at = now;
  subscription.cancellation_details = {
    ...subscription.cancellation_details,
    comment: details.comment ?? subscription.cancellation_details?.comment ?? null,
    feedback: details.feedback ?? subscription.cancellation_details?.feedback ?? null,
    feedback_option: subscription.cancellation_details?.feedback_option ?? null,
    reason,
  };
  ctx.emit("customer.subscription.deleted", subscription);
}

const CANCELLATION_DETAILS_PARAMS: ParamSpec = {
  read: ["comment", "feedback"],
  ignored: ["feedback_option"],
};

const ITEM_PARAMS: ParamSpec = {
  read: ["deleted", "id", "price", "quantity"],
  ignored: ["billing_thresholds", "discounts", "metadata", "plan", "price_data", "tax_rates"],
};

const UPDATE_PARAMS: ParamSpec = {
  read: [
    "cancel_at_period_end",
    "default_payment_method",
    "description",
    "items",
    "metadata",
    "proration_behavior",
  ],
  nested: { cancellation_details: CANCELLATION_DETAILS_PARAMS, items: { each: ITEM_PARAMS } },
  // Proration, trials, discounts, taxes and payment settings are not emulated: a new price
  // applies from the next period.
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
    "default_source",
    "default_tax_rates",
    "discounts",
    "invoice_settings",
    "off_session",
    "on_behalf_of",
    "pause_collection",
    "payment_behavior",
    "payment_settings",
    "pending_invoice_item_interval",
    "promotion_code",
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
  const changesBilling = cancelAtPeriodEnd !== undefined || params.has("items") ||
    params.has("default_payment_method");
  if (ENDED.includes(subscription.status) && changesBilling) {
    throw invalidRequest(
      "A canceled subscription can only update its cancellation_details and metadata.",
    );
  }
  params.oneOf("proration_behavior", ["always_invoice", "create_prorations", "none"] as const);
  if (cancelAtPeriodEnd !== undefined) {
    setCancelAtPeriodEnd(
      ctx,
      subscription,
      cancelAtPeriodEnd,
      readCancellationDetails(params, subscription),
    );
  }
  for (const item of params.objects("items") ?? []) updateItem(ctx, subscription, item);
  const methodId = params.nullableString("default_payment_method");
  if (methodId !== undefined) {
    subscription.default_payment_method = methodId === null
      ? null
      : customerPaymentMethod(ctx, subscription, methodId, "default_payment_method");
  }
  subscription.metadata = metadata ?? subscription.metadata;
  const description = params.nullableString("description");
  if (description !== undefined) subscription.description = description;
  ctx.emitUpdated("customer.subscription.updated", before, subscription);
  return expand(ctx.partition, subscription, params.expand());
}

/** Schedules the end of the subscription at its period end, or takes that back (resume). */
export function setCancelAtPeriodEnd(
  ctx: Context,
  subscription: Stripe.Subscription,
  cancel: boolean,
  details: CancellationInput = {},
): void {
  subscription.cancel_at_period_end = cancel;
  subscription.cancel_at = cancel ? currentPeriodEnd(subscription) : null;
  subscription.canceled_at = cancel ? ctx.now() : null;
  subscription.cancellation_details = {
    comment: details.comment ?? null,
    feedback: details.feedback ?? null,
    feedback_option: null,
    reason: cancel ? "cancellation_requested" : null,
  };
}

/** A PaymentMethod the subscription's customer has saved. */
function customerPaymentMethod(
  ctx: Context,
  subscription: Stripe.Subscription,
  id: string,
  param: string,
): string {
  const record = ctx.partition.paymentMethods.get(id);
  if (!record) throw noSuch("payment_method", id, param);
  if (record.paymentMethod.customer !== subscription.customer) {
    throw invalidRequest(
      `The customer does not have a payment method with the ID ${id}. The payment method ` +
        `must be attached to the customer.`,
      param,
    );
  }
  return id;
}

/**
 * `items[i]`: `id` + `price` switches an item's plan (the new price bills from the next period,
 * with no proration), `deleted` removes it, no `id` adds one.
 */
function updateItem(ctx: Context, subscription: Stripe.Subscription, item: ParamReader): void {
  const id = item.nullableString("id");
  const priceId = item.nullableString("price");
  const quantity = item.integer("quantity", 1);
  const existing = id
    ? subscription.items.data.find((candidate) => candidate.id === id)
    : undefined;
  if (id && !existing) throw noSuch("subscription_item", id, item.name("id"));
  if (existing && item.boolean("deleted")) {
    if (subscription.items.data.length === 1) {
      throw invalidRequest("A subscription must keep at least one item.", item.name("deleted"));
    }
    subscription.items.data = subscription.items.data.filter((candidate) => candidate !== existing);
    return;
  }
  const price = priceId ? findPrice(ctx, priceId, item.name("price")) : undefined;
  if (price && !price.recurring) {
    throw invalidRequest(`The price ${price.id} is not recurring.`, item.name("price"));
  }
  if (existing) {
    if (price) switchItemPrice(existing, price);
    if (quantity !== undefined) existing.quantity = quantity;
    return;
  }
  if (!price) throw missingParam(item.name("price"));
  const first = subscription.items.data[0];
  const added = buildItem(subscription.id, price, quantity ?? 1, first.current_period_start);
  added.current_period_end = first.current_period_end;
  subscription.items.data.push(added);
}

/** Moves an item to another price; the current period stays as it is. */
export function switchItemPrice(item: Stripe.SubscriptionItem, price: Stripe.Price): void {
  const fresh = buildItem(item.subscription, price, item.quantity ?? 1, item.created);
  item.price = fresh.price;
  item.plan = fresh.plan;
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
  read: [...PAGINATION, "customer", "price", "status", "test_clock"],
  ignored: [
    "automatic_tax",
    "collection_method",
    "created",
    "current_period_end",
    "current_period_start",
    "customer_account",
    "plan",
  ],
};

function listSubscriptions(ctx: Context, params: ParamReader) {
  const status = params.oneOf("status", STATUSES);
  const customer = params.string("customer");
  const price = params.string("price");
  const clock = params.string("test_clock");
  return [...ctx.partition.subscriptions.values()].filter((subscription) =>
    matchesStatus(subscription.status, status) &&
    (clock === undefined || subscription.test_clock === clock) &&
    (customer === undefined || subscription.customer === customer) &&
    (price === undefined || subscription.items.data.some((item) => item.price.id === price))
  );
}

/** Without a status filter Stripe lists every subscription that has not been canceled. */
function matchesStatus(status: string, filter: (typeof STATUSES)[number] | undefined): boolean {
  if (filter === undefined) return status !== "canceled";
  if (filter === "all") return true;
  if (filter === "ended") return ENDED.includes(status);
  return status === filter;
}

const CREATE_ITEM_PARAMS: ParamSpec = {
  read: ["price", "quantity"],
  ignored: ["billing_thresholds", "discounts", "metadata", "plan", "price_data", "tax_rates"],
};

const PAYMENT_BEHAVIORS = [
  "allow_incomplete",
  "default_incomplete",
  "error_if_incomplete",
  "pending_if_incomplete",
] as const;

const MAX_TRIAL_DAYS = 730;
const DAY_SECONDS = 24 * 60 * 60;

const CREATE_PARAMS: ParamSpec = {
  read: [
    "cancel_at_period_end",
    "customer",
    "default_payment_method",
    "description",
    "items",
    "metadata",
    "off_session",
    "payment_behavior",
    "trial_end",
    "trial_period_days",
  ],
  nested: { items: { each: CREATE_ITEM_PARAMS } },
  // Invoice items, proration, discounts, taxes, Connect and schedules are not emulated.
  ignored: [
    "add_invoice_items",
    "application_fee_percent",
    "automatic_tax",
    "backdate_start_date",
    "billing_cycle_anchor",
    "billing_cycle_anchor_config",
    "billing_mode",
    "billing_schedules",
    "billing_thresholds",
    "cancel_at",
    "collection_method",
    "currency",
    "customer_account",
    "days_until_due",
    "default_source",
    "default_tax_rates",
    "discounts",
    "invoice_settings",
    "on_behalf_of",
    "payment_settings",
    "pending_invoice_item_interval",
    "proration_behavior",
    "transfer_data",
    "trial_from_plan",
    "trial_settings",
  ],
};

/**
 * `POST /v1/subscriptions`: bills the first invoice at once with `default_payment_method` or
 * the customer's default card; `default_incomplete` leaves it for the caller to confirm.
 */
function createSubscription(ctx: Context, params: ParamReader) {
  const customer = findCustomer(ctx, params.requireString("customer"), "customer");
  const entries = params.objects("items");
  if (!entries || entries.length === 0) throw missingParam("items");
  const lines = entries.map((entry) => {
    const price = findPrice(ctx, entry.requireString("price"), entry.name("price"));
    if (!price.recurring) {
      throw invalidRequest(`The price ${price.id} is not recurring.`, entry.name("price"));
    }
    if (!price.active) {
      throw invalidRequest(`The price ${price.id} is inactive.`, entry.name("price"));
    }
    return { price, quantity: entry.integer("quantity", 1) ?? 1 };
  });
  const intervals = new Set(
    lines.map(({ price }) =>
      `${price.recurring?.interval_count} ${price.recurring?.interval} ${price.currency}`
    ),
  );
  if (intervals.size > 1) {
    throw invalidRequest(
      "All prices on a subscription must share one currency and billing interval.",
      "items",
    );
  }
  const behavior = params.oneOf("payment_behavior", PAYMENT_BEHAVIORS) ?? "allow_incomplete";
  const methodId = params.nullableString("default_payment_method") ?? null;
  if (methodId) {
    const record = ctx.partition.paymentMethods.get(methodId);
    if (!record) throw noSuch("payment_method", methodId, "default_payment_method");
    if (record.paymentMethod.customer !== customer.id) {
      throw invalidRequest(
        `The customer does not have a payment method with the ID ${methodId}. The payment ` +
          `method must be attached to the customer.`,
        "default_payment_method",
      );
    }
  }
  const fallback = customer.invoice_settings.default_payment_method;
  const charged = methodId ?? (typeof fallback === "string" ? fallback : null);
  return ctx.atTime(clockTimeOf(ctx, customer), () => {
    const trialEnd = readTrialEnd(ctx, params);
    const started = startSubscription(ctx, {
      customer,
      lines,
      metadata: params.metadata() ?? {},
      description: params.nullableString("description") ?? null,
      paymentMethod: charged,
      saveAsDefault: methodId !== null,
      trialEnd,
      attemptPayment: behavior !== "default_incomplete",
    });
    const { subscription } = started;
    if (params.boolean("cancel_at_period_end")) {
      setCancelAtPeriodEnd(ctx, subscription, true);
    }
    const result = started.result;
    if (behavior === "error_if_incomplete" && result?.status === "failed") {
      throw cardError(result.decline, { subscription: subscription.id });
    }
    return expand(ctx.partition, subscription, params.expand());
  });
}

function readTrialEnd(ctx: Context, params: ParamReader): number | null {
  const days = params.integer("trial_period_days", 0, MAX_TRIAL_DAYS);
  const end = params.string("trial_end");
  if (days !== undefined && end !== undefined) {
    throw invalidRequest(
      "You may only specify one of these parameters: trial_end, trial_period_days.",
      "trial_end",
      "parameters_exclusive",
    );
  }
  if (days) return ctx.now() + days * DAY_SECONDS;
  if (end === undefined || end === "now") return null;
  const timestamp = params.integer("trial_end", ctx.now() + 1);
  return timestamp ?? null;
}

export const subscriptionRoutes = collection("/v1/subscriptions", {
  create: [CREATE_PARAMS, createSubscription],
  list: [LIST_PARAMS, listSubscriptions],
  find: findSubscription,
  update: [UPDATE_PARAMS, updateSubscription],
  delete: [CANCEL_PARAMS, cancelSubscription],
});
