/**
 * `POST /_emulator/seed`: a large account in one call — customers, subscriptions, paid invoices
 * and one-off payments — written straight into the store. Seeded objects are history: they emit
 * no events and deliver no webhooks, as an account's past holds objects whose events are gone.
 */
import type Stripe from "stripe";
import { Context } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import { ParamReader } from "./params.ts";
import { buildPrice, buildProduct } from "./resources/catalog.ts";
import { insertCustomer } from "./resources/customers.ts";
import {
  attachPayment,
  finalizeInvoice,
  insertInvoice,
  markInvoicePaid,
} from "./resources/invoices.ts";
import { openPaymentIntent } from "./resources/payment_intents.ts";
import { insertSubscription } from "./resources/subscriptions.ts";
import type { EmulatorEvent, Partition } from "./store.ts";
import type { WebhookDispatcher } from "./webhooks.ts";

export const SEED_COUNTS = ["customers", "subscriptions", "invoices", "payments"] as const;
export type SeedCounts = Record<(typeof SEED_COUNTS)[number], number>;

/** Enough for the benchmark's largest account, small enough to keep one emulator responsive. */
export const MAX_SEEDED_OBJECTS = 2_000_000;

/** The resources' own builders, with events switched off. */
class SilentContext extends Context {
  override emit(type: string, object: object): EmulatorEvent {
    return {
      id: "evt_seeded",
      object: "event",
      api_version: "",
      created: this.now(),
      data: { object },
      livemode: this.livemode,
      pending_webhooks: 0,
      request: { id: null, idempotency_key: null },
      type,
    };
  }
}

export function readSeedCounts(body: Record<string, unknown>): SeedCounts {
  const counts = {} as SeedCounts;
  for (const name of SEED_COUNTS) {
    const value = body[name] ?? 0;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw invalidRequest(`Invalid ${name}: a whole number of at least 0.`, name);
    }
    counts[name] = value;
  }
  const unknown = Object.keys(body).filter((key) =>
    key !== "api_key" && !(SEED_COUNTS as readonly string[]).includes(key)
  );
  if (unknown.length > 0) {
    throw invalidRequest(`Received unknown parameter: ${unknown[0]}`, unknown[0]);
  }
  if ((counts.subscriptions > 0 || counts.invoices > 0) && counts.customers === 0) {
    throw invalidRequest("Subscriptions and invoices need customers: set customers.", "customers");
  }
  if (counts.invoices > 0 && counts.subscriptions === 0) {
    throw invalidRequest("Invoices bill subscriptions: set subscriptions.", "subscriptions");
  }
  const total = SEED_COUNTS.reduce((sum, name) => sum + counts[name], 0);
  if (total > MAX_SEEDED_OBJECTS) {
    throw invalidRequest(`At most ${MAX_SEEDED_OBJECTS} objects per seed (asked for ${total}).`);
  }
  return counts;
}

/**
 * Subscriptions go to customers in turn, invoices to subscriptions in turn (each paid by its own
 * PaymentIntent, so it is a payment too); `payments` are one-off PaymentIntents that succeeded.
 */
export function seedAccount(
  partition: Partition,
  publicUrl: string,
  webhooks: WebhookDispatcher,
  counts: SeedCounts,
): SeedCounts & { product: string; price: string } {
  const ctx = new SilentContext(partition, publicUrl, webhooks);
  const product = buildProduct(ctx, new ParamReader({ name: "Seeded plan" }));
  const price = buildPrice(
    ctx,
    new ParamReader({ currency: "usd", unit_amount: "1500", recurring: { interval: "month" } }),
    product.id,
  );
  const customers: Stripe.Customer[] = [];
  for (let i = 0; i < counts.customers; i++) {
    customers.push(insertCustomer(ctx, {
      email: `seeded-${i}@example.com`,
      name: `Seeded customer ${i}`,
      phone: null,
      description: null,
      metadata: {},
    }));
  }
  const subscriptions: Stripe.Subscription[] = [];
  for (let i = 0; i < counts.subscriptions; i++) {
    subscriptions.push(insertSubscription(ctx, {
      customer: customers[i % customers.length],
      lines: [{ price, quantity: 1 }],
      metadata: {},
      description: null,
      status: "active",
      defaultPaymentMethod: null,
      trialEnd: null,
    }));
  }
  for (let i = 0; i < counts.invoices; i++) {
    const subscription = subscriptions[i % subscriptions.length];
    const customer = partition.customers.get(subscription.customer as string)!;
    const item = subscription.items.data[0];
    const invoice = insertInvoice(ctx, {
      customer,
      subscription,
      lines: [{ price, quantity: 1, subscriptionItem: item, free: false }],
      billingReason: "subscription_cycle",
      period: { start: item.current_period_start, end: item.current_period_end },
    });
    finalizeInvoice(ctx, invoice);
    const paymentIntent = succeeded(ctx, invoice.amount_due, customer.id, `Invoice ${invoice.id}`);
    attachPayment(ctx, invoice, paymentIntent);
    markInvoicePaid(ctx, invoice);
  }
  for (let i = 0; i < counts.payments; i++) {
    succeeded(ctx, 1000 + (i % 9000), customers[i % customers.length]?.id ?? null, null);
  }
  return { ...counts, product: product.id, price: price.id };
}

function succeeded(
  ctx: Context,
  amount: number,
  customer: string | null,
  description: string | null,
): Stripe.PaymentIntent {
  const paymentIntent = openPaymentIntent(ctx, {
    amount,
    currency: "usd",
    customer,
    metadata: {},
    description,
    receiptEmail: null,
    paymentMethod: null,
  });
  paymentIntent.status = "succeeded";
  paymentIntent.amount_received = amount;
  paymentIntent.payment_method_types = ["card"];
  return paymentIntent;
}
