// The demo app's browser code: supabase-js (the UMD build, loaded as a classic script) and the
// payments SDK, unbuilt. The pricing page sends Buy and Subscribe through the SDK to hosted
// Checkout; the success page shows what the signed webhooks did to the database.
import { createPaymentsClient } from "/client/index.js";

const $ = (id) => document.getElementById(id);
const params = new URL(globalThis.location.href).searchParams;
const origin = globalThis.location.origin;

/** Calls a demo JSON route; throws an Error with the server's message on failure. */
async function api(path, { method = "GET", body, token } = {}) {
  const response = await fetch(`/demo/api${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(json?.error?.message ?? `${method} ${path} answered HTTP ${response.status}`);
  }
  return json;
}

function showError(error) {
  const box = $("error");
  const status = error?.statusCode
    ? ` (HTTP ${error.statusCode}${error.code ? `, ${error.code}` : ""})`
    : "";
  box.textContent = `${error?.message ?? error}${status}`;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// The dashboard stylesheet's colours (data-tone) for the statuses these pages show.
const TONES = { paid: "ok", active: "ok", pending: "warn", none: "warn", canceled: "bad" };

function setStatus(element, status) {
  element.textContent = status;
  element.dataset.status = status;
  element.dataset.tone = TONES[status] ?? "";
}

function money(amount, currency) {
  return new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() })
    .format(amount / 100);
}

/** Disables the button while `work` runs; shows what went wrong on the page. */
async function withButton(button, work) {
  clearError();
  button.disabled = true;
  try {
    if (await work() === "leaving") return;
  } catch (error) {
    showError(error);
  }
  button.disabled = false;
}

/** Calls `check` now and then until it returns true, or gives up after `limitMs`. */
function poll(check, { everyMs = 500, limitMs = 60_000 } = {}) {
  const started = Date.now();
  const tick = async () => {
    let done = false;
    try {
      done = await check();
    } catch (error) {
      showError(error);
    }
    if (!done && Date.now() - started < limitMs) setTimeout(tick, everyMs);
  };
  return tick();
}

// The signed-in user: in a real app, supabase.auth; here the demo server mints the JWT.
const session = await api("/session");
const supabase = globalThis.supabase.createClient(session.supabaseUrl, session.anonKey, {
  global: { headers: { Authorization: `Bearer ${session.accessToken}` } },
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
});
const payments = createPaymentsClient(supabase);
const token = session.accessToken;
const subject = { type: "team", id: session.teamId };

$("user").textContent = `Signed in as ${session.email} · owner of ${session.teamName}`;
for (const element of document.querySelectorAll("#team-name")) {
  element.textContent = session.teamName;
}

async function refreshSubscription() {
  const { subscription } = await api(`/teams/${session.teamId}/subscription`, { token });
  setStatus($("subscription-status"), subscription?.status ?? "none");
  return subscription;
}

function redirectTo(result) {
  if (result.error) throw result.error;
  const url = result.data.checkoutSession?.url ?? result.data.customerPortalSession?.url;
  if (!url) throw new Error("The session has no URL: it is no longer open.");
  globalThis.location.assign(url);
  return "leaving";
}

$("manage-billing").addEventListener(
  "click",
  (event) =>
    withButton(event.currentTarget, async () =>
      redirectTo(
        await payments.stripe.createCustomerPortalSession("test", {
          subject,
          returnUrl: `${origin}/`,
        }),
      )),
);

// ---------------------------------------------------------------------------------------------
// Pricing page

async function buy(priceId) {
  const { order } = await api("/orders", { method: "POST", body: { priceId }, token });
  return redirectTo(
    await payments.stripe.createCheckoutSession("test", {
      mode: "payment",
      lineItems: [{ priceId, quantity: 1 }],
      successUrl: `${origin}/success?order=${order.id}`,
      cancelUrl: `${origin}/`,
      customerEmail: session.email,
      metadata: { order_id: order.id },
      idempotencyKey: `order:${order.id}`,
    }),
  );
}

// One key per page view: a double click reuses the session, a later visit may subscribe again.
const subscribeKey = `team:${session.teamId}:pro-monthly:${crypto.randomUUID()}`;

async function subscribe(priceId) {
  return redirectTo(
    await payments.stripe.createCheckoutSession("test", {
      mode: "subscription",
      subject,
      lineItems: [{ priceId, quantity: 1 }],
      successUrl: `${origin}/success?team=${session.teamId}&session={CHECKOUT_SESSION_ID}`,
      cancelUrl: `${origin}/`,
      customerEmail: session.email,
      idempotencyKey: subscribeKey,
    }),
  );
}

function priceCard(price) {
  const recurring = price.type === "recurring";
  const card = document.createElement("article");
  card.className = "price panel";
  card.dataset.priceId = price.priceId;
  const title = document.createElement("h2");
  title.textContent = price.name;
  const description = document.createElement("p");
  description.className = "muted";
  description.textContent = price.description ?? "";
  const amount = document.createElement("p");
  amount.className = "amount";
  amount.textContent = money(price.unitAmount ?? 0, price.currency);
  const per = document.createElement("small");
  per.textContent = recurring ? ` / ${price.interval} per team` : " once";
  amount.append(per);
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = recurring ? "Subscribe" : "Buy";
  button.dataset.priceId = price.priceId;
  if (!recurring && !$("buy")) button.id = "buy";
  if (recurring && !$("subscribe")) button.id = "subscribe";
  button.addEventListener(
    "click",
    () => withButton(button, () => (recurring ? subscribe : buy)(price.priceId)),
  );
  card.append(title, description, amount, button);
  return card;
}

async function showPricing() {
  const { prices } = await api("/prices");
  const list = $("prices");
  // Appended one by one: priceCard gives the first Buy and Subscribe buttons their ids.
  for (const price of prices) list.append(priceCard(price));
  if (prices.length === 0) list.textContent = "No active prices yet.";
  list.setAttribute("aria-busy", "false");
  // After the portal, the cancellation arrives by webhook: keep the status fresh.
  poll(async () => {
    await refreshSubscription();
    return false;
  }, { everyMs: 1000, limitMs: 120_000 });
}

// ---------------------------------------------------------------------------------------------
// Success page

function showSuccess() {
  const orderId = params.get("order");
  if (orderId) {
    $("order").hidden = false;
    $("order-id").textContent = orderId.slice(0, 8);
    poll(async () => {
      const { order } = await api(`/orders/${encodeURIComponent(orderId)}`, { token });
      $("order-description").textContent = `${order.description} · ${
        money(order.amount, order.currency)
      }`;
      setStatus($("order-status"), order.status);
      return order.status === "paid";
    });
  }
  if (params.get("team") || !orderId) {
    $("team").hidden = false;
    poll(async () => {
      const subscription = await refreshSubscription();
      return subscription?.status === "active" || subscription?.status === "canceled";
    });
  }
}

try {
  if (document.body.dataset.page === "pricing") await showPricing();
  else showSuccess();
} catch (error) {
  showError(error);
}
