// `npm start`: the whole stack on this machine, ready for a first checkout.
import Stripe from "stripe";
import { LOCAL_JWT_SECRET, startStack } from "./stack.ts";

const env = Deno.env.toObject();
const port = Number(env.PORT ?? 54321);
const emulatorPort = Number(env.STRIPE_EMULATOR_PORT ?? 12111);
const say = (line = "") => console.log(line);

let stack: Awaited<ReturnType<typeof startStack>> | undefined;
let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  say("\nstopping ...");
  await stack?.stop();
  Deno.exit(code);
}
Deno.addSignalListener("SIGINT", () => shutdown(0));
Deno.addSignalListener("SIGTERM", () => shutdown(0));

try {
  stack = await startStack({
    databaseUrl: env.DATABASE_URL ?? env.SUPABASE_DB_URL,
    port,
    emulatorPort,
    jwtSecret: env.JWT_SECRET ?? env.SUPABASE_JWT_SECRET ?? LOCAL_JWT_SECRET,
    log: (line) => console.error(`[payments] ${line}`),
  });

  const stripe = new Stripe("sk_test_localemulator0000000000", {
    httpClient: Stripe.createFetchHttpClient(),
    host: new URL(stack.emulatorUrl).hostname,
    port: Number(new URL(stack.emulatorUrl).port),
    protocol: "http",
  });
  const prices = await seedCatalog(stripe);

  const connected = await stack.connectEmulator();
  if (!connected.ok) throw new Error(`connecting the emulator failed: ${await connected.text()}`);

  const userId = crypto.randomUUID();
  const token = await stack.userToken(userId, "ada@example.com");
  const body = JSON.stringify({
    mode: "payment",
    lineItems: [{ priceId: prices.oneTime, quantity: 1 }],
    successUrl: `${stack.baseUrl}/success`,
    cancelUrl: `${stack.baseUrl}/`,
  });
  say();
  say("payments is running");
  say(`  functions   ${stack.functionsUrl}`);
  say(`  emulator    ${stack.emulatorUrl}  (Stripe API, hosted Checkout and Billing Portal)`);
  say(`  database    ${redact(stack.databaseUrl)}`);
  say(`  prices      ${prices.oneTime} (one-time), ${prices.monthly} (monthly)`);
  say();
  say(`  user id           ${userId}`);
  say(`  user JWT          ${token}`);
  say(`  service role key  ${stack.serviceRoleKey}`);
  say();
  say("Create a checkout session as that user:");
  say(`  curl -s -X POST ${stack.functionsUrl}/stripe/test/checkout-sessions \\`);
  say(`    -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\`);
  say(`    -d '${body}'`);
  say();
  say("Open the returned url to pay on the emulator's Checkout page. Ctrl-C stops everything.");
} catch (error) {
  console.error(`npm start: ${error instanceof Error ? error.message : error}`);
  await shutdown(1);
}

async function seedCatalog(stripe: Stripe): Promise<{ oneTime: string; monthly: string }> {
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

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
