import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { connect } from "../../functions/db.ts";
import { createHandler, functionPath } from "../../functions/handler.ts";
import { createCheckout, paymentRequest } from "../support/checkout.ts";
import { call, postStreamed, withStack } from "../support/stack.ts";

Deno.test("routing: health, unknown routes 404, wrong methods 405, unknown environments 404", async () => {
  await withStack({}, async (stack) => {
    const health = await call(stack, "GET", "/health");
    assert.deepEqual(health, { status: 200, body: { status: "ok", database: "ok" } });
    const unknown = await call(stack, "GET", "/nope");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "not_found");
    const wrong = await call(stack, "GET", "/stripe/test/checkout-sessions");
    assert.equal(wrong.status, 405);
    const env = await call(stack, "POST", "/stripe/staging/checkout-sessions", {
      token: await stack.userToken(crypto.randomUUID()),
      body: {},
    });
    assert.equal(env.status, 404);
    assert.match(env.body.error.message, /staging/);
  });
});

Deno.test("JWTs: missing, unsigned, wrongly signed and expired tokens are refused with 401", async () => {
  await withStack({}, async (stack) => {
    const claims = { sub: crypto.randomUUID(), role: "authenticated" };
    const none = new UnsecuredJWT(claims).setIssuedAt().setExpirationTime("1h").encode();
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime(
      "1h",
    )
      .sign(new TextEncoder().encode("another-secret-another-secret-another-secret"));
    const expired = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(
        new TextEncoder().encode(stack.jwtSecret!),
      );
    for (const token of [undefined, none, forged, expired, "not-a-jwt"]) {
      const { status, body } = await createCheckout(stack, token, {});
      assert.equal(status, 401, `token ${token}`);
      assert.equal(body.error.code, "unauthorized");
    }
    const service = await createCheckout(stack, stack.serviceRoleKey, {});
    assert.equal(service.status, 401, "checkout needs a user, not the service role");
  });
});

Deno.test("functionPath strips the Supabase and local prefixes", () => {
  assert.equal(functionPath("/payments/stripe/status"), "/stripe/status");
  assert.equal(functionPath("/functions/v1/payments/health/"), "/health");
  assert.equal(functionPath("/stripe/status"), "/stripe/status");
});

Deno.test("JWTs: asymmetric tokens verify against the configured JWKS, others are refused", async () => {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "key-1", alg: "ES256", use: "sig" };
  const jwks = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => Response.json({ keys: [jwk] }),
  );
  try {
    await withStack({ jwksUrl: `http://127.0.0.1:${jwks.addr.port}/jwks.json` }, async (stack) => {
      const claims = { sub: crypto.randomUUID(), role: "authenticated", aud: "authenticated" };
      const signed = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "key-1" })
        .setExpirationTime("1h").sign(privateKey);
      const other = await generateKeyPair("ES256");
      const stranger = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "key-1" })
        .setExpirationTime("1h").sign(other.privateKey);
      const body = paymentRequest("price_1");
      // Past authentication, the request stops at the missing Stripe key: 503, not 401.
      const accepted = await createCheckout(stack, signed, body);
      assert.equal(accepted.status, 503, JSON.stringify(accepted.body));
      const refused = await createCheckout(stack, stranger, body);
      assert.equal(refused.status, 401);
      const hs256 = await createCheckout(stack, await stack.legacyUserToken!(claims.sub), body);
      assert.equal(hs256.status, 503, "the project's HS256 secret still works beside the JWKS");
    });
  } finally {
    await jwks.shutdown();
  }
});

Deno.test("health answers 503 when the database does not answer", async () => {
  await withStack({}, async (stack) => {
    const sql = connect("postgres://postgres@127.0.0.1:9/none?sslmode=disable", { max: 1 });
    try {
      const response = await createHandler({ ...stack.deps, sql })(
        new Request(`${stack.functionsUrl}/health`),
      );
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { status: "degraded", database: "unavailable" });
    } finally {
      await sql.end({ timeout: 0 });
    }
  });
});

Deno.test("user and admin routes refuse bodies over 64 KiB with 413, declared or streamed", async () => {
  await withStack({}, async (stack) => {
    const big = JSON.stringify({ metadata: { note: "x".repeat(65 * 1024) } });
    const user = await createCheckout(stack, await stack.userToken(crypto.randomUUID()), big);
    assert.equal(user.status, 413);
    assert.equal(user.body.error.code, "payload_too_large");
    const admin = await call(stack, "PUT", "/stripe/test/config", {
      headers: { apikey: stack.secretKey },
      body: big,
    });
    assert.equal(admin.status, 413);
    // A chunked body declares no length: it is cut off at the cap, not read to its end.
    const streamed = await postStreamed(
      stack,
      "/stripe/test/products",
      { apikey: stack.secretKey, "content-type": "application/json" },
      new Uint8Array(16 * 1024).fill(32),
      4096,
    );
    assert.equal(streamed.status, 413);
    const { pulled } = streamed;
    assert.ok(pulled <= 8, `reading stopped early (${pulled} chunks pulled)`);
  });
});

Deno.test("a malformed % escape in a path segment answers 400, not 500", async () => {
  await withStack({}, async (stack) => {
    for (
      const path of ["/stripe/test/events/evt_%zz/replay", "/stripe/test/webhook-events/%E0%A4"]
    ) {
      const method = path.endsWith("replay") ? "POST" : "GET";
      const response = await call(stack, method, path, { headers: { apikey: stack.secretKey } });
      assert.equal(response.status, 400, `${method} ${path}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, "invalid_request");
    }
  });
});
