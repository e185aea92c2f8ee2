/**
 * Invoices: retrieve and list, plus the life cycle subscriptions drive:
 * draft → open (finalized) → paid, or a failed payment attempt that leaves it open.
 */
import type Stripe from "stripe";
import type { Context } from "../context.ts";
import { noSuch, orNoSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId } from "../ids.ts";
import { paginate } from "../pagination.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import { endpoint, type PathParams } from "../router.ts";
import { collection } from "./collection.ts";
import { unitAmountOf, wireDecimal } from "./catalog.ts";

export interface InvoiceLine {
  price: Stripe.Price;
  quantity: number;
  /** Set for recurring lines; one-time prices bought with a subscription have none. */
  subscriptionItem: Stripe.SubscriptionItem | null;
  /** A trial bills its recurring prices at zero. */
  free: boolean;
}

export interface InvoiceInput {
  customer: Stripe.Customer;
  subscription: Stripe.Subscription;
  lines: InvoiceLine[];
  billingReason: Stripe.Invoice.BillingReason;
  /** Stripe's invoice period: the usage period billed in arrears, empty for the first. */
  period: { start: number; end: number };
}

const RETRY_AFTER_SECONDS = 3 * 24 * 60 * 60;

function findInvoice(ctx: Context, id: string, param = "id"): Stripe.Invoice {
  return orNoSuch(ctx.partition.invoices.get(id), "invoice", id, param);
}

/** Stores a draft invoice and makes it the subscription's latest; the caller emits. */
export function insertInvoice(ctx: Context, input: InvoiceInput): Stripe.Invoice {
  const id = newId("in");
  const now = ctx.now();
  const { customer, subscription } = input;
  const lines = input.lines.map((line) => buildLine(ctx, id, subscription, line, now));
  const total = lines.reduce((sum, line) => sum + line.amount, 0);
  const invoice: Stripe.Invoice = {
    id,
    object: "invoice",
    account_country: "US",
    account_name: "Stripe emulator",
    account_tax_ids: null,
    amount_due: total,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: total,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: true,
    automatic_tax: {
      disabled_reason: null,
      enabled: false,
      liability: null,
      provider: null,
      status: null,
    },
    automatically_finalizes_at: null,
    billing_reason: input.billingReason,
    collection_method: "charge_automatically",
    created: now,
    currency: subscription.currency,
    custom_fields: null,
    customer: customer.id,
    customer_account: null,
    customer_address: customer.address ?? null,
    customer_email: customer.email,
    customer_name: customer.name ?? null,
    customer_phone: customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: "none",
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: "list", data: lines, has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: ctx.livemode,
    metadata: {},
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: {
      quote_details: null,
      subscription_details: {
        metadata: { ...subscription.metadata },
        subscription: subscription.id,
      },
      type: "subscription_details",
    },
    payment_settings: {
      default_mandate: null,
      payment_method_options: null,
      payment_method_types: null,
    },
    confirmation_secret: null,
    payments: {
      object: "list",
      data: [],
      has_more: false,
      url: `/v1/invoice_payments?invoice=${id}`,
    },
    period_end: input.period.end,
    period_start: input.period.start,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: "draft",
    status_transitions: {
      finalized_at: null,
      marked_uncollectible_at: null,
      paid_at: null,
      voided_at: null,
    },
    subtotal: total,
    subtotal_excluding_tax: total,
    test_clock: subscription.test_clock,
    total,
    total_discount_amounts: [],
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
  subscription.latest_invoice = id;
  return ctx.partition.insert(ctx.partition.invoices, id, invoice);
}

function buildLine(
  ctx: Context,
  invoiceId: string,
  subscription: Stripe.Subscription,
  line: InvoiceLine,
  now: number,
): Stripe.InvoiceLineItem {
  const amount = line.free ? 0 : unitAmountOf(line.price) * line.quantity;
  const item = line.subscriptionItem;
  const product = ctx.partition.products.get(line.price.product as string);
  return {
    id: newId("il"),
    object: "line_item",
    amount,
    currency: line.price.currency,
    description: line.free
      ? `Trial period for ${product?.name ?? "Item"}`
      : `${line.quantity} × ${product?.name ?? "Item"}`,
    discount_amounts: [],
    discountable: true,
    discounts: [],
    invoice: invoiceId,
    livemode: ctx.livemode,
    metadata: {},
    parent: {
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: null,
        proration: false,
        proration_details: { credited_items: null },
        subscription: subscription.id,
        subscription_item: item?.id ?? "",
      },
      type: "subscription_item_details",
    },
    period: item
      ? { start: item.current_period_start, end: item.current_period_end }
      : { start: now, end: now },
    pretax_credit_amounts: [],
    pricing: {
      price_details: { price: line.price.id, product: line.price.product as string },
      type: "price_details",
      unit_amount_decimal: line.price.unit_amount_decimal,
    },
    quantity: line.quantity,
    quantity_decimal: wireDecimal(String(line.quantity)),
    subscription: subscription.id,
    subtotal: amount,
    taxes: [],
  };
}

/** draft → open, with a number from the customer's invoice sequence. */
export function finalizeInvoice(ctx: Context, invoice: Stripe.Invoice): void {
  const customer = ctx.partition.customers.get(invoice.customer as string);
  const sequence = customer?.next_invoice_sequence ?? 1;
  if (customer) customer.next_invoice_sequence = sequence + 1;
  const now = ctx.now();
  invoice.status = "open";
  invoice.number = `${customer?.invoice_prefix ?? "EMU"}-${String(sequence).padStart(4, "0")}`;
  invoice.effective_at = now;
  invoice.status_transitions.finalized_at = now;
  ctx.emit("invoice.finalized", invoice);
}

/** Links the PaymentIntent that pays the invoice, as `invoice.payments` does in Stripe. */
export function attachPayment(
  ctx: Context,
  invoice: Stripe.Invoice,
  paymentIntent: Stripe.PaymentIntent,
): void {
  const payment: Stripe.InvoicePayment = {
    id: newId("inpay"),
    object: "invoice_payment",
    amount_paid: null,
    amount_requested: invoice.amount_remaining,
    created: ctx.now(),
    currency: invoice.currency,
    invoice: invoice.id,
    is_default: true,
    livemode: ctx.livemode,
    payment: { payment_intent: paymentIntent.id, type: "payment_intent" },
    status: "open",
    status_transitions: { canceled_at: null, paid_at: null },
  };
  for (const previous of invoice.payments?.data ?? []) previous.is_default = false;
  invoice.payments?.data.unshift(payment);
  // What a front end confirms the invoice's payment with (Stripe.js `confirmPayment`).
  invoice.confirmation_secret = {
    client_secret: paymentIntent.client_secret ?? "",
    type: "payment_intent",
  };
}

export function markInvoicePaid(ctx: Context, invoice: Stripe.Invoice): void {
  const now = ctx.now();
  const payment = invoice.payments?.data[0];
  if (payment) {
    payment.status = "paid";
    payment.amount_paid = payment.amount_requested;
    payment.status_transitions.paid_at = now;
    ctx.emit("invoice_payment.paid", payment);
  }
  invoice.status = "paid";
  invoice.attempted = true;
  invoice.attempt_count += 1;
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.next_payment_attempt = null;
  invoice.status_transitions.paid_at = now;
  ctx.emit("invoice.paid", invoice);
  ctx.emit("invoice.payment_succeeded", invoice);
}

/** The payment needs the buyer's 3-D Secure step before it can go on. */
export function markInvoiceActionRequired(ctx: Context, invoice: Stripe.Invoice): void {
  invoice.attempted = true;
  invoice.attempt_count += 1;
  ctx.emit("invoice.payment_action_required", invoice);
}

export function markInvoicePaymentFailed(ctx: Context, invoice: Stripe.Invoice): void {
  invoice.attempted = true;
  invoice.attempt_count += 1;
  invoice.next_payment_attempt = ctx.now() + RETRY_AFTER_SECONDS;
  ctx.emit("invoice.payment_failed", invoice);
}

function subscriptionOf(invoice: Stripe.Invoice): string | null {
  const subscription = invoice.parent?.subscription_details?.subscription;
  return typeof subscription === "string" ? subscription : subscription?.id ?? null;
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "customer", "status", "subscription"],
  ignored: ["collection_method", "created", "customer_account", "due_date"],
};

function listInvoices(ctx: Context, params: ParamReader) {
  const customer = params.string("customer");
  const subscription = params.string("subscription");
  const status = params.oneOf(
    "status",
    ["draft", "open", "paid", "uncollectible", "void"] as const,
  );
  return [...ctx.partition.invoices.values()].filter((invoice) =>
    (customer === undefined || invoice.customer === customer) &&
    (subscription === undefined || subscriptionOf(invoice) === subscription) &&
    (status === undefined || invoice.status === status)
  );
}

/** Every invoice payment, newest invoice first, newest payment first within an invoice. */
function allInvoicePayments(ctx: Context): Stripe.InvoicePayment[] {
  return [...ctx.partition.invoices.values()].reverse()
    .flatMap((invoice) => invoice.payments?.data ?? []);
}

export function findInvoicePayment(ctx: Context, id: string): Stripe.InvoicePayment | undefined {
  return allInvoicePayments(ctx).find((payment) => payment.id === id);
}

const PAYMENT_LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "invoice", "status"],
  nested: { payment: { read: ["payment_intent", "type"], ignored: ["payment_record"] } },
  ignored: ["created"],
};

function listInvoicePayments(ctx: Context, params: ParamReader) {
  const invoice = params.string("invoice");
  const status = params.oneOf("status", ["canceled", "open", "paid"] as const);
  const paymentIntent = params.object("payment")?.string("payment_intent");
  const payments = allInvoicePayments(ctx).filter((payment) =>
    (invoice === undefined || payment.invoice === invoice) &&
    (status === undefined || payment.status === status) &&
    (paymentIntent === undefined || payment.payment.payment_intent === paymentIntent)
  );
  const order = new Map(payments.map((payment, index) => [payment.id, index]));
  const list = paginate(payments, params, "/v1/invoice_payments", (id) => order.get(id));
  return expand(ctx.partition, list, params.expand());
}

/** `GET /v1/invoice_payments/{id}`: only `expand`. */
const PAYMENT_RETRIEVE_PARAMS: ParamSpec = {};

function retrieveInvoicePayment(ctx: Context, params: ParamReader, path: PathParams) {
  const payment = findInvoicePayment(ctx, path.id);
  if (!payment) throw noSuch("invoice_payment", path.id);
  return expand(ctx.partition, payment, params.expand());
}

export const invoiceRoutes = [
  endpoint("GET", "/v1/invoice_payments", PAYMENT_LIST_PARAMS, listInvoicePayments),
  endpoint("GET", "/v1/invoice_payments/{id}", PAYMENT_RETRIEVE_PARAMS, retrieveInvoicePayment),
  ...collection("/v1/invoices", { list: [LIST_PARAMS, listInvoices], find: findInvoice }),
];
