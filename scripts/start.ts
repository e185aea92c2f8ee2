// `npm start`: the whole stack on this machine, ready for a first checkout. Its database, the
// emulator's objects, keys and demo user are kept in the local state folder (see local_state.ts);
// `npm start -- --reset` starts clean.
import { dashboardRoutes } from "../dashboard/serve.ts";
import { demoRoutes } from "../demo/routes.ts";
import { type Demo, setUpDemo } from "../demo/setup.ts";
import { removeCluster } from "./lib/cluster.mjs";
import {
  type Banner,
  bannerLines,
  isRunning,
  type LocalKeys,
  type LocalState,
  readState,
  stateDir,
  statePaths,
  writeState,
} from "./local_state.ts";
import { newSigningKey, startStack } from "./stack.ts";

const env = Deno.env.toObject();
const say = (line = "") => console.log(line);
const dir = stateDir((name) => env[name]);

let stack: Awaited<ReturnType<typeof startStack>> | undefined;
let demo: Demo | undefined;
let state: LocalState = {};
let stopping = false;
// The dashboard talks to this stack's function with its service role key.
// Only a page opened with the banner's URL (its one-time token) gets the key.
const dashboardToken = crypto.randomUUID();
const dashboard = dashboardRoutes(() =>
  stack && { apiUrl: stack.functionsUrl, secretKey: stack.secretKey, token: dashboardToken }
);
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  say("\nstopping ...");
  await stack?.stop();
  if (state.running?.pid === Deno.pid) {
    delete state.running;
    await writeState(dir, state).catch(() => {});
  }
  Deno.exit(code);
}
Deno.addSignalListener("SIGINT", () => shutdown(0));
Deno.addSignalListener("SIGTERM", () => shutdown(0));

try {
  const reset = startArguments(Deno.args);
  const stored = await readState(dir);
  if (stored?.running && await isRunning(stored.running)) {
    throw new Error(
      `the local stack is already running at ${stored.running.baseUrl} (process ${stored.running.pid}, ` +
        `state in ${dir}); npx pgpayments status --local prints its keys again.`,
    );
  }
  if (reset) {
    removeCluster(statePaths(dir).database);
    await Deno.remove(dir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    say(`npm start: --reset: removed the local state in ${dir}; starting clean.`);
  } else if (stored) {
    console.error(
      `[payments] reusing the local state in ${dir} (npm start -- --reset starts clean)`,
    );
  }
  state = (reset ? undefined : stored) ?? {};
  state.keys ??= await newLocalKeys();
  await writeState(dir, state);
  const keys = state.keys;

  const databaseUrl = env.DATABASE_URL ?? env.SUPABASE_DB_URL;
  if (databaseUrl) {
    console.error(
      "[payments] using DATABASE_URL: the demo adds public.orders, public.teams, public.team_members," +
        " their policies and a fulfillment trigger there; use a scratch database.",
    );
  }
  const paths = statePaths(dir);
  stack = await startStack({
    databaseUrl,
    databaseDir: paths.database,
    emulatorStateFile: paths.emulator,
    port: portFrom("PORT", 54321),
    emulatorPort: portFrom("STRIPE_EMULATOR_PORT", 12111),
    jwtSecret: env.JWT_SECRET ?? env.SUPABASE_JWT_SECRET ?? keys.jwtSecret,
    secretKeys: keysFrom("SUPABASE_SECRET_KEYS") ?? keys.secretKeys,
    publishableKeys: keysFrom("SUPABASE_PUBLISHABLE_KEYS") ?? keys.publishableKeys,
    jwks: env.SUPABASE_JWKS ? JSON.parse(env.SUPABASE_JWKS) : keys.jwks,
    stripeSecretKey: testKey(env.STRIPE_SECRET_KEY),
    stripeApiBase: env.STRIPE_API_BASE,
    publicUrl: env.PUBLIC_URL,
    // The deployment's settings (user environments, redirect origins, caps, timeouts) apply here too.
    settings: Object.fromEntries(
      Object.entries(env).filter(([name]) => name.startsWith("PAYMENTS_")),
    ),
    log: (line) => console.error(`[payments] ${line}`),
    extraRoutes: async (request) =>
      (await dashboard(request)) ?? (await demoRoutes(() => demo)(request)),
  });

  // Example tables and triggers, the catalog, Stripe connected as `test`, the demo team (kept).
  const running = stack;
  demo = await setUpDemo(running, { reuse: state.demo });
  const { prices, userId, email, teamId, teamName } = demo;
  state.demo = { userId, email, teamId, teamName };
  const banner: Banner = {
    baseUrl: running.baseUrl,
    functionsUrl: running.functionsUrl,
    emulatorUrl: running.usesEmulator ? running.emulatorUrl : undefined,
    stripe: running.usesEmulator ? undefined : {
      keyLast4: env.STRIPE_SECRET_KEY!.slice(-4),
      webhooksTo: env.PUBLIC_URL ?? running.baseUrl,
    },
    databaseUrl: running.databaseUrl,
    prices,
    userId,
    teamId,
    userToken: await running.userToken(userId, email),
    dashboardToken,
    secretKey: running.secretKey,
    publishableKey: running.publishableKey,
    serviceRoleKey: running.serviceRoleKey,
    anonKey: running.anonKey,
  };
  state.running = { ...banner, pid: Deno.pid, startedAt: new Date().toISOString() };
  await writeState(dir, state);
  for (const line of bannerLines(banner)) say(line);
  // Tokens last a day: the stored banner gets a fresh one every hour while the stack runs.
  setInterval(async () => {
    if (stopping || !state.running) return;
    state.running.userToken = await running.userToken(userId, email);
    await writeState(dir, state);
  }, 60 * 60 * 1000);
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

/** `--reset` or nothing: anything else is a typo worth stopping for. */
function startArguments(args: string[]): boolean {
  const unknown = args.filter((arg) => arg !== "--reset");
  if (unknown.length > 0) {
    throw new Error(
      `unknown argument '${unknown[0]}': npm start takes only --reset (npm start -- --reset).`,
    );
  }
  return args.includes("--reset");
}

/** Keys for a new state folder, random so that no two folders (or machines) share them. */
async function newLocalKeys(): Promise<LocalKeys> {
  const random = (bytes: number) =>
    btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(bytes))))
      .replace(/[+/=]/g, "").slice(0, bytes);
  return {
    secretKeys: { default: `sb_secret_${random(32)}` },
    publishableKeys: { default: `sb_publishable_${random(32)}` },
    jwks: { keys: [{ ...await newSigningKey() }] },
    jwtSecret: random(48),
  };
}
