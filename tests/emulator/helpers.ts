/** Shared setup for the emulator tests: a running emulator, SDK clients, a webhook receiver. */
import Stripe from "stripe";
import { type RunningEmulator, startEmulator } from "../../emulator/server.ts";

export const TEST_KEY = "sk_test_emulator";
export const LIVE_KEY = "sk_live_emulator";

/**
 * Starts an emulator on a free port with fast retries, hands it to `fn` with a test-mode SDK
 * client for it, and always stops it.
 */
export async function withEmulator(
  fn: (emulator: RunningEmulator, stripe: Stripe) => Promise<void>,
): Promise<void> {
  const emulator = await startEmulator({ port: 0, webhookRetryDelaysMs: [10, 20] });
  try {
    await fn(emulator, stripeClient(emulator));
  } finally {
    await emulator.stop();
  }
}

/** What `test` hands each test. */
export interface EmulatorFixture {
  emulator: RunningEmulator;
  /** A test-mode SDK client for `emulator`. */
  stripe: Stripe;
}

/** `Deno.test` with a fresh emulator that always stops (see `withEmulator`). */
export function test(name: string, fn: (fixture: EmulatorFixture) => Promise<void>): void {
  Deno.test(name, () => withEmulator((emulator, stripe) => fn({ emulator, stripe })));
}

export function stripeClient(emulator: RunningEmulator, key = TEST_KEY): Stripe {
  return new Stripe(key, {
    host: "127.0.0.1",
    port: emulator.port,
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 0,
  });
}

/** The newest event's id: a mark for `typesSince`. */
export async function lastEventId(stripe: Stripe): Promise<string | undefined> {
  return (await stripe.events.list({ limit: 1 })).data[0]?.id;
}

/** The types of the events after `eventId` (of all events without it), oldest first. */
export async function typesSince(stripe: Stripe, eventId?: string): Promise<string[]> {
  const events = await stripe.events.list({ limit: 100, ending_before: eventId });
  return events.data.map((event) => event.type).reverse();
}

/** The types of the events `action` causes, oldest first. */
export async function typesDuring(
  stripe: Stripe,
  action: () => Promise<unknown>,
): Promise<string[]> {
  const mark = await lastEventId(stripe);
  await action();
  return await typesSince(stripe, mark);
}

/** The types of the events completing Checkout Session `sessionId` with `outcome` emits. */
export function typesCompleting(
  emulator: RunningEmulator,
  stripe: Stripe,
  sessionId: string,
  outcome?: string,
): Promise<string[]> {
  return typesDuring(stripe, () => completeSession(emulator, sessionId, outcome));
}

/** What paying an invoice by card emits, in Stripe's order. */
export const INVOICE_PAID_BY_CARD = [
  "invoice.created",
  "invoice.finalized",
  "payment_intent.created",
  "charge.succeeded",
  "payment_intent.succeeded",
  "invoice_payment.paid",
  "invoice.paid",
  "invoice.payment_succeeded",
];

/** Runs `promise` expecting a Stripe error and returns it. */
export async function stripeError(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError) return error;
    throw error;
  }
  throw new Error("Expected the Stripe call to fail");
}

export interface ReceivedWebhook {
  body: string;
  signature: string;
  contentType: string;
}

export interface Receiver {
  url: string;
  received: ReceivedWebhook[];
  /** Waits until `predicate` holds for the webhooks received so far. */
  waitFor(predicate: (received: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A webhook receiver on a free port. `respond` picks the status for each request (by its
 * 0-based index); the default accepts everything.
 */
export async function startReceiver(
  respond: (index: number, webhook: ReceivedWebhook) => number | Promise<number> = () => 200,
): Promise<Receiver> {
  const received: ReceivedWebhook[] = [];
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: (address) => listening.resolve(address),
  }, async (request) => {
    const webhook = {
      body: await request.text(),
      signature: request.headers.get("stripe-signature") ?? "",
      contentType: request.headers.get("content-type") ?? "",
    };
    const index = received.length;
    received.push(webhook);
    return new Response(null, { status: await respond(index, webhook) });
  });
  const { port } = await listening.promise;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    received,
    async waitFor(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) {
          throw new Error(`Timed out waiting for webhooks; got ${received.length}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    stop: () => server.shutdown(),
  };
}

/**
 * A receiver and a webhook endpoint for it (every event unless `enabledEvents` narrows it),
 * handed to `fn`; the receiver always stops.
 */
export async function withListener(
  stripe: Stripe,
  fn: (receiver: Receiver, endpoint: Stripe.WebhookEndpoint) => Promise<void>,
  options: {
    enabledEvents?: Stripe.WebhookEndpointCreateParams.EnabledEvent[];
    respond?: Parameters<typeof startReceiver>[0];
  } = {},
): Promise<void> {
  const receiver = await startReceiver(options.respond);
  try {
    const endpoint = await stripe.webhookEndpoints.create({
      url: receiver.url,
      enabled_events: options.enabledEvents ?? ["*"],
    });
    await fn(receiver, endpoint);
  } finally {
    await receiver.stop();
  }
}

/** The event `webhook` carries, once its signature checks out with `endpoint`'s secret. */
export function verifiedEvent(
  stripe: Stripe,
  webhook: ReceivedWebhook,
  endpoint: Stripe.WebhookEndpoint,
): Promise<Stripe.Event> {
  return stripe.webhooks.constructEventAsync(webhook.body, webhook.signature, endpoint.secret!);
}

export function eventTypes(received: ReceivedWebhook[]): string[] {
  return received.map((webhook) => JSON.parse(webhook.body).type);
}

export interface PriceOptions {
  unitAmount?: number;
  /** Monthly unless `false`. */
  recurring?: boolean;
  /** The new product's name. */
  name?: string;
}

/** Creates a product with a monthly (or one-time) price. */
export async function createPrice(
  stripe: Stripe,
  options: PriceOptions = {},
): Promise<Stripe.Price> {
  const product = await stripe.products.create({ name: options.name ?? "Pro plan" });
  return await stripe.prices.create({
    product: product.id,
    currency: "usd",
    unit_amount: options.unitAmount ?? 1500,
    ...(options.recurring === false ? {} : { recurring: { interval: "month" } }),
  });
}

/**
 * An open session for `quantity` of `price`, in the mode the price calls for (subscription for a
 * recurring one), with `params` on top.
 */
export async function sessionFor(
  stripe: Stripe,
  price: Stripe.Price,
  params: Partial<Stripe.Checkout.SessionCreateParams> = {},
  quantity = 1,
): Promise<Stripe.Checkout.Session> {
  return await stripe.checkout.sessions.create({
    mode: price.type === "recurring" ? "subscription" : "payment",
    line_items: [{ price: price.id, quantity }],
    ...params,
  });
}

/**
 * An open session for a new price: monthly in subscription mode (the default), one-time in
 * payment mode. `item` sets the price's amount and product name, and the quantity bought.
 */
export async function openSession(
  stripe: Stripe,
  params: Partial<Stripe.Checkout.SessionCreateParams> = {},
  item: Omit<PriceOptions, "recurring"> & { quantity?: number } = {},
): Promise<Stripe.Checkout.Session> {
  const price = await createPrice(stripe, { ...item, recurring: params.mode !== "payment" });
  return await sessionFor(stripe, price, params, item.quantity);
}

/** A customer whose default payment method is the test PaymentMethod `card` (`pm_card_visa`, ...). */
export async function customerPayingBy(
  stripe: Stripe,
  card: string,
  params: Stripe.CustomerCreateParams = {},
): Promise<Stripe.Customer> {
  return await stripe.customers.create({
    ...params,
    payment_method: card,
    invoice_settings: { default_payment_method: card },
  });
}

/** An open payment-mode session for one unit of a new one-time price, with `params` on top. */
export function openPaymentSession(
  stripe: Stripe,
  params: Partial<Stripe.Checkout.SessionCreateParams> = {},
): Promise<Stripe.Checkout.Session> {
  return openSession(stripe, { mode: "payment", ...params });
}

/**
 * A subscription bought through Checkout paid by the default test card: the completed session,
 * which names its `customer`, `subscription` and `invoice`.
 */
export async function buySubscription(
  emulator: RunningEmulator,
  stripe: Stripe,
  params: Partial<Stripe.Checkout.SessionCreateParams> = {},
  item: Omit<PriceOptions, "recurring"> = {},
): Promise<Stripe.Checkout.Session> {
  const session = await openSession(stripe, params, item);
  await completeSession(emulator, session.id);
  return await stripe.checkout.sessions.retrieve(session.id);
}

/** POSTs `body` to the test control at `/_emulator/{path}`. */
export async function postControl(
  emulator: RunningEmulator,
  path: string,
  body: unknown = {},
): Promise<Response> {
  return await fetch(`${emulator.url}/_emulator/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Completes a Checkout Session through the test control. */
export async function completeSession(
  emulator: RunningEmulator,
  sessionId: string,
  outcome = "paid",
): Promise<void> {
  const response = await postControl(emulator, `checkout/sessions/${sessionId}/complete`, {
    outcome,
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`Completing ${sessionId} failed: ${body}`);
}

/** Fetches a hosted page, finds the form with `formId`, and submits it like a browser. */
export async function submitForm(
  pageUrl: string,
  formSelector: { id?: string; buttonText?: string },
  fields: Record<string, string> = {},
): Promise<Response> {
  const html = await (await fetch(pageUrl)).text();
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)];
  const form = forms.find(([, attributes, inner]) =>
    (formSelector.id === undefined || attributes.includes(`id="${formSelector.id}"`)) &&
    (formSelector.buttonText === undefined || inner.includes(`>${formSelector.buttonText}<`))
  );
  if (!form) throw new Error(`No matching form on ${pageUrl}`);
  const action = /action="([^"]*)"/.exec(form[1])?.[1] ?? "";
  const values = new URLSearchParams();
  for (const input of form[2].matchAll(/<(?:input|select)\b([^>]*)>/g)) {
    const name = /\bname="([^"]*)"/.exec(input[1])?.[1];
    const value = /\bvalue="([^"]*)"/.exec(input[1])?.[1] ?? "";
    if (name) values.set(name, value.replaceAll("&amp;", "&").replaceAll("&quot;", '"'));
  }
  for (const [name, value] of Object.entries(fields)) values.set(name, value);
  return await fetch(new URL(action.replaceAll("&amp;", "&"), pageUrl), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: values,
    redirect: "manual",
  });
}
