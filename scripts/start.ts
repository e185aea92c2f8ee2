// `npm start`: the whole stack on this machine, ready for a first checkout.
import { dashboardRoutes } from "../dashboard/serve.ts";
import { demoRoutes } from "../demo/routes.ts";
import { type Demo, setUpDemo } from "../demo/setup.ts";
import { LOCAL_JWT_SECRET, startStack } from "./stack.ts";

const env = Deno.env.toObject();
const say = (line = "") => console.log(line);

let stack: Awaited<ReturnType<typeof startStack>> | undefined;
let demo: Demo | undefined;
let stopping = false;
// The dashboard talks to this stack's function with its service role key.
const dashboard = dashboardRoutes(() =>
  stack && { apiUrl: stack.functionsUrl, secretKey: stack.secretKey }
);
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
  const databaseUrl = env.DATABASE_URL ?? env.SUPABASE_DB_URL;
  if (databaseUrl) {
    console.error(
      "[payments] using DATABASE_URL: the demo adds public.orders, public.teams, public.team_members," +
        " their policies and a fulfillment trigger there; use a scratch database.",
    );
  }
  stack = await startStack({
    databaseUrl,
    port: portFrom("PORT", 54321),
    emulatorPort: portFrom("STRIPE_EMULATOR_PORT", 12111),
    jwtSecret: env.JWT_SECRET ?? env.SUPABASE_JWT_SECRET ?? LOCAL_JWT_SECRET,
    secretKeys: keysFrom("SUPABASE_SECRET_KEYS"),
    publishableKeys: keysFrom("SUPABASE_PUBLISHABLE_KEYS"),
    jwks: env.SUPABASE_JWKS ? JSON.parse(env.SUPABASE_JWKS) : undefined,
    stripeSecretKey: testKey(env.STRIPE_SECRET_KEY),
    stripeApiBase: env.STRIPE_API_BASE,
    publicUrl: env.PUBLIC_URL,
    log: (line) => console.error(`[payments] ${line}`),
    extraRoutes: async (request) =>
      (await dashboard(request)) ?? (await demoRoutes(() => demo)(request)),
  });

  // Example tables and triggers, the catalog, Stripe connected as `test`, a demo team.
  demo = await setUpDemo(stack);
  const { prices, userId } = demo;
  const token = await stack.userToken(userId, demo.email);
  const body = JSON.stringify({
    mode: "payment",
    lineItems: [{ priceId: prices.oneTime, quantity: 1 }],
    successUrl: `${stack.baseUrl}/success`,
    cancelUrl: `${stack.baseUrl}/`,
  });
  say();
  say("payments is running");
  say(`  demo app    ${stack.baseUrl}/  (pricing, Buy, Subscribe, Manage billing)`);
  say(`  dashboard   ${stack.baseUrl}/dashboard/  (operators: events, catalog, settings)`);
  say(`  functions   ${stack.functionsUrl}`);
  say(
    stack.usesEmulator
      ? `  emulator    ${stack.emulatorUrl}  (Stripe API, hosted Checkout and Billing Portal)`
      : `  stripe      your test account (key ...${
        env.STRIPE_SECRET_KEY!.slice(-4)
      }), webhooks to ${env.PUBLIC_URL ?? stack.baseUrl}`,
  );
  say(`  database    ${redact(stack.databaseUrl)}`);
  say(`  prices      ${prices.oneTime} (one-time), ${prices.monthly} (monthly)`);
  say();
  say(`  user id           ${userId}  (the demo user, owner of team ${demo.teamId})`);
  say(`  user JWT          ${token}`);
  say(`  secret key        ${stack.secretKey}  (admin routes, the CLI)`);
  say(`  publishable key   ${stack.publishableKey}  (supabase-js)`);
  say(`  signing keys      ${stack.baseUrl}/auth/v1/.well-known/jwks.json`);
  if (stack.serviceRoleKey) say(`  legacy service role key  ${stack.serviceRoleKey}`);
  if (stack.anonKey) say(`  legacy anon key          ${stack.anonKey}`);
  say();
  say("For the CLI and supabase-js (createClient(SUPABASE_URL, publishable key)):");
  say(`  export SUPABASE_URL=${stack.baseUrl}`);
  say(`  export SUPABASE_SECRET_KEY=${stack.secretKey}`);
  say();
  say("Create a checkout session as that user:");
  say(`  curl -s -X POST ${stack.functionsUrl}/stripe/test/checkout-sessions \\`);
  say(`    -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\`);
  say(`    -d '${body}'`);
  say();
  say(
    `Open the returned url to pay on ${
      stack.usesEmulator ? "the emulator's" : "Stripe's"
    } Checkout page. Ctrl-C stops everything.`,
  );
} catch (error) {
  console.error(`npm start: ${error instanceof Error ? error.message : error}`);
  await shutdown(1);
}

function portFrom(variable: string, fallback: number): number {
  const value = env[variable];
  if (value === undefined || value === "") return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${variable} must be a port number from 0 to 65535 (got '${value}').`);
  }
  return port;
}

/** A real key is used only for the test environment; anything else is a mistake worth stopping for. */
function testKey(key: string | undefined): string | undefined {
  if (!key) return undefined;
  if (!/^(sk|rk)_test_/.test(key)) {
    throw new Error("STRIPE_SECRET_KEY must be a test-mode key (sk_test_... or rk_test_...).");
  }
  return key;
}

/** `SUPABASE_SECRET_KEYS`-style JSON, as Supabase gives functions; unset means the local keys. */
function keysFrom(variable: string): Record<string, string> | undefined {
  const value = env[variable];
  if (!value) return undefined;
  try {
    const keys = JSON.parse(value);
    if (keys && typeof keys === "object" && !Array.isArray(keys) && Object.keys(keys).length) {
      return keys;
    }
  } catch {
    // reported below
  }
  throw new Error(`${variable} must be a JSON object such as {"default": "sb_..."}.`);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
