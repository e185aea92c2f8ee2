/**
 * `trigger`: runs the real flow that produces an event, like the Stripe CLI's fixtures — API
 * requests and buyer actions in one account, so every event on the way is emitted and
 * delivered to that account's webhook endpoints. The list of fixtures is the one list the
 * control, the CLI and the README name.
 */
import { callApi } from "./api.ts";
import type { Context } from "./context.ts";
import type { FormObject } from "./form.ts";
import { completeCheckoutSession } from "./resources/checkout_sessions.ts";
import { renewSubscription } from "./billing.ts";

type Json = Record<string, unknown>;

interface Fixture {
  description: string;
  run: (flow: Flow) => void;
}

/** The steps fixtures are made of, each a real API request or buyer action. */
class Flow {
  constructor(readonly ctx: Context) {}

  api(method: string, path: string, params: FormObject = {}): Json {
    return callApi(this.ctx, method, path, params);
  }

  customer(): Json {
    return this.api("POST", "/v1/customers", { email: "trigger@example.com" });
  }

  product(): Json {
    return this.api("POST", "/v1/products", { name: "Trigger product" });
  }

  price(recurring: boolean): Json {
    const product = this.product();
    return this.api("POST", "/v1/prices", {
      product: String(product.id),
      currency: "usd",
      unit_amount: recurring ? "1500" : "2000",
      ...(recurring ? { recurring: { interval: "month" } } : {}),
    });
  }

  checkout(mode: "payment" | "subscription"): string {
    const price = this.price(mode === "subscription");
    const session = this.api("POST", "/v1/checkout/sessions", {
      mode,
      line_items: { "0": { price: String(price.id), quantity: "1" } },
      success_url: "https://example.com/success",
      cancel_url: "https://example.com/cancel",
    });
    return String(session.id);
  }

  buyerPays(sessionId: string, outcome: Parameters<typeof completeCheckoutSession>[2]): void {
    const record = this.ctx.partition.checkoutSessions.get(sessionId);
    if (record) completeCheckoutSession(this.ctx, record, outcome, { email: "buyer@example.com" });
  }

  /** A payment-mode session paid by bank debit, which then settles or bounces. */
  bankDebit(outcome: "async_succeeded" | "async_failed"): void {
    const session = this.checkout("payment");
    this.buyerPays(session, "async_pending");
    this.buyerPays(session, outcome);
  }

  /** A PaymentIntent for $20 confirmed with `card` (a test PaymentMethod). */
  cardPayment(card: string): Json {
    return this.api("POST", "/v1/payment_intents", {
      amount: "2000",
      currency: "usd",
      payment_method: card,
      confirm: "true",
    });
  }

  /** A customer paying by `card` (a test PaymentMethod) with a monthly subscription. */
  subscription(card = "pm_card_visa"): Json {
    const customer = this.api("POST", "/v1/customers", {
      email: "subscriber@example.com",
      payment_method: card,
      invoice_settings: { default_payment_method: card },
    });
    const price = this.price(true);
    return this.api("POST", "/v1/subscriptions", {
      customer: String(customer.id),
      items: { "0": { price: String(price.id) } },
    });
  }
}

export const TRIGGERS: Readonly<Record<string, Fixture>> = {
  "checkout.session.completed": {
    description: "a buyer pays a payment-mode Checkout Session by card",
    run: (flow) => flow.buyerPays(flow.checkout("payment"), "paid"),
  },
  "checkout.session.async_payment_succeeded": {
    description: "a bank debit from Checkout settles",
    run: (flow) => flow.bankDebit("async_succeeded"),
  },
  "checkout.session.async_payment_failed": {
    description: "a bank debit from Checkout bounces",
    run: (flow) => flow.bankDebit("async_failed"),
  },
  "checkout.session.expired": {
    description: "an open Checkout Session is expired",
    run: (flow) => flow.api("POST", `/v1/checkout/sessions/${flow.checkout("payment")}/expire`),
  },
  "customer.created": {
    description: "a customer is created",
    run: (flow) => flow.customer(),
  },
  "customer.updated": {
    description: "a customer's name changes",
    run: (flow) =>
      flow.api("POST", `/v1/customers/${flow.customer().id}`, { name: "Renamed customer" }),
  },
  "customer.subscription.created": {
    description: "a subscription is created and paid by card",
    run: (flow) => flow.subscription(),
  },
  "customer.subscription.updated": {
    description: "a subscription is set to cancel at period end",
    run: (flow) => {
      const subscription = flow.subscription();
      flow.api("POST", `/v1/subscriptions/${subscription.id}`, {
        cancel_at_period_end: "true",
      });
    },
  },
  "customer.subscription.deleted": {
    description: "a subscription is canceled",
    run: (flow) => flow.api("DELETE", `/v1/subscriptions/${flow.subscription().id}`),
  },
  "invoice.paid": {
    description: "a subscription's first invoice is paid by card",
    run: (flow) => flow.subscription(),
  },
  "invoice.payment_succeeded": {
    description: "a subscription renews and its card pays",
    run: (flow) => {
      const subscription = flow.subscription();
      const stored = flow.ctx.partition.subscriptions.get(String(subscription.id));
      if (stored) renewSubscription(flow.ctx, stored);
    },
  },
  "invoice.payment_failed": {
    description: "a subscription's card (4000 0000 0000 0341) declines its first invoice",
    run: (flow) => flow.subscription("pm_card_chargeCustomerFail"),
  },
  "payment_intent.succeeded": {
    description: "a PaymentIntent is confirmed with 4242 4242 4242 4242",
    run: (flow) => flow.cardPayment("pm_card_visa"),
  },
  "payment_intent.payment_failed": {
    description: "a PaymentIntent is confirmed with a declined card",
    run: (flow) => {
      try {
        flow.cardPayment("pm_card_chargeDeclined");
      } catch {
        // The decline is the point: its events are already emitted.
      }
    },
  },
  "charge.refunded": {
    description: "a card payment is refunded in full",
    run: (flow) =>
      flow.api("POST", "/v1/refunds", {
        payment_intent: String(flow.cardPayment("pm_card_visa").id),
      }),
  },
  "product.created": {
    description: "a product is created",
    run: (flow) => flow.product(),
  },
  "product.updated": {
    description: "a product is renamed",
    run: (flow) =>
      flow.api("POST", `/v1/products/${flow.product().id}`, { name: "Renamed product" }),
  },
  "price.created": {
    description: "a product and a price are created",
    run: (flow) => flow.price(false),
  },
  "price.updated": {
    description: "a price is archived",
    run: (flow) => flow.api("POST", `/v1/prices/${flow.price(false).id}`, { active: "false" }),
  },
};

export interface TriggerResult {
  trigger: string;
  description: string;
  /** Every event the flow emitted, oldest first. */
  events: { id: string; type: string }[];
}

/** Runs the fixture for `event`; the caller checks the name against `TRIGGERS`. */
export function runTrigger(ctx: Context, event: string): TriggerResult {
  const fixture = TRIGGERS[event];
  const before = new Set(ctx.partition.events.keys());
  fixture.run(new Flow(ctx));
  const events = [...ctx.partition.events.values()]
    .filter((candidate) => !before.has(candidate.id))
    .map((candidate) => ({ id: candidate.id, type: candidate.type }));
  return { trigger: event, description: fixture.description, events };
}
