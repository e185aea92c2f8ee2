/**
 * Checkout Sessions: create (payment and subscription mode), retrieve, list, expire, line items;
 * and completion, which creates what Stripe creates when a buyer pays.
 */
import type Stripe from "stripe";
import {
  collectInvoice,
  invoicePaymentAuthenticated,
  settleBankDebit,
  settleFirstPayment,
  startSubscription,
} from "../billing.ts";
import { attachDecline, DEFAULT_TEST_CARD, type TestCard } from "../cards.ts";
import type { Context } from "../context.ts";
import { invalidRequest, missingParam, orNoSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newCheckoutSessionId, newId, randomToken } from "../ids.ts";
import { newestFirst, paginate } from "../pagination.ts";
import { PAGINATION, ParamReader, type ParamSpec } from "../params.ts";
import { endpoint, type PathParams } from "../router.ts";
import { collection } from "./collection.ts";
import type { CheckoutSessionRecord } from "../store.ts";
import { buildPrice, buildProduct, INLINE_RECURRING_PARAMS, unitAmountOf } from "./catalog.ts";
import { findCustomer, insertCustomer } from "./customers.ts";
import {
  confirmPaymentIntent,
  type ConfirmResult,
  findPaymentIntent,
  openPaymentIntent,
  UNEMULATED_ROUTING_PARAMS,
} from "./payment_intents.ts";
import {
  attachPaymentMethod,
  insertBankPaymentMethod,
  insertCardPaymentMethod,
} from "./payment_methods.ts";
import { setSubscriptionStatus } from "./subscriptions.ts";
import { clockTimeOf } from "./test_clocks.ts";
import { findPrice } from "./prices.ts";

export const CHECKOUT_OUTCOMES = [
  "paid",
  "async_pending",
  "async_succeeded",
  "async_failed",
] as const;
export type CheckoutOutcome = (typeof CHECKOUT_OUTCOMES)[number];

/** What the buyer typed on the hosted page. */
export interface Buyer {
  email?: string | null;
  name?: string | null;
}

const MIN_LIFETIME_SECONDS = 30 * 60;
const MAX_LIFETIME_SECONDS = 24 * 60 * 60;
const FALLBACK_EMAIL = "buyer@example.com";
const DAY_SECONDS = 24 * 60 * 60;

function findCheckoutSession(
  ctx: Context,
  id: string,
  param = "id",
): CheckoutSessionRecord {
  return orNoSuch(ctx.partition.checkoutSessions.get(id), "checkout.session", id, param);
}

/** `line_items[i]`, with an inline `price_data` (and its `product_data`) or a `price`. */
const LINE_ITEM_PARAMS: ParamSpec = {
  read: ["price", "quantity"],
  nested: {
    price_data: {
      read: ["currency", "product", "tax_behavior", "unit_amount", "unit_amount_decimal"],
      nested: {
        product_data: {
          read: ["description", "images", "metadata", "name", "tax_code", "unit_label"],
          ignored: ["tax_details"],
        },
        recurring: INLINE_RECURRING_PARAMS,
      },
    },
  },
  ignored: ["adjustable_quantity", "dynamic_tax_rates", "metadata", "tax_rates"],
};

const CREATE_PARAMS: ParamSpec = {
  read: [
    "allow_promotion_codes",
    "billing_address_collection",
    "cancel_url",
    "client_reference_id",
    "customer",
    "customer_creation",
    "customer_email",
    "expires_at",
    "locale",
    "metadata",
    "mode",
    "return_url",
    "submit_type",
    "success_url",
    "ui_mode",
  ],
  nested: {
    line_items: { each: LINE_ITEM_PARAMS },
    payment_intent_data: {
      read: ["description", "metadata"],
      ignored: [
        ...UNEMULATED_ROUTING_PARAMS,
        "capture_method",
        "receipt_email",
        "setup_future_usage",
        "shipping",
      ],
    },
    subscription_data: {
      read: ["description", "metadata", "trial_period_days"],
      ignored: [
        "application_fee_percent",
        "billing_cycle_anchor",
        "billing_cycle_anchor_config",
        "billing_mode",
        "default_tax_rates",
        "invoice_settings",
        "on_behalf_of",
        "pending_invoice_item_interval",
        "proration_behavior",
        "transfer_data",
        "trial_end",
        "trial_settings",
      ],
    },
  },
  // Taxes, discounts, shipping, custom fields, consent, payment method choice and `setup`
  // mode's data are not emulated: the hosted page always takes a card.
  ignored: [
    "adaptive_pricing",
    "after_expiration",
    "automatic_tax",
    "branding_settings",
    "consent_collection",
    "currency",
    "custom_fields",
    "custom_text",
    "customer_account",
    "customer_update",
    "discounts",
    "excluded_payment_method_types",
    "integration_identifier",
    "invoice_creation",
    "managed_payments",
    "name_collection",
    "optional_items",
    "origin_context",
    "payment_method_collection",
    "payment_method_configuration",
    "payment_method_data",
    "payment_method_options",
    "payment_method_types",
    "permissions",
    "phone_number_collection",
    "redirect_on_completion",
    "saved_payment_method_options",
    "setup_intent_data",
    "shipping_address_collection",
    "shipping_options",
    "tax_id_collection",
    "wallet_options",
  ],
};

function createSession(ctx: Context, params: ParamReader) {
  const mode = params.oneOf("mode", ["payment", "setup", "subscription"] as const);
  if (!mode) throw missingParam("mode");
  if (mode === "setup") {
    throw invalidRequest("The Stripe emulator does not support `setup` mode.", "mode");
  }
  const customerId = params.nullableString("customer") ?? null;
  const customerEmail = params.nullableString("customer_email") ?? null;
  if (customerId && customerEmail) {
    throw invalidRequest(
      "You may only specify one of these parameters: customer, customer_email.",
      "customer_email",
      "parameters_exclusive",
    );
  }
  const customer = customerId ? findCustomer(ctx, customerId, "customer") : null;
  const customerCreation = params.oneOf("customer_creation", ["always", "if_required"] as const);
  if (customerCreation && mode !== "payment") {
    throw invalidRequest(
      "`customer_creation` can only be used in `payment` mode.",
      "customer_creation",
    );
  }
  const paymentIntentData = modeOnly(params, "payment_intent_data", mode, "payment");
  const subscriptionData = modeOnly(params, "subscription_data", mode, "subscription");
  const lineItems = readLineItems(ctx, params, mode);
  // A session for a customer on a test clock lives on the clock's time.
  const request: SessionRequest = {
    mode,
    customerId,
    customerEmail,
    customerCreation,
    lineItems,
    paymentIntentData,
    subscriptionData,
  };
  return ctx.atTime(clockTimeOf(ctx, customer), () => insertSession(ctx, params, request));
}

/** What `createSession` checked; `insertSession` reads the other parameters itself. */
interface SessionRequest {
  mode: "payment" | "subscription";
  customerId: string | null;
  customerEmail: string | null;
  customerCreation: "always" | "if_required" | undefined;
  lineItems: Stripe.LineItem[];
  paymentIntentData: ParamReader | undefined;
  subscriptionData: ParamReader | undefined;
}

function insertSession(ctx: Context, params: ParamReader, request: SessionRequest) {
  const { mode, customerId, customerEmail, lineItems } = request;
  const now = ctx.now();
  const expiresAt = params.integer("expires_at") ?? now + MAX_LIFETIME_SECONDS;
  if (expiresAt < now + MIN_LIFETIME_SECONDS || expiresAt > now + MAX_LIFETIME_SECONDS) {
    throw invalidRequest(
      "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
      "expires_at",
    );
  }
  const uiMode = params.string("ui_mode") ?? "hosted_page";
  const hosted = uiMode === "hosted" || uiMode === "hosted_page";
  const returnUrl = params.nullableString("return_url");
  if (!hosted && !returnUrl) throw missingParam("return_url");
  const amount = lineItems.reduce((sum, item) => sum + item.amount_total, 0);
  const id = newCheckoutSessionId(ctx.livemode);

  const session: Stripe.Checkout.Session = {
    id,
    object: "checkout.session",
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: params.boolean("allow_promotion_codes") ?? null,
    allowed_payment_method_types: null,
    amount_subtotal: amount,
    amount_total: amount,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection:
      params.oneOf("billing_address_collection", ["auto", "required"] as const) ?? null,
    cancel_url: params.nullableString("cancel_url") ?? null,
    client_reference_id: params.nullableString("client_reference_id") ?? null,
    client_secret: hosted ? null : `${id}_secret_${randomToken(24)}`,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: now,
    currency: lineItems[0].currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    customer: customerId,
    customer_account: null,
    customer_creation: customerId
      ? null
      : mode === "payment"
      ? request.customerCreation ?? "if_required"
      : "always",
    customer_details: customerEmail ? customerDetails(customerEmail, null) : null,
    customer_email: customerEmail,
    discounts: [],
    expires_at: expiresAt,
    integration_identifier: null,
    invoice: null,
    invoice_creation: mode === "payment"
      ? {
        enabled: false,
        invoice_data: {
          account_tax_ids: null,
          custom_fields: null,
          description: null,
          footer: null,
          issuer: null,
          metadata: {},
          rendering_options: null,
        },
      }
      : null,
    livemode: ctx.livemode,
    locale: (params.string("locale") ?? null) as Stripe.Checkout.Session.Locale | null,
    managed_payments: null,
    metadata: params.metadata() ?? {},
    mode,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: "always",
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: ["card"],
    payment_status: "unpaid",
    permissions: null,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: "open",
    submit_type: params.oneOf("submit_type", ["auto", "book", "donate", "pay", "subscribe"]) ??
      null,
    subscription: null,
    success_url: params.nullableString("success_url") ?? null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: uiMode as Stripe.Checkout.Session.UiMode,
    url: hosted ? `${ctx.publicUrl}/checkout/${id}` : null,
    wallet_options: null,
    ...(returnUrl ? { return_url: returnUrl } : {}),
  };
  const record: CheckoutSessionRecord = {
    session,
    lineItems,
    subscriptionData: {
      metadata: request.subscriptionData?.metadata() ?? {},
      description: request.subscriptionData?.nullableString("description") ?? null,
      trialPeriodDays: request.subscriptionData?.integer("trial_period_days", 1, 730) ?? null,
    },
    paymentIntentData: {
      metadata: request.paymentIntentData?.metadata() ?? {},
      description: request.paymentIntentData?.nullableString("description") ?? null,
    },
    lastError: null,
  };
  ctx.partition.insert(ctx.partition.checkoutSessions, id, record);
  return present(ctx, record, params.expand());
}

/** `payment_intent_data` belongs to payment mode, `subscription_data` to subscription mode. */
function modeOnly(
  params: ParamReader,
  key: string,
  mode: string,
  allowedMode: string,
): ParamReader | undefined {
  const value = params.object(key);
  if (value && mode !== allowedMode) {
    throw invalidRequest(`You can not pass \`${key}\` in \`${mode}\` mode.`, key);
  }
  return value;
}

function readLineItems(ctx: Context, params: ParamReader, mode: string): Stripe.LineItem[] {
  const entries = params.objects("line_items");
  if (!entries || entries.length === 0) throw missingParam("line_items");
  const items = entries.map((entry) => {
    const price = readLinePrice(ctx, entry);
    if (mode === "payment" && price.type === "recurring") {
      throw invalidRequest(
        "You specified `payment` mode but passed a recurring price. Either switch to " +
          "`subscription` mode or use only one-time prices.",
        entry.name("price"),
      );
    }
    const quantity = entry.requireInteger("quantity", 1);
    const product = ctx.partition.products.get(price.product as string);
    const amount = unitAmountOf(price) * quantity;
    const item: Stripe.LineItem = {
      id: newId("li"),
      object: "item",
      adjustable_quantity: null,
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: price.currency,
      description: product?.name ?? null,
      discounts: [],
      metadata: {},
      price: structuredClone(price),
      quantity,
      taxes: [],
    };
    return item;
  });
  const prices = items.map((item) => item.price as Stripe.Price);
  if (new Set(prices.map((price) => price.currency)).size > 1) {
    throw invalidRequest("All line items must use the same currency.", "line_items");
  }
  const recurring = prices.filter((price) => price.recurring);
  if (mode === "subscription" && recurring.length === 0) {
    throw invalidRequest(
      "You must provide at least one recurring price in `subscription` mode when using prices.",
      "line_items",
    );
  }
  const intervals = new Set(
    recurring.map((price) => `${price.recurring?.interval_count} ${price.recurring?.interval}`),
  );
  if (intervals.size > 1) {
    throw invalidRequest(
      "Checkout does not support multiple prices with different billing intervals.",
      "line_items",
    );
  }
  return items;
}

/** `price` names an active price; `price_data` makes an inline, archived one. */
function readLinePrice(ctx: Context, entry: ParamReader): Stripe.Price {
  const priceId = entry.nullableString("price");
  const priceData = entry.object("price_data");
  if (priceId && priceData) {
    throw invalidRequest(
      "You may only specify one of these parameters: price, price_data.",
      entry.name("price"),
      "parameters_exclusive",
    );
  }
  if (priceId) {
    const price = findPrice(ctx, priceId, entry.name("price"));
    if (!price.active) {
      throw invalidRequest(
        "The price specified is inactive. This field only accepts active prices.",
        entry.name("price"),
      );
    }
    return price;
  }
  if (!priceData) throw missingParam(entry.name("price"));
  const productData = priceData.object("product_data");
  const productId = productData
    ? buildProduct(ctx, productData).id
    : priceData.nullableString("product");
  if (!productId) throw missingParam(priceData.name("product"));
  const price = buildPrice(ctx, priceData, productId);
  price.active = false;
  return price;
}

function customerDetails(
  email: string,
  name: string | null,
): Stripe.Checkout.Session.CustomerDetails {
  return {
    address: null,
    business_name: null,
    email,
    individual_name: null,
    name,
    phone: null,
    tax_exempt: "none",
    tax_ids: [],
  };
}

/** The session as the API returns it, with `line_items` when expanded. */
function present(ctx: Context, record: CheckoutSessionRecord, paths: string[]) {
  const body: Stripe.Checkout.Session = paths.includes("line_items")
    ? { ...record.session, line_items: lineItemList(record, new ParamReader({})) }
    : record.session;
  return expand(ctx.partition, body, paths.filter((path) => path !== "line_items"));
}

function lineItemList(record: CheckoutSessionRecord, params: ParamReader) {
  const order = new Map(record.lineItems.map((item, index) => [item.id, index]));
  return paginate(
    record.lineItems,
    params,
    `/v1/checkout/sessions/${record.session.id}/line_items`,
    (id) => order.get(id),
  );
}

/** `GET /v1/checkout/sessions/{id}`: only `expand`. */
const RETRIEVE_PARAMS: ParamSpec = {};

function retrieveSession(ctx: Context, params: ParamReader, path: PathParams) {
  return present(ctx, findCheckoutSession(ctx, path.id), params.expand());
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "customer", "payment_intent", "status", "subscription"],
  ignored: ["created", "customer_account", "customer_details", "payment_link"],
};

function listSessions(ctx: Context, params: ParamReader) {
  const customer = params.string("customer");
  const paymentIntent = params.string("payment_intent");
  const subscription = params.string("subscription");
  const status = params.oneOf("status", ["complete", "expired", "open"] as const);
  const sessions = [...ctx.partition.checkoutSessions.values()]
    .map((record) => record.session)
    .filter((session) =>
      (customer === undefined || session.customer === customer) &&
      (paymentIntent === undefined || session.payment_intent === paymentIntent) &&
      (subscription === undefined || session.subscription === subscription) &&
      (status === undefined || session.status === status)
    );
  const list = paginate(sessions, params, "/v1/checkout/sessions", newestFirst(ctx.partition));
  const paths = params.expand();
  if (paths.includes("data.line_items")) {
    list.data = list.data.map((session) => ({
      ...session,
      line_items: lineItemList(findCheckoutSession(ctx, session.id), new ParamReader({})),
    }));
  }
  return expand(ctx.partition, list, paths.filter((path) => path !== "data.line_items"));
}

const LINE_ITEMS_PARAMS: ParamSpec = { read: PAGINATION };

function listLineItems(ctx: Context, params: ParamReader, path: PathParams) {
  const list = lineItemList(findCheckoutSession(ctx, path.id), params);
  return expand(ctx.partition, list, params.expand());
}

/** `POST /v1/checkout/sessions/{id}/expire`: only `expand`. */
const EXPIRE_PARAMS: ParamSpec = {};

function expireSession(ctx: Context, params: ParamReader, path: PathParams) {
  const record = findCheckoutSession(ctx, path.id);
  if (record.session.status !== "open") {
    throw invalidRequest(
      `Only Checkout Sessions with a status of \`open\` can be expired; ${path.id} is ` +
        `\`${record.session.status}\`.`,
    );
  }
  expireCheckoutSession(ctx, record);
  return present(ctx, record, params.expand());
}

/** An open session expires: by request, or when a test clock passes `expires_at`. */
export function expireCheckoutSession(ctx: Context, record: CheckoutSessionRecord): void {
  record.session.status = "expired";
  record.session.url = null;
  ctx.emit("checkout.session.expired", record.session);
}

/** What paying on the hosted page (or through the control) came to. */
export type PaymentAttempt =
  | { status: "complete" }
  | { status: "requires_action"; url: string }
  | { status: "declined"; message: string };

/**
 * Completes a session as a buyer would. `paid` pays with `card` (4242 4242 4242 4242 unless
 * given): a declined card leaves the session open, a 3-D Secure card waits for the hosted
 * authentication page. The `async_*` outcomes use a delayed payment method: `completed`
 * arrives unpaid, then the payment succeeds or fails. A session left unpaid by
 * `async_pending` can later take `async_succeeded` or `async_failed`.
 */
export function completeCheckoutSession(
  ctx: Context,
  record: CheckoutSessionRecord,
  outcome: CheckoutOutcome,
  buyer: Buyer = {},
  card: TestCard = DEFAULT_TEST_CARD,
): PaymentAttempt {
  const { session } = record;
  const customer = session.customer
    ? ctx.partition.customers.get(session.customer as string)
    : undefined;
  return ctx.atTime(clockTimeOf(ctx, customer), () => {
    const settling = outcome === "async_succeeded" || outcome === "async_failed";
    if (session.status === "open") {
      if (outcome === "paid") return payWithCard(ctx, record, card, buyer);
      payByBankDebit(ctx, record, buyer);
    } else if (
      !(settling && session.status === "complete" && session.payment_status === "unpaid")
    ) {
      throw invalidRequest(
        `Checkout Session ${session.id} is ${session.status} (payment ` +
          `${session.payment_status}); it cannot take the outcome \`${outcome}\`.`,
      );
    }
    if (settling) settle(ctx, record, outcome === "async_succeeded");
    return { status: "complete" };
  });
}

/** The buyer's details, and their customer: found, created, or none for a guest. */
function identifyBuyer(ctx: Context, record: CheckoutSessionRecord, buyer: Buyer) {
  const { session } = record;
  const customer = resolveCustomer(ctx, record, buyer);
  const email = buyer.email || customer?.email || session.customer_email || FALLBACK_EMAIL;
  const name = buyer.name || customer?.name || null;
  session.customer = customer?.id ?? null;
  session.customer_details = customerDetails(email, name);
  session.collected_information = {
    business_name: null,
    individual_name: null,
    shipping_details: null,
  };
  return { customer, email, name };
}

function payWithCard(
  ctx: Context,
  record: CheckoutSessionRecord,
  card: TestCard,
  buyer: Buyer,
): PaymentAttempt {
  const { session } = record;
  const { customer, email, name } = identifyBuyer(ctx, record, buyer);
  const method = insertCardPaymentMethod(ctx, card, { email, name });
  let result: ConfirmResult;
  let paymentIntentId: string;
  if (session.mode === "payment") {
    const previous = session.payment_intent
      ? ctx.partition.paymentIntents.get(session.payment_intent as string)
      : undefined;
    const paymentIntent = previous ?? openSessionPaymentIntent(ctx, record, email, null);
    paymentIntent.payment_method = method.paymentMethod.id;
    session.payment_intent = paymentIntent.id;
    result = confirmPaymentIntent(ctx, paymentIntent, {
      offSession: false,
      returnUrl: session.success_url ?? session.return_url ?? null,
    });
    paymentIntentId = paymentIntent.id;
  } else {
    if (!customer) throw invalidRequest(`Checkout Session ${session.id} has no customer.`);
    const decline = attachDecline(card);
    if (decline) return { status: "declined", message: decline.message };
    attachPaymentMethod(ctx, method, customer);
    const existing = session.subscription
      ? ctx.partition.subscriptions.get(session.subscription as string)
      : undefined;
    if (existing) {
      // A retry after a declined card: the open first invoice is charged to the new card.
      existing.default_payment_method = method.paymentMethod.id;
      const invoice = ctx.partition.invoices.get(session.invoice as string);
      if (!invoice) throw invalidRequest(`Checkout Session ${session.id} has no invoice.`);
      result = collectInvoice(ctx, invoice, method.paymentMethod.id, { offSession: false });
      if (result.status === "succeeded") setSubscriptionStatus(ctx, existing, "active");
    } else {
      const started = startSessionSubscription(ctx, record, customer, method.paymentMethod.id);
      session.subscription = started.subscription.id;
      session.invoice = started.invoice.id;
      result = started.result ?? { status: "succeeded" };
    }
    const payment = ctx.partition.invoices.get(session.invoice as string)?.payments?.data[0];
    paymentIntentId = String(payment?.payment.payment_intent ?? "");
  }
  switch (result.status) {
    case "succeeded":
      record.lastError = null;
      finishCheckout(ctx, record, "paid");
      return { status: "complete" };
    case "requires_action":
      ctx.partition.authentications.set(paymentIntentId, { kind: "checkout", id: session.id });
      return { status: "requires_action", url: `${ctx.publicUrl}/authenticate/${paymentIntentId}` };
    case "failed":
      record.lastError = result.decline.message;
      return { status: "declined", message: result.decline.message };
    case "processing":
      finishCheckout(ctx, record, "unpaid");
      return { status: "complete" };
  }
}

/** The PaymentIntent a payment-mode session charges its total with. */
function openSessionPaymentIntent(
  ctx: Context,
  record: CheckoutSessionRecord,
  receiptEmail: string,
  paymentMethod: string | null,
) {
  const { session, paymentIntentData } = record;
  return openPaymentIntent(ctx, {
    amount: session.amount_total ?? 0,
    currency: session.currency ?? "usd",
    customer: session.customer as string | null,
    metadata: paymentIntentData.metadata,
    description: paymentIntentData.description,
    receiptEmail,
    paymentMethod,
  });
}

/** Starts the subscription a subscription-mode session sells, paid by `paymentMethod`. */
function startSessionSubscription(
  ctx: Context,
  record: CheckoutSessionRecord,
  customer: Stripe.Customer,
  paymentMethod: string,
) {
  return startSubscription(ctx, {
    customer,
    lines: record.lineItems.map((item) => ({
      price: item.price as Stripe.Price,
      quantity: item.quantity ?? 1,
    })),
    metadata: record.subscriptionData.metadata,
    description: record.subscriptionData.description,
    paymentMethod,
    saveAsDefault: true,
    trialEnd: trialEndOf(ctx, record),
  });
}

function trialEndOf(ctx: Context, record: CheckoutSessionRecord): number | null {
  const days = record.subscriptionData.trialPeriodDays;
  return days ? ctx.now() + days * DAY_SECONDS : null;
}

/** The buyer passed 3-D Secure on the hosted page: the payment is made, the session done. */
export function completeAfterAuthentication(ctx: Context, record: CheckoutSessionRecord): void {
  const { session } = record;
  if (session.mode === "subscription") {
    const invoice = ctx.partition.invoices.get(session.invoice as string);
    if (invoice) invoicePaymentAuthenticated(ctx, invoice);
  }
  record.lastError = null;
  finishCheckout(ctx, record, "paid");
}

function finishCheckout(
  ctx: Context,
  record: CheckoutSessionRecord,
  paymentStatus: "paid" | "unpaid",
): void {
  const { session } = record;
  session.status = "complete";
  session.payment_status = paymentStatus;
  session.url = null;
  ctx.emit("checkout.session.completed", session);
}

/** A US bank account debit: the session completes unpaid and settles later. */
function payByBankDebit(ctx: Context, record: CheckoutSessionRecord, buyer: Buyer): void {
  const { session } = record;
  const { customer, email, name } = identifyBuyer(ctx, record, buyer);
  const method = insertBankPaymentMethod(ctx, { email, name });
  if (session.mode === "payment") {
    const paymentIntent = openSessionPaymentIntent(ctx, record, email, method.paymentMethod.id);
    session.payment_intent = paymentIntent.id;
    confirmPaymentIntent(ctx, paymentIntent, { offSession: false });
  } else if (customer) {
    attachPaymentMethod(ctx, method, customer);
    const { subscription, invoice } = startSessionSubscription(
      ctx,
      record,
      customer,
      method.paymentMethod.id,
    );
    session.subscription = subscription.id;
    session.invoice = invoice.id;
  }
  finishCheckout(ctx, record, "unpaid");
}

/**
 * The session's customer, or a new one: subscription mode always creates one, payment mode
 * only with `customer_creation: always` (Stripe's "guest" buyers have no customer object).
 */
function resolveCustomer(
  ctx: Context,
  record: CheckoutSessionRecord,
  buyer: Buyer,
): Stripe.Customer | null {
  const { session } = record;
  const existing = session.customer
    ? ctx.partition.customers.get(session.customer as string)
    : null;
  if (existing) return existing;
  if (session.mode === "payment" && session.customer_creation !== "always") return null;
  const customer = insertCustomer(ctx, {
    email: buyer.email || session.customer_email || FALLBACK_EMAIL,
    name: buyer.name || null,
    phone: null,
    description: null,
    metadata: {},
  });
  ctx.emit("customer.created", customer);
  return customer;
}

function settle(ctx: Context, record: CheckoutSessionRecord, succeeded: boolean): void {
  const { session } = record;
  if (session.mode === "payment") {
    settleBankDebit(ctx, findPaymentIntent(ctx, session.payment_intent as string), succeeded);
  } else {
    const subscription = ctx.partition.subscriptions.get(session.subscription as string);
    const invoice = ctx.partition.invoices.get(session.invoice as string);
    if (!subscription || !invoice) {
      throw invalidRequest(`Checkout Session ${session.id} has no subscription to settle.`);
    }
    settleFirstPayment(ctx, subscription, invoice, succeeded);
  }
  if (succeeded) session.payment_status = "paid";
  ctx.emit(
    succeeded
      ? "checkout.session.async_payment_succeeded"
      : "checkout.session.async_payment_failed",
    session,
  );
}

export const checkoutSessionRoutes = [
  ...collection("/v1/checkout/sessions", {
    create: [CREATE_PARAMS, createSession],
    retrieve: [RETRIEVE_PARAMS, retrieveSession],
    actions: { expire: [EXPIRE_PARAMS, expireSession] },
  }),
  endpoint("GET", "/v1/checkout/sessions", LIST_PARAMS, listSessions),
  endpoint("GET", "/v1/checkout/sessions/{id}/line_items", LINE_ITEMS_PARAMS, listLineItems),
];
