/** `GET /v1/account`: the account that owns the API key (see auth.ts for the id rule). */
import type { Context } from "../context.ts";
import type { ParamSpec } from "../params.ts";
import { endpoint } from "../router.ts";

/** `GET /v1/account`: only `expand`. */
const RETRIEVE_PARAMS: ParamSpec = {};

function retrieveAccount(ctx: Context) {
  const { accountId } = ctx.partition;
  const noRequirements = {
    alternatives: [],
    current_deadline: null,
    currently_due: [],
    disabled_reason: null,
    errors: [],
    eventually_due: [],
    past_due: [],
    pending_verification: [],
  };
  return {
    id: accountId,
    object: "account",
    business_profile: {
      annual_revenue: null,
      estimated_worker_count: null,
      mcc: null,
      minority_owned_business_designation: null,
      name: "Stripe emulator",
      product_description: null,
      specified_commercial_transactions_act_url: null,
      support_address: null,
      support_email: null,
      support_phone: null,
      support_url: null,
      url: null,
    },
    business_type: null,
    capabilities: { card_payments: "active", transfers: "active" },
    charges_enabled: true,
    controller: { type: "account" },
    country: "US",
    created: 1700000000,
    default_currency: "usd",
    details_submitted: true,
    email: `${accountId}@emulator.invalid`,
    external_accounts: {
      object: "list",
      data: [],
      has_more: false,
      url: `/v1/accounts/${accountId}/external_accounts`,
    },
    future_requirements: noRequirements,
    metadata: {},
    payouts_enabled: true,
    requirements: noRequirements,
    settings: {
      branding: { icon: null, logo: null, primary_color: null, secondary_color: null },
      card_payments: {
        decline_on: { avs_failure: false, cvc_failure: false },
        statement_descriptor_prefix: null,
        statement_descriptor_prefix_kana: null,
        statement_descriptor_prefix_kanji: null,
      },
      dashboard: { display_name: "Stripe emulator", timezone: "Etc/UTC" },
      payments: {
        statement_descriptor: null,
        statement_descriptor_kana: null,
        statement_descriptor_kanji: null,
        statement_descriptor_prefix_kana: null,
        statement_descriptor_prefix_kanji: null,
      },
    },
    tos_acceptance: { date: null, ip: null, user_agent: null },
    type: "standard",
  };
}

export const accountRoutes = [endpoint("GET", "/v1/account", RETRIEVE_PARAMS, retrieveAccount)];
