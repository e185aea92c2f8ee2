// `npm start` twice on one state folder: the same keys, user, team, prices, orders and emulator
// objects, and the demo still pays end to end; `--reset` starts clean; `status --local` prints
// the banner again. Everything runs as a user would run it: scripts/start.ts and the CLI's bin.
import assert from "node:assert/strict";
import postgres from "postgres";
import Stripe from "stripe";
import { removeCluster } from "../../scripts/lib/cluster.mjs";
import { createCheckout, paymentRequest } from "../support/checkout.ts";
import { eventually } from "../support/stack.ts";

const DENO = new URL("../../node_modules/.bin/deno", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
// What a developer (or npm test: DATABASE_URL) exported must not reach the stack under test.
const UNSET = [
  "DATABASE_URL",
  "SUPABASE_DB_URL",
  "SUPABASE_SECRET_KEYS",
  "SUPABASE_PUBLISHABLE_KEYS",
  "SUPABASE_JWKS",
  "JWT_SECRET",
  "SUPABASE_JWT_SECRET",
  "STRIPE_SECRET_KEY",
  "STRIPE_API_BASE",
  "PUBLIC_URL",
];

interface Banner {
  baseUrl: string;
  functionsUrl: string;
  emulatorUrl: string;
  databaseUrl: string;
  prices: { oneTime: string; monthly: string };
  userId: string;
  teamId: string;
  userToken: string;
  secretKey: string;
  publishableKey: string;
  serviceRoleKey: string;
}

function environment(stateDir: string, given: Record<string, string> = {}) {
  const env = Deno.env.toObject();
  for (const name of UNSET) delete env[name];
  // Free ports: the fixed defaults may be taken by a developer's own `npm start`.
  return { ...env, PGPAYMENTS_STATE_DIR: stateDir, PORT: "0", STRIPE_EMULATOR_PORT: "0", ...given };
}

/** Runs `npm start` (scripts/start.ts) until its banner is out; returns the banner's lines. */
async function start(stateDir: string, args: string[] = [], given: Record<string, string> = {}) {
  const child = new Deno.Command(DENO, {
    args: ["run", "-A", "scripts/start.ts", ...args],
    cwd: ROOT,
    env: environment(stateDir, given),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  const deadline = Date.now() + 90_000;
  while (!stdout.includes("Ctrl-C stops everything.")) {
    const { value, done } = await reader.read();
    if (done || Date.now() > deadline) {
      if (!done) child.kill("SIGKILL");
      await child.status;
      throw new Error(`npm start did not print its banner:\n${stdout}\n${await stderr}`);
    }
    stdout += value;
  }
  return {
    stdout,
    async stop() {
      child.kill("SIGTERM");
      const status = await child.status;
      // Drain what is left, so no stream outlives the test.
      while (!(await reader.read()).done);
      await stderr;
      assert.equal(status.code, 0, "npm start stops cleanly on SIGTERM");
    },
    kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    },
  };
}

/** `npx pgpayments status --local [--json]` through the npm bin. */
async function status(stateDir: string, json = false) {
  const output = await new Deno.Command("node", {
    args: ["cli/payments.mjs", "status", "--local", ...(json ? ["--json"] : [])],
    cwd: ROOT,
    env: environment(stateDir),
    clearEnv: true,
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

async function banner(stateDir: string): Promise<Banner> {
  const result = await status(stateDir, true);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function jwks(info: Banner) {
  return await (await fetch(`${info.baseUrl}/auth/v1/.well-known/jwks.json`)).json();
}

async function demoApi(info: Banner, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${info.baseUrl}/demo/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The demo's one-time purchase, as its page does it: an order, Checkout, the Pay button. */
async function buyStarterPack(info: Banner): Promise<{ orderId: string; sessionId: string }> {
  // The orders table prices an order from the catalog: a recurring price is no order.
  const refused = await demoApi(info, info.userToken, "POST", "/orders", {
    priceId: info.prices.monthly,
  });
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, "validation_failed");
  const order = await demoApi(info, info.userToken, "POST", "/orders", {
    priceId: info.prices.oneTime,
  });
  assert.equal(order.status, 201, JSON.stringify(order.body));
  const orderId = order.body.order.id;
  const created = await createCheckout(
    info,
    info.userToken,
    paymentRequest(info.prices.oneTime, {
      successUrl: `${info.baseUrl}/success`,
      cancelUrl: `${info.baseUrl}/`,
      metadata: { order_id: orderId },
    }),
  );
  const { checkoutSession } = created.body;
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const html = await (await fetch(checkoutSession.url)).text();
  const form = /<form[^>]*action="([^"]+)"[^>]*>[\s\S]*?Pay/i.exec(html);
  assert.ok(form, "the hosted page has a Pay form");
  const paid = await fetch(new URL(form[1].replaceAll("&amp;", "&"), checkoutSession.url), {
    method: "POST",
    redirect: "manual",
  });
  await paid.body?.cancel();
  assert.equal(paid.status, 303);
  await eventually("the order to be paid", async () => {
    const { body } = await demoApi(info, info.userToken, "GET", `/orders/${orderId}`);
    return body.order?.status === "paid";
  }, 10_000);
  return { orderId, sessionId: checkoutSession.checkoutSessionId };
}

function emulatorClient(info: Banner): Stripe {
  const url = new URL(info.emulatorUrl);
  return new Stripe("sk_test_localemulator0000000000", {
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 0,
  });
}

async function countOrders(info: Banner): Promise<number> {
  const sql = postgres(info.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [{ count }] = await sql`select count(*)::int as count from public.orders`;
    return count;
  } finally {
    await sql.end();
  }
}

Deno.test("npm start keeps its state across restarts, --reset starts clean, status --local prints the banner", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pgpayments-state-" });
  // Under root the server runs as postgres, which must reach the folder (as in a repository).
  await Deno.chmod(dir, 0o755);
  const stateDir = `${dir}/state`;
  const running: { kill(): void }[] = [];
  try {
    const missing = await status(stateDir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no local stack state in .*: npm start creates it/);

    // First start: a new state folder.
    const first = await start(stateDir);
    running.push(first);
    const again = await status(stateDir);
    assert.equal(again.code, 0, again.stderr);
    const printed = first.stdout.slice(0, first.stdout.indexOf("Ctrl-C stops everything.") + 25);
    assert.equal(again.stdout.trimEnd(), printed.trimEnd(), "status --local prints the banner");
    for (
      const line of [/^ {2}user JWT {10}ey\S+$/m, /^ {2}export SUPABASE_SECRET_KEY=sb_secret_/m]
    ) {
      assert.match(again.stdout, line);
    }
    const one = await banner(stateDir);
    const signingKeys = await jwks(one);
    const bought = await buyStarterPack(one);
    await first.stop();
    running.pop();
    const stopped = await status(stateDir);
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /the local stack is not running/);

    // Second start on the same folder: everything is still there.
    const second = await start(stateDir);
    running.push(second);
    assert.doesNotMatch(second.stdout, /--reset/);
    const two = await banner(stateDir);
    for (const key of ["secretKey", "publishableKey", "userId", "teamId", "prices"] as const) {
      assert.deepEqual(two[key], one[key], `${key} is kept`);
    }
    assert.deepEqual(await jwks(two), signingKeys, "the signing keys are kept");
    // Tokens and keys issued before the restart still work: the same secrets verify them.
    const kept = await demoApi(two, one.userToken, "GET", `/orders/${bought.orderId}`);
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    assert.equal(kept.body.order.status, "paid", "the order row and its status are kept");
    const legacy = await fetch(`${two.functionsUrl}/stripe/status`, {
      headers: { authorization: `Bearer ${one.serviceRoleKey}` },
    });
    assert.equal(legacy.status, 200, await legacy.text());
    const session = await emulatorClient(two).checkout.sessions.retrieve(bought.sessionId);
    assert.deepEqual([session.status, session.payment_status], ["complete", "paid"]);
    // And the demo still works end to end (the webhook endpoint follows the new port).
    await buyStarterPack(two);
    assert.equal(await countOrders(two), 2);
    await second.stop();
    running.pop();

    // --reset: says so, and everything is new; a key given in the environment wins, as always.
    const given = "sb_secret_given_by_the_environment_0000";
    const third = await start(stateDir, ["--reset"], {
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: given }),
      // The deployment's settings reach the local function as they reach a deployed one.
      PAYMENTS_USER_ENVIRONMENTS: "live",
    });
    running.push(third);
    assert.match(third.stdout, /--reset: removed the local state in .*; starting clean/);
    const three = await banner(stateDir);
    for (const key of ["secretKey", "publishableKey", "userId", "teamId"] as const) {
      assert.notEqual(three[key], one[key], `${key} is new`);
    }
    assert.equal(three.secretKey, given);
    const testMode = await createCheckout(
      three,
      three.userToken,
      paymentRequest(three.prices.oneTime),
    );
    assert.equal(testMode.status, 403, "PAYMENTS_USER_ENVIRONMENTS=live closes test mode to users");
    assert.notDeepEqual(three.prices, one.prices);
    assert.notDeepEqual(await jwks(three), signingKeys);
    assert.equal(await countOrders(three), 0);
    const gone = await emulatorClient(three).checkout.sessions.retrieve(bought.sessionId)
      .then(() => undefined, (error) => error);
    assert.equal(gone?.statusCode, 404);
    const refused = await fetch(`${three.functionsUrl}/stripe/status`, {
      headers: { apikey: one.secretKey },
    });
    await refused.body?.cancel();
    assert.equal(refused.status, 401, "the old secret key no longer works");
    await third.stop();
    running.pop();
  } finally {
    for (const child of running) child.kill();
    // A killed start leaves its server behind; stop it before removing the files.
    removeCluster(`${stateDir}/postgres`);
    await Deno.remove(dir, { recursive: true });
  }
});
