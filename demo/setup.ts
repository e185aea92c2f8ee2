// Prepares a running stack for the demo app: the example app tables and triggers, a catalog on the
// emulator, the emulator connected as `test`, and a signed-in demo user who owns a team.
// `npm start` and the browser test both call setUpDemo, so they click through the same setup.
import Stripe from "stripe";
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
 * Applies the examples, seeds the catalog, connects the emulator and creates the demo team.
 * The demo user and team are new on every start: an earlier run's customer mappings point at
 * customers of an emulator that no longer exists, so reusing them would break checkout.
 */
export async function setUpDemo(stack: Stack, options: { email?: string } = {}): Promise<Demo> {
  await applyExamples(stack);
  const prices = await seedCatalog(emulatorStripe(stack.emulatorUrl));
  const connected = await stack.connectEmulator();
  if (!connected.ok) throw new Error(`connecting the emulator failed: ${await connected.text()}`);

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
}

/** Creates the demo catalog on the emulator: "Starter pack" (one-time) and "Pro" (monthly). */
export async function seedCatalog(stripe: Stripe): Promise<DemoPrices> {
  const pack = await stripe.products.create({
    name: "Starter pack",
    description: "A one-time purchase.",
  });
  const oneTime = await stripe.prices.create({
    product: pack.id,
    currency: "usd",
    unit_amount: 1900,
    lookup_key: "starter_pack",
  });
  const pro = await stripe.products.create({
    name: "Pro",
    description: "Everything, billed monthly per team.",
  });
  const monthly = await stripe.prices.create({
    product: pro.id,
    currency: "usd",
    unit_amount: 1200,
    recurring: { interval: "month" },
    lookup_key: "pro_monthly",
  });
  return { oneTime: oneTime.id, monthly: monthly.id };
}

/** The real Stripe SDK pointed at the stack's emulator with its test key. */
export function emulatorStripe(emulatorUrl: string): Stripe {
  const url = new URL(emulatorUrl);
  return new Stripe("sk_test_localemulator0000000000", {
    httpClient: Stripe.createFetchHttpClient(),
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    maxNetworkRetries: 0,
  });
}
