// Prepares a running stack for the demo app: the example app tables and triggers, a catalog, the
// stack's Stripe account connected as `test`, and a signed-in demo user who owns a team.
// `npm start` and the browser test both call setUpDemo, so they click through the same setup.
import Stripe from "stripe";
import type { ConfigResponse } from "../functions/wire.ts";
import type { Stack } from "../scripts/stack.ts";

export interface DemoPrices {
  /** "Starter pack", one-time, lookup key `starter_pack`. */
  oneTime: string;
  /** "Pro", monthly, lookup key `pro_monthly`. */
  monthly: string;
}

export interface Demo {
  stack: Stack;
  userId: string;
  email: string;
  teamId: string;
  teamName: string;
  prices: DemoPrices;
}

const EXAMPLES = ["fulfillment.sql", "team_billing.sql"];

/**
 * Applies the examples, seeds the catalog, connects Stripe and creates the demo team, or keeps
 * the one `reuse` names when the database still has it (`npm start` keeps its database and the
 * emulator's objects together, so the user's customer mappings stay valid). Anything else gets
 * a new user and team: an earlier run's customer mappings may point at customers of an emulator
 * that no longer exists, which would break checkout.
 */
export async function setUpDemo(
  stack: Stack,
  options: { email?: string; reuse?: Pick<Demo, "userId" | "email" | "teamId" | "teamName"> } = {},
): Promise<Demo> {
  await applyExamples(stack);
  const prices = await seedCatalog(stack.stripe);
  const connected = await stack.connectStripe();
  if (!connected.ok) throw new Error(`connecting Stripe failed: ${await connected.text()}`);
  const { webhook } = await connected.json() as ConfigResponse;
  if (webhook.status !== "configured") {
    // Checkout still opens, but no event comes back: say so instead of waiting for one.
    stack.deps.log(
      `the webhook endpoint is not configured, so no event will arrive: ${webhook.reason}`,
    );
  }

  const { reuse } = options;
  if (reuse) {
    const [kept] = await stack.sql`
      select 1 from public.team_members
      where team_id::text = ${reuse.teamId} and user_id::text = ${reuse.userId} and role = 'owner'`;
    if (kept) return { stack, ...reuse, prices };
  }
  const userId = crypto.randomUUID();
  const teamName = "Demo team";
  const [team] = await stack.sql.begin(async (tx) => {
    const rows = await tx`insert into public.teams (name) values (${teamName}) returning id`;
    await tx`insert into public.team_members (team_id, user_id, role)
             values (${rows[0].id}, ${userId}, 'owner')`;
    return rows;
  });
  return {
    stack,
    userId,
    email: options.email ?? "ada@example.com",
    teamId: team.id,
    teamName,
    prices,
  };
}

/**
 * Runs sql/examples/fulfillment.sql and team_billing.sql unless their tables already exist
 * (a DATABASE_URL kept from an earlier `npm start`).
 */
export async function applyExamples(stack: Stack): Promise<void> {
  const [existing] = await stack.sql`
    select to_regclass('public.orders') is not null as orders,
           to_regclass('public.teams') is not null as teams`;
  const present = [existing.orders, existing.teams];
  for (const [index, file] of EXAMPLES.entries()) {
    if (present[index]) continue;
    await stack.sql.file(new URL(`../sql/examples/${file}`, import.meta.url).pathname);
  }
  // An orders table from before orders were priced from the catalog would take any price.
  const [priced] = await stack.sql`
    select 1 from information_schema.columns
    where table_schema = 'public' and table_name = 'orders' and column_name = 'price_id'`;
  if (!priced) {
    throw new Error(
      "public.orders is from an earlier sql/examples/fulfillment.sql (no price_id); " +
        "npm start -- --reset starts clean",
    );
  }
  // The demo pays with test cards, so its orders take test-mode prices and payments; the example
  // itself accepts live ones only.
  await stack
    .sql`insert into public.fulfillment_environments values ('test') on conflict do nothing`;
}

/**
 * The demo catalog: "Starter pack" (one-time, lookup key `starter_pack`) and "Pro" (monthly,
 * `pro_monthly`). Prices already carrying those lookup keys are reused, so a real test account
 * is seeded once, not on every start.
 */
export async function seedCatalog(stripe: Stripe): Promise<DemoPrices> {
  const existing = await stripe.prices.list({
    lookup_keys: ["starter_pack", "pro_monthly"],
    active: true,
  });
  const find = (key: string) => existing.data.find((price) => price.lookup_key === key)?.id;
  const create = async (
    product: Stripe.ProductCreateParams,
    price: Omit<Stripe.PriceCreateParams, "product">,
  ) => {
    const { id } = await stripe.products.create(product);
    return (await stripe.prices.create({ ...price, product: id })).id;
  };
  const oneTime = find("starter_pack") ?? await create(
    { name: "Starter pack", description: "A one-time purchase." },
    { currency: "usd", unit_amount: 1900, lookup_key: "starter_pack" },
  );
  const monthly = find("pro_monthly") ?? await create(
    { name: "Pro", description: "Everything, billed monthly per team." },
    {
      currency: "usd",
      unit_amount: 1200,
      recurring: { interval: "month" },
      lookup_key: "pro_monthly",
    },
  );
  return { oneTime, monthly };
}
