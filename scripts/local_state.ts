// The local stack's state folder (`.pgpayments/` at the repository root, git-ignored, or
// $PGPAYMENTS_STATE_DIR): the PostgreSQL cluster, the Stripe emulator's objects, the keys and the
// demo's ids, so that `npm start` comes back as it was. `pgpayments status --local` reads it to
// print the banner again, so this module imports nothing outside the repository (the CLI runs
// without an import map).
import type { JsonWebKeySet } from "../functions/auth.ts";

export const STATE_DIR_VARIABLE = "PGPAYMENTS_STATE_DIR";

/** The keys `npm start` issued for this state folder (each one yields to its variable). */
export interface LocalKeys {
  secretKeys: Record<string, string>;
  publishableKeys: Record<string, string>;
  /** Private parts included: the first key signs the demo user's tokens. */
  jwks: JsonWebKeySet;
  jwtSecret: string;
}

/** The demo user and team, kept while the database and the emulator are. */
export interface LocalDemo {
  userId: string;
  email: string;
  teamId: string;
  teamName: string;
}

/** What the `npm start` banner shows. */
export interface Banner {
  baseUrl: string;
  functionsUrl: string;
  /** Set when Stripe calls go to the emulator. */
  emulatorUrl?: string;
  /** Set when a real Stripe test account is used instead. */
  stripe?: { keyLast4: string; webhooksTo: string };
  databaseUrl: string;
  prices: { oneTime: string; monthly: string };
  userId: string;
  teamId: string;
  /** Refreshed while the stack runs, so that a printed banner's token is always current. */
  userToken: string;
  /** The dashboard URL's one-time token: the page opened with it gets the secret key. */
  dashboardToken?: string;
  secretKey: string;
  publishableKey: string;
  serviceRoleKey?: string;
  anonKey?: string;
}

export interface LocalState {
  keys?: LocalKeys;
  demo?: LocalDemo;
  /** Present while an `npm start` runs on this folder. */
  running?: Banner & { pid: number; startedAt: string };
}

/** Where the state lives: $PGPAYMENTS_STATE_DIR, else `.pgpayments/` at the repository root. */
export function stateDir(env: (name: string) => string | undefined): string {
  const given = env(STATE_DIR_VARIABLE);
  if (given) return given.startsWith("/") ? given : `${Deno.cwd()}/${given}`;
  return decodeURIComponent(new URL("../.pgpayments", import.meta.url).pathname);
}

export function statePaths(dir: string) {
  return {
    /** The PostgreSQL cluster (owned by `postgres` when run as root). */
    database: `${dir}/postgres`,
    emulator: `${dir}/emulator.state`,
    stack: `${dir}/stack.json`,
  };
}

/** The stored state, or undefined when the folder holds none. */
export async function readState(dir: string): Promise<LocalState | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(statePaths(dir).stack);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${statePaths(dir).stack} is not JSON: remove it, or start over with --reset.`);
  }
}

/** Writes the state readable by its owner only: it holds the secret key and the signing key. */
export async function writeState(dir: string, state: LocalState): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const path = statePaths(dir).stack;
  await Deno.writeTextFile(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await Deno.rename(`${path}.tmp`, path);
}

/** True when the stack the state names answers at its URL. */
export async function isRunning(banner: Pick<Banner, "functionsUrl">): Promise<boolean> {
  try {
    const response = await fetch(`${banner.functionsUrl}/health`, {
      signal: AbortSignal.timeout(2000),
    });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** The banner's lines: where everything is, the keys, and a first request to try. */
export function bannerLines(banner: Banner): string[] {
  const { baseUrl, functionsUrl, prices, userToken: token } = banner;
  const body = JSON.stringify({
    mode: "payment",
    lineItems: [{ priceId: prices.oneTime, quantity: 1 }],
    successUrl: `${baseUrl}/success`,
    cancelUrl: `${baseUrl}/`,
  });
  return [
    "",
    "payments is running",
    `  demo app    ${baseUrl}/  (pricing, Buy, Subscribe, Manage billing)`,
    `  dashboard   ${baseUrl}/dashboard/${
      banner.dashboardToken ? `?token=${banner.dashboardToken}` : ""
    }  (operators: events, catalog, settings)`,
    `  functions   ${functionsUrl}`,
    banner.stripe
      ? `  stripe      your test account (key ...${banner.stripe.keyLast4}), webhooks to ${banner.stripe.webhooksTo}`
      : `  emulator    ${banner.emulatorUrl}  (Stripe API, hosted Checkout and Billing Portal)`,
    `  database    ${redact(banner.databaseUrl)}`,
    `  prices      ${prices.oneTime} (one-time), ${prices.monthly} (monthly)`,
    "",
    `  user id           ${banner.userId}  (the demo user, owner of team ${banner.teamId})`,
    `  user JWT          ${token}`,
    `  secret key        ${banner.secretKey}  (admin routes, the CLI)`,
    `  publishable key   ${banner.publishableKey}  (supabase-js)`,
    `  signing keys      ${baseUrl}/auth/v1/.well-known/jwks.json`,
    ...(banner.serviceRoleKey ? [`  legacy service role key  ${banner.serviceRoleKey}`] : []),
    ...(banner.anonKey ? [`  legacy anon key          ${banner.anonKey}`] : []),
    "",
    "For the CLI and supabase-js (createClient(SUPABASE_URL, publishable key)):",
    `  export SUPABASE_URL=${baseUrl}`,
    `  export SUPABASE_SECRET_KEY=${banner.secretKey}`,
    "",
    "Create a checkout session as that user:",
    `  curl -s -X POST ${functionsUrl}/stripe/test/checkout-sessions \\`,
    `    -H 'authorization: Bearer ${token}' -H 'content-type: application/json' \\`,
    `    -d '${body}'`,
    "",
    `Open the returned url to pay on ${
      banner.stripe ? "Stripe's" : "the emulator's"
    } Checkout page. Ctrl-C stops everything.`,
  ];
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
