// Who may call: Supabase's current API keys and signing keys, and the legacy JWT secret beside them.
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { depsFromEnv } from "../../functions/config.ts";
import { createCheckout, paymentRequest } from "../support/checkout.ts";
import { call, withStack } from "../support/stack.ts";

const CHECKOUT = paymentRequest("price_1");

/** Past authentication, a checkout stops at the missing Stripe key: 503 means "authenticated". */
const AUTHENTICATED = 503;

Deno.test("admin routes accept any of the project's secret keys, in apikey or as a Bearer token", async () => {
  await withStack(
    { secretKeys: { default: "sb_secret_first", ci: "sb_secret_second" } },
    async (stack) => {
      const attempts: Record<string, string>[] = [
        { apikey: "sb_secret_first" },
        { authorization: "Bearer sb_secret_first" },
        { apikey: "sb_secret_second" },
      ];
      for (const headers of attempts) {
        const { status } = await call(stack, "GET", "/stripe/status", { headers });
        assert.equal(status, 200, JSON.stringify(headers));
      }
      const legacy = await call(stack, "GET", "/stripe/status", { token: stack.serviceRoleKey });
      assert.equal(legacy.status, 200, "a legacy service-role JWT still works");
    },
  );
});

Deno.test("an unknown secret key is 401, a publishable key or a user token on an admin route is 403", async () => {
  await withStack({}, async (stack) => {
    const unknown = await call(stack, "GET", "/stripe/status", {
      headers: { apikey: "sb_secret_not_this_projects" },
    });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error.code, "unauthorized");
    assert.ok(!JSON.stringify(unknown.body).includes("sb_secret_not_this_projects"));
    const publishable = await call(stack, "GET", "/stripe/status", {
      headers: { apikey: stack.publishableKey },
    });
    assert.equal(publishable.status, 403);
    assert.equal(publishable.body.error.code, "forbidden");
    const user = await call(stack, "GET", "/stripe/status", {
      token: await stack.userToken(crypto.randomUUID()),
    });
    assert.equal(user.status, 403);
    const nothing = await call(stack, "GET", "/stripe/status");
    assert.equal(nothing.status, 401);
  });
});

Deno.test("user routes take JWTs signed with the project's JWKS; API keys are not users", async () => {
  await withStack({}, async (stack) => {
    const user = await createCheckout(stack, await stack.userToken(crypto.randomUUID()), CHECKOUT);
    assert.equal(user.status, AUTHENTICATED, JSON.stringify(user.body));
    for (const key of [stack.publishableKey, stack.secretKey]) {
      const refused = await createCheckout(stack, key, CHECKOUT);
      assert.equal(refused.status, 401, key.slice(0, 14));
      assert.equal(refused.body.error.code, "unauthorized");
    }
  });
});

Deno.test("user JWTs without exp, or with an audience other than authenticated, are refused", async () => {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "k1", alg: "ES256" };
  await withStack({ jwks: { keys: [jwk] } }, async (stack) => {
    assert.ok(!stack.jwks.keys.some((key) => "d" in key), "the private part is never published");
    const published = await (await fetch(`${stack.baseUrl}/auth/v1/.well-known/jwks.json`)).json();
    assert.deepEqual(published.keys.map((key: { kid: string }) => key.kid), ["k1"]);
    assert.deepEqual(
      { x: published.keys[0].x, y: published.keys[0].y },
      { x: (await exportJWK(publicKey)).x, y: (await exportJWK(publicKey)).y },
    );
    const sub = crypto.randomUUID();
    const sign = (claims: Record<string, unknown>, exp = true) => {
      const jwt = new SignJWT({ sub, role: "authenticated", ...claims })
        .setProtectedHeader({ alg: "ES256", kid: "k1" });
      return (exp ? jwt.setExpirationTime("1h") : jwt).sign(privateKey);
    };
    const legacy = (claims: Record<string, unknown>, exp = true) => {
      const jwt = new SignJWT({ sub, role: "authenticated", ...claims })
        .setProtectedHeader({ alg: "HS256" });
      return (exp ? jwt.setExpirationTime("1h") : jwt).sign(
        new TextEncoder().encode(stack.jwtSecret!),
      );
    };
    const cases: [string, string, number][] = [
      ["signed, aud authenticated", await sign({ aud: "authenticated" }), AUTHENTICATED],
      ["aud as a list", await sign({ aud: ["authenticated", "x"] }), AUTHENTICATED],
      ["no exp", await sign({ aud: "authenticated" }, false), 401],
      ["no aud", await sign({}), 401],
      ["another aud", await sign({ aud: "anon" }), 401],
      ["legacy, aud authenticated", await legacy({ aud: "authenticated" }), AUTHENTICATED],
      ["legacy without exp", await legacy({ aud: "authenticated" }, false), 401],
      ["legacy with another aud", await legacy({ aud: "service" }), 401],
    ];
    for (const [name, token, expected] of cases) {
      const { status, body } = await createCheckout(stack, token, CHECKOUT);
      assert.equal(status, expected, `${name}: ${JSON.stringify(body)}`);
    }
  });
});

Deno.test("without a legacy JWT secret, HS256 tokens are refused and the new keys carry everything", async () => {
  await withStack({ jwtSecret: null }, async (stack) => {
    assert.equal(stack.serviceRoleKey, undefined);
    const hs256 = await new SignJWT({
      sub: crypto.randomUUID(),
      role: "authenticated",
      aud: "authenticated",
    }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h")
      .sign(new TextEncoder().encode("super-secret-jwt-token-with-at-least-32-characters-long"));
    const refused = await createCheckout(stack, hs256, CHECKOUT);
    assert.equal(refused.status, 401);
    const user = await createCheckout(stack, await stack.userToken(crypto.randomUUID()), CHECKOUT);
    assert.equal(user.status, AUTHENTICATED);
    const admin = await call(stack, "GET", "/stripe/status", { token: stack.secretKey });
    assert.equal(admin.status, 200);
  });
});

Deno.test("configuration: the new keys alone are enough; malformed values are named", () => {
  const env = (values: Record<string, string>) => ({ get: (name: string) => values[name] });
  const base = { DATABASE_URL: "postgres://postgres@127.0.0.1:9/none?sslmode=disable" };
  const deps = depsFromEnv(env({
    ...base,
    SUPABASE_SECRET_KEYS: '{"default":"sb_secret_a","other":"sb_secret_b"}',
    SUPABASE_JWKS: '{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"k"}]}',
  }));
  try {
    assert.deepEqual(deps.auth.secretKeys, { default: "sb_secret_a", other: "sb_secret_b" });
    assert.equal(deps.auth.legacySecret, undefined);
    const single = depsFromEnv(env({ ...base, SUPABASE_SECRET_KEY: "sb_secret_single" }));
    single.sql.end({ timeout: 0 });
    assert.deepEqual(single.auth.secretKeys, { default: "sb_secret_single" });
  } finally {
    deps.sql.end({ timeout: 0 });
  }
  assert.throws(
    () => depsFromEnv(env({ ...base, SUPABASE_SECRET_KEYS: "sb_secret_a" })),
    /SUPABASE_SECRET_KEYS is not JSON/,
  );
  assert.throws(
    () => depsFromEnv(env({ ...base, SUPABASE_JWKS: '{"nope":1}' })),
    /SUPABASE_JWKS must be/,
  );
  assert.throws(() => depsFromEnv(env(base)), /SUPABASE_SECRET_KEYS and SUPABASE_JWKS/);
});
