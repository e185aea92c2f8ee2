/** Billing Portal sessions: create. The page behind `url` lives in pages.ts. */
import type Stripe from "stripe";
import { unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { newId } from "../ids.ts";
import type { ParamReader, ParamSpec } from "../params.ts";
import { endpoint } from "../router.ts";
import { findCustomer } from "./customers.ts";

const CREATE_PARAMS: ParamSpec = {
  read: ["configuration", "customer", "locale", "on_behalf_of", "return_url"],
  ignored: ["after_expiration", "customer_account", "flow_data"],
};

function createPortalSession(ctx: Context, params: ParamReader) {
  const customer = findCustomer(ctx, params.requireString("customer"), "customer");
  const id = newId("bps");
  const session: Stripe.BillingPortal.Session = {
    id,
    object: "billing_portal.session",
    // Each account has one default portal configuration; its id is derived from the account.
    configuration: params.nullableString("configuration") ??
      `bpc_${ctx.partition.accountId.slice("acct_".length)}`,
    created: unixNow(),
    customer: customer.id,
    customer_account: null,
    flow: null,
    livemode: ctx.livemode,
    locale: (params.nullableString("locale") ?? null) as Stripe.BillingPortal.Session.Locale | null,
    on_behalf_of: params.nullableString("on_behalf_of") ?? null,
    return_url: params.nullableString("return_url") ?? null,
    url: `${ctx.publicUrl}/billing_portal/${id}`,
  };
  ctx.partition.insert(ctx.partition.portalSessions, id, session);
  ctx.emit("billing_portal.session.created", session);
  return session;
}

export const billingPortalRoutes = [
  endpoint("POST", "/v1/billing_portal/sessions", CREATE_PARAMS, createPortalSession),
];
