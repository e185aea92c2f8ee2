// The operator routes over HTTP: catalog management through the emulator with the mirror updated
// at once and again by the signed webhooks, the admin lists and their pages, one stored event,
// the overview, and the refusals (wrong caller, bad filters, immutable price fields).
import assert from "node:assert/strict";
import { call, eventually, type Stack, withStack } from "../support/stack.ts";

async function connected(stack: Stack): Promise<void> {
  const response = await stack.connectStripe();
  assert.equal(response.status, 200, await response.text());
}

Deno.test("catalog routes create and edit products and prices, mirrored at once and by webhook", async () => {
  await withStack({}, async (stack) => {
    await connected(stack);
    const token = stack.secretKey;

    const created = await call(stack, "POST", "/stripe/test/products", {
      token,
      body: { name: "Team plan", description: "For teams", metadata: { tier: "team" } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { productId } = created.body.product;
    assert.match(productId, /^prod_/);
    assert.deepEqual(created.body.product.metadata, { tier: "team" });
    // Mirrored before the answer: no wait for the webhook.
    const [row] = await stack.sql`
      select name, description, active from payments.stripe_products
      where environment = 'test' and product_id = ${productId}`;
    assert.deepEqual({ ...row }, { name: "Team plan", description: "For teams", active: true });

    const price = await call(stack, "POST", "/stripe/test/prices", {
      token,
      body: {
        productId,
        currency: "EUR",
        unitAmount: 2500,
        recurring: { interval: "month", intervalCount: 1 },
        lookupKey: "team_monthly",
      },
    });
    assert.equal(price.status, 201, JSON.stringify(price.body));
    const { priceId } = price.body.price;
    assert.deepEqual(
      { ...price.body.price, priceId: undefined },
      {
        priceId: undefined,
        productId,
        currency: "eur",
        unitAmount: 2500,
        type: "recurring",
        recurring: { interval: "month", intervalCount: 1 },
        lookupKey: "team_monthly",
        nickname: null,
        active: true,
        metadata: {},
      },
    );

    const listed = await call(stack, "GET", "/stripe/test/products?active=true", { token });
    assert.equal(listed.status, 200);
    const product = listed.body.data.find((item: { productId: string }) =>
      item.productId === productId
    );
    assert.equal(product.prices.length, 1);
    assert.equal(product.prices[0].priceId, priceId);

    const immutable = await call(stack, "PATCH", `/stripe/test/prices/${priceId}`, {
      token,
      body: { unitAmount: 3000 },
    });
    assert.equal(immutable.status, 400);
    assert.equal(immutable.body.error.details.fields[0].field, "unitAmount");

    const archivedPrice = await call(stack, "PATCH", `/stripe/test/prices/${priceId}`, {
      token,
      body: { active: false, nickname: "old" },
    });
    assert.equal(archivedPrice.status, 200, JSON.stringify(archivedPrice.body));
    assert.equal(archivedPrice.body.price.active, false);
    const archived = await call(stack, "PATCH", `/stripe/test/products/${productId}`, {
      token,
      body: { active: false, name: "Team plan (old)" },
    });
    assert.equal(archived.status, 200, JSON.stringify(archived.body));
    const [after] = await stack.sql`
      select p.active, p.name, r.active as price_active, r.nickname
      from payments.stripe_products p join payments.stripe_prices r using (environment, product_id)
      where p.environment = 'test' and p.product_id = ${productId}`;
    assert.deepEqual({ ...after }, {
      active: false,
      name: "Team plan (old)",
      price_active: false,
      nickname: "old",
    });

    // The webhooks of all four changes arrive later; the newest state stays.
    await eventually("the catalog webhooks", async () => {
      const [{ n }] = await stack.sql`
        select count(*)::int as n from payments.webhook_events
        where environment = 'test' and object_id in (${productId}, ${priceId})
          and processing_status = 'processed'`;
      return n >= 4;
    });
    const [settled] = await stack.sql`
      select active, name from payments.stripe_products
      where environment = 'test' and product_id = ${productId}`;
    assert.deepEqual({ ...settled }, { active: false, name: "Team plan (old)" });
    const inactive = await call(stack, "GET", "/stripe/test/products?active=false", { token });
    assert.ok(
      inactive.body.data.some((item: { productId: string }) => item.productId === productId),
    );
  });
});

Deno.test("catalog routes refuse bad bodies and unknown ids with the right status", async () => {
  await withStack({}, async (stack) => {
    await connected(stack);
    const token = stack.secretKey;
    const noName = await call(stack, "POST", "/stripe/test/products", { token, body: {} });
    assert.equal(noName.status, 400);
    assert.equal(noName.body.error.details.fields[0].field, "name");
    const extra = await call(stack, "POST", "/stripe/test/products", {
      token,
      body: { name: "x", price: 5 },
    });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.error.details.fields[0].field, "price");
    const badPrice = await call(stack, "POST", "/stripe/test/prices", {
      token,
      body: {
        productId: "prod_x",
        currency: "dollars",
        unitAmount: 1.5,
        recurring: { interval: "hour" },
      },
    });
    assert.equal(badPrice.status, 400);
    assert.deepEqual(
      badPrice.body.error.details.fields.map((field: { field: string }) => field.field).sort(),
      ["currency", "recurring.interval", "unitAmount"],
    );
    const missing = await call(stack, "PATCH", "/stripe/test/products/prod_missing", {
      token,
      body: { name: "x" },
    });
    assert.equal(missing.status, 404, JSON.stringify(missing.body));
    const user = await stack.userToken(crypto.randomUUID());
    const refused = await call(stack, "POST", "/stripe/test/products", {
      token: user,
      body: { name: "x" },
    });
    assert.equal(refused.status, 403);
  });
});

Deno.test("catalog creates with one Idempotency-Key make one object, and refuse its reuse or a bad key", async () => {
  await withStack({}, async (stack) => {
    await connected(stack);
    const token = stack.secretKey;
    const name = `Idempotent ${crypto.randomUUID()}`;
    const create = (key: string, body: Record<string, unknown>, path = "/stripe/test/products") =>
      call(stack, "POST", path, { token, body, headers: { "idempotency-key": key } });
    const inEmulator = async () =>
      (await stack.stripe.products.list({ limit: 100 })).data.filter((p) => p.name === name)
        .length;

    const first = await create("form-1", { name });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const again = await create("form-1", { name });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.product.productId, first.body.product.productId);
    assert.equal(await inEmulator(), 1);

    const other = await create("form-1", { name, description: "changed" });
    assert.equal(other.status, 409, JSON.stringify(other.body));
    assert.equal(other.body.error.code, "idempotency_conflict");
    assert.equal(await inEmulator(), 1);

    // The same caller key on the prices route is another request, not a conflict.
    const productId = first.body.product.productId;
    const priceBody = { productId, currency: "usd", unitAmount: 500 };
    const price = await create("form-1", priceBody, "/stripe/test/prices");
    assert.equal(price.status, 201, JSON.stringify(price.body));
    const priceAgain = await create("form-1", priceBody, "/stripe/test/prices");
    assert.equal(priceAgain.body.price.priceId, price.body.price.priceId);
    assert.equal((await stack.stripe.prices.list({ product: productId })).data.length, 1);

    for (const key of ["", "x".repeat(256), "caf\u00e9", "tab\tkey"]) {
      const bad = await create(key, { name });
      assert.equal(bad.status, 400, `${JSON.stringify(key)}: ${JSON.stringify(bad.body)}`);
      assert.equal(bad.body.error.code, "validation_failed");
      assert.equal(bad.body.error.details.fields[0].field, "Idempotency-Key");
    }
    assert.equal((await create("x".repeat(255), { name: `${name} long` })).status, 201);
    assert.equal(await inEmulator(), 1);
  });
});

Deno.test("admin lists page through every event once, filter, and show one event whole", async () => {
  await withStack({}, async (stack) => {
    const token = stack.secretKey;
    for (let i = 0; i < 23; i++) {
      const event = {
        id: `evt_list_${String(i).padStart(2, "0")}`,
        object: "event",
        type: i % 2 ? "customer.created" : "unknown.event",
        created: 1_700_000_000 + i,
        livemode: false,
        data: { object: { id: `cus_${i}`, object: "customer", email: `c${i}@example.com` } },
      };
      await stack.sql`select payments.ingest_stripe_event('test', ${stack.sql.json(event)})`;
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const path: string = `/stripe/test/webhook-events?limit=5${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`;
      const page = await call(stack, "GET", path, { token });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      seen.push(...page.body.data.map((event: { eventId: string }) => event.eventId));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 5);
    assert.equal(seen.length, 23);
    assert.equal(new Set(seen).size, 23);

    const ignored = await call(
      stack,
      "GET",
      "/stripe/test/webhook-events?status=ignored&limit=100",
      {
        token,
      },
    );
    assert.equal(ignored.body.data.length, 12);
    const byType = await call(stack, "GET", "/stripe/test/webhook-events?type=customer.created", {
      token,
    });
    assert.equal(byType.body.data.length, 11);
    assert.ok(byType.body.data.every((event: { status: string }) => event.status === "processed"));

    const one = await call(stack, "GET", "/stripe/test/webhook-events/evt_list_03", { token });
    assert.equal(one.status, 200);
    assert.equal(one.body.event.payload.data.object.email, "c3@example.com");
    assert.equal(one.body.event.attempts, 1);
    const unknown = await call(stack, "GET", "/stripe/test/webhook-events/evt_nope", { token });
    assert.equal(unknown.status, 404);

    const customers = await call(stack, "GET", "/stripe/test/customers?limit=100", { token });
    assert.equal(customers.body.data.length, 11);
    const overview = await call(stack, "GET", "/stripe/test/overview", { token });
    assert.equal(overview.status, 200);
    assert.equal(overview.body.failedEvents, 0);
    assert.equal(
      overview.body.eventsPerHour.reduce(
        (sum: number, row: { count: number }) => sum + row.count,
        0,
      ),
      23,
    );
  });
});

Deno.test("admin lists refuse bad filters and callers that are not the service role", async () => {
  await withStack({}, async (stack) => {
    const token = stack.secretKey;
    const cases: [string, string][] = [
      ["/stripe/test/webhook-events?limit=0", "limit"],
      ["/stripe/test/webhook-events?limit=ten", "limit"],
      ["/stripe/test/transactions?since=yesterday", "since"],
      ["/stripe/test/customers?status=active", "status"],
      ["/stripe/test/products?active=maybe", "active"],
    ];
    for (const [path, field] of cases) {
      const { status, body } = await call(stack, "GET", path, { token });
      assert.equal(status, 400, path);
      assert.match(JSON.stringify(body.error), new RegExp(field), path);
    }
    const cursor = await call(stack, "GET", "/stripe/test/subscriptions?cursor=abc", { token });
    assert.equal(cursor.status, 400);
    assert.match(cursor.body.error.message, /cursor/);
    assert.equal((await call(stack, "GET", "/stripe/sandbox/customers", { token })).status, 404);
    const user = await stack.userToken(crypto.randomUUID());
    assert.equal(
      (await call(stack, "GET", "/stripe/test/transactions", { token: user })).status,
      403,
    );
    assert.equal((await call(stack, "GET", "/stripe/test/webhook-events")).status, 401);
    const methods = await call(stack, "DELETE", "/stripe/test/products", { token });
    assert.equal(methods.status, 405);
    // The dashboard on the operator's machine calls from another origin, PATCH included.
    const preflight = await fetch(`${stack.functionsUrl}/stripe/test/products/prod_x`, {
      method: "OPTIONS",
    });
    await preflight.body?.cancel();
    assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /\bPATCH\b/);
    assert.match(
      preflight.headers.get("access-control-allow-headers") ?? "",
      /\bidempotency-key\b/,
    );
  });
});

Deno.test("admin lists answer 400 validation_failed for a since that is no real date in 1970 to 9999", async () => {
  await withStack({}, async (stack) => {
    const token = stack.secretKey;
    for (
      const path of [
        "/stripe/test/webhook-events?since=99999-01-01",
        "/stripe/test/transactions?since=0000-01-01",
        "/stripe/test/transactions?since=1969-12-31T23:59:59Z",
        "/stripe/test/webhook-events?since=2026-02-30",
        "/stripe/test/webhook-events?since=2026-11-30T24:00:00Z",
        "/stripe/test/overview?since=2026-11-30T12:00:00%2B25:00",
        "/stripe/test/transactions?since=9999-12-31T23:00:00-05:00",
      ]
    ) {
      const { status, body } = await call(stack, "GET", path, { token });
      assert.equal(status, 400, `${path}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, "validation_failed", path);
      assert.equal(body.error.details.fields[0].field, "since", path);
    }
    for (
      const since of [
        "2024-02-29",
        "2026-11-30T12:00:00Z",
        "2026-11-30T12:00:00.123456%2B05:30",
        "9999-12-31T23:59:59Z",
      ]
    ) {
      const path = `/stripe/test/webhook-events?since=${since}`;
      const { status, body } = await call(stack, "GET", path, { token });
      assert.equal(status, 200, `${path}: ${JSON.stringify(body)}`);
    }
  });
});

Deno.test("admin lists refuse an unknown status or type, naming the allowed values", async () => {
  await withStack({}, async (stack) => {
    const token = stack.secretKey;
    const cases: [string, string, string][] = [
      ["/stripe/test/webhook-events?status=bogus", "status", "pending, processed, failed, ignored"],
      [
        "/stripe/test/transactions?status=bogus",
        "status",
        "pending, succeeded, failed, refunded, partially_refunded",
      ],
      [
        "/stripe/test/transactions?type=bogus",
        "type",
        "one_time_payment, subscription_invoice, refund, failed_payment",
      ],
      ["/stripe/test/subscriptions?status=bogus", "status", "incomplete, incomplete_expired"],
    ];
    for (const [path, field, allowed] of cases) {
      const { status, body } = await call(stack, "GET", path, { token });
      assert.equal(status, 400, `${path}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, "validation_failed", path);
      assert.equal(body.error.details.fields[0].field, field, path);
      assert.ok(body.error.message.includes(allowed), body.error.message);
    }
    const known = await call(stack, "GET", "/stripe/test/subscriptions?status=past_due", { token });
    assert.equal(known.status, 200, JSON.stringify(known.body));
  });
});
