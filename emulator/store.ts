/**
 * In-memory state. Data is partitioned by Stripe account and mode, so a test key never sees
 * live objects and two accounts never see each other's objects.
 */
import { deserialize, serialize } from "node:v8";
import type Stripe from "stripe";
import type { TestCard } from "./cards.ts";

/** What Checkout needs to remember beyond the public session object. */
export interface CheckoutSessionRecord {
  session: Stripe.Checkout.Session;
  lineItems: Stripe.LineItem[];
  subscriptionData: {
    metadata: Stripe.Metadata;
    description: string | null;
    trialPeriodDays: number | null;
  };
  paymentIntentData: { metadata: Stripe.Metadata; description: string | null };
  /** What the hosted page shows after a declined card or a failed 3-D Secure step. */
  lastError: string | null;
}

/** A PaymentMethod and the test card behind it (none for bank debits). */
export interface PaymentMethodRecord {
  paymentMethod: Stripe.PaymentMethod;
  card: TestCard | null;
}

/** What a PaymentIntent waiting for 3-D Secure belongs to. */
export interface PendingAuthentication {
  kind: "invoice" | "checkout" | "payment_intent";
  id: string;
}

/** The signing secret is kept beside the endpoint: Stripe returns it only on create. */
export interface WebhookEndpointRecord {
  endpoint: Stripe.WebhookEndpoint;
  secret: string;
}

export interface EventRequest {
  id: string | null;
  idempotency_key: string | null;
}

export interface EmulatorEvent {
  id: string;
  object: "event";
  api_version: string;
  created: number;
  data: { object: unknown; previous_attributes?: Record<string, unknown> };
  livemode: boolean;
  pending_webhooks: number;
  request: EventRequest;
  type: string;
}

export interface IdempotencyRecord {
  fingerprint: string;
  status: number;
  body: string;
}

export class Partition {
  readonly products = new Map<string, Stripe.Product>();
  readonly prices = new Map<string, Stripe.Price>();
  readonly customers = new Map<string, Stripe.Customer>();
  readonly deletedCustomers = new Map<string, Stripe.DeletedCustomer>();
  readonly checkoutSessions = new Map<string, CheckoutSessionRecord>();
  readonly portalSessions = new Map<string, Stripe.BillingPortal.Session>();
  readonly subscriptions = new Map<string, Stripe.Subscription>();
  readonly invoices = new Map<string, Stripe.Invoice>();
  readonly paymentIntents = new Map<string, Stripe.PaymentIntent>();
  readonly charges = new Map<string, Stripe.Charge>();
  readonly refunds = new Map<string, Stripe.Refund>();
  readonly paymentMethods = new Map<string, PaymentMethodRecord>();
  readonly testClocks = new Map<string, Stripe.TestHelpers.TestClock>();
  /** Trialing subscriptions already warned with `customer.subscription.trial_will_end`. */
  readonly trialWarnings = new Set<string>();
  readonly webhookEndpoints = new Map<string, WebhookEndpointRecord>();
  readonly events = new Map<string, EmulatorEvent>();
  readonly idempotency = new Map<string, IdempotencyRecord>();
  /** PaymentIntents waiting for 3-D Secure, and what their success completes. */
  readonly authentications = new Map<string, PendingAuthentication>();
  readonly idempotencyInFlight = new Set<string>();

  // Creation order for list pagination: objects created in one second share `created`.
  private readonly order = new Map<string, number>();
  private nextPosition = 0;

  constructor(readonly accountId: string, readonly livemode: boolean) {}

  insert<T>(table: Map<string, T>, id: string, value: T): T {
    table.set(id, value);
    this.order.set(id, this.nextPosition++);
    return value;
  }

  position(id: string): number | undefined {
    return this.order.get(id);
  }

  /** Resolves any id to its public object, for `expand[]`. */
  lookup(id: string): object | undefined {
    const prefix = id.slice(0, id.indexOf("_"));
    switch (prefix) {
      case "cus":
        return this.customers.get(id) ?? this.deletedCustomers.get(id);
      case "cs":
        return this.checkoutSessions.get(id)?.session;
      case "inpay":
        return [...this.invoices.values()].flatMap((invoice) => invoice.payments?.data ?? [])
          .find((payment) => payment.id === id);
      case "pm":
        return this.paymentMethods.get(id)?.paymentMethod;
      case "we":
        return this.webhookEndpoints.get(id)?.endpoint;
      default:
        return this.publicTables()[prefix]?.get(id);
    }
  }

  /** The tables that hold public objects as they are, by their ids' prefix. */
  private publicTables(): Record<string, Map<string, object>> {
    return {
      prod: this.products,
      price: this.prices,
      bps: this.portalSessions,
      sub: this.subscriptions,
      in: this.invoices,
      pi: this.paymentIntents,
      ch: this.charges,
      re: this.refunds,
      clock: this.testClocks,
      evt: this.events,
    };
  }
}

/** Bumped when a snapshot's layout changes, so an older file is refused instead of misread. */
const SNAPSHOT_FORMAT = 1;

export class Store {
  private readonly partitions = new Map<string, Partition>();
  /** Every `/v1` request waits this long before it runs (the latency control). */
  latencyMs = 0;

  partition(accountId: string, livemode: boolean): Partition {
    const key = `${accountId}:${livemode ? "live" : "test"}`;
    let partition = this.partitions.get(key);
    if (!partition) {
      partition = new Partition(accountId, livemode);
      this.partitions.set(key, partition);
    }
    return partition;
  }

  /** Hosted pages and test controls carry no API key: they find an object by id alone. */
  locate<T>(
    table: (partition: Partition) => Map<string, T>,
    id: string,
  ): { partition: Partition; value: T } | undefined {
    for (const partition of this.partitions.values()) {
      const value = table(partition).get(id);
      if (value !== undefined) return { partition, value };
    }
    return undefined;
  }

  /** Every account and mode that has been used so far. */
  all(): Partition[] {
    return [...this.partitions.values()];
  }

  reset(): void {
    this.partitions.clear();
    this.latencyMs = 0;
  }

  /**
   * Every partition's own fields, so a table added to Partition is saved with no change here.
   * V8's structured-clone format keeps Maps and Sets, and objects shared between tables (a
   * refund in its charge's list) come back shared. Requests in flight are not state.
   */
  snapshot(): Uint8Array {
    const partitions = this.all().map((partition) => {
      const { idempotencyInFlight: _inFlight, ...fields } = partition;
      return fields;
    });
    return serialize({ format: SNAPSHOT_FORMAT, partitions });
  }

  /** Replaces everything with a snapshot's contents. */
  restore(snapshot: Uint8Array): void {
    const data = deserialize(snapshot);
    if (data?.format !== SNAPSHOT_FORMAT || !Array.isArray(data.partitions)) {
      throw new Error(`not an emulator snapshot of format ${SNAPSHOT_FORMAT}`);
    }
    this.reset();
    for (const fields of data.partitions) {
      Object.assign(this.partition(fields.accountId, fields.livemode), fields);
    }
  }
}
