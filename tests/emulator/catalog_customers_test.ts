/** Products, prices and customers, with the events their writes emit. */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { stripeError, test, typesSince } from "./helpers.ts";

test("products can be created, retrieved, updated, listed and deleted", async ({ stripe }) => {
  const product = await stripe.products.create({
    name: "Starter",
    description: "For small teams",
    metadata: { tier: "1" },
    marketing_features: [{ name: "Email support" }],
  });
  assert.match(product.id, /^prod_/);
  assert.equal(product.active, true);
  assert.deepEqual(product.marketing_features, [{ name: "Email support" }]);
  const { lastResponse: _created, ...createdFields } = product;
  const { lastResponse: _retrieved, ...retrievedFields } = await stripe.products.retrieve(
    product.id,
  );
  assert.deepEqual(retrievedFields, createdFields);

  const updated = await stripe.products.update(product.id, {
    name: "Starter+",
    description: "",
    metadata: { tier: "", color: "blue" },
    active: false,
  });
  assert.equal(updated.name, "Starter+");
  assert.equal(updated.description, null);
  assert.deepEqual(updated.metadata, { color: "blue" });

  const custom = await stripe.products.create({ id: "prod_custom", name: "Custom id" });
  assert.equal(custom.id, "prod_custom");
  const duplicate = await stripeError(stripe.products.create({ id: "prod_custom", name: "x" }));
  assert.equal(duplicate.code, "resource_already_exists");

  assert.deepEqual((await stripe.products.list({ active: false })).data.map((p) => p.id), [
    product.id,
  ]);
  assert.deepEqual(
    (await stripe.products.list({ ids: [custom.id] })).data.map((p) => p.id),
    [custom.id],
  );

  const deleted = await stripe.products.del(product.id);
  assert.deepEqual([deleted.id, deleted.object, deleted.deleted], [product.id, "product", true]);
  assert.equal((await stripeError(stripe.products.retrieve(product.id))).statusCode, 404);
  assert.deepEqual(await typesSince(stripe), [
    "product.created",
    "product.updated",
    "product.created",
    "product.deleted",
  ]);
  const updatedEvent = (await stripe.events.list({ type: "product.updated" })).data[0];
  const previous = updatedEvent.data.previous_attributes as Partial<Stripe.Product>;
  assert.deepEqual(previous.metadata, { tier: "1" });
  assert.equal(previous.name, "Starter");
});

test("a product with prices cannot be deleted", async ({ stripe }) => {
  const product = await stripe.products.create({
    name: "Pro",
    default_price_data: { currency: "usd", unit_amount: 900 },
  });
  assert.match(String(product.default_price), /^price_/);
  const error = await stripeError(stripe.products.del(product.id));
  assert.equal(error.statusCode, 400);
  assert.deepEqual(await typesSince(stripe), ["product.created", "price.created"]);
});

test("prices can be created, retrieved, updated and listed with filters", async ({ stripe }) => {
  const product = await stripe.products.create({ name: "Pro" });
  const monthly = await stripe.prices.create({
    product: product.id,
    currency: "USD",
    unit_amount: 1500,
    recurring: { interval: "month" },
    lookup_key: "pro_monthly",
    metadata: { plan: "pro" },
  });
  assert.equal(monthly.currency, "usd");
  assert.equal(monthly.type, "recurring");
  assert.equal(monthly.unit_amount_decimal?.toString(), "1500");
  assert.deepEqual(monthly.recurring, {
    interval: "month",
    interval_count: 1,
    meter: null,
    trial_period_days: null,
    usage_type: "licensed",
  });
  const once = await stripe.prices.create({
    currency: "usd",
    unit_amount: 5000,
    product_data: { name: "Setup fee" },
  });
  assert.equal(once.type, "one_time");
  assert.equal(once.recurring, null);

  assert.equal((await stripe.prices.retrieve(monthly.id)).id, monthly.id);
  const byKey = await stripe.prices.list({ lookup_keys: ["pro_monthly"] });
  assert.deepEqual(byKey.data.map((p) => p.id), [monthly.id]);
  const byProduct = await stripe.prices.list({ product: product.id });
  assert.deepEqual(byProduct.data.map((p) => p.id), [monthly.id]);
  const recurring = await stripe.prices.list({ type: "recurring" });
  assert.deepEqual(recurring.data.map((p) => p.id), [monthly.id]);

  const archived = await stripe.prices.update(monthly.id, { active: false, nickname: "Old" });
  assert.equal(archived.active, false);
  assert.equal(archived.nickname, "Old");
  const active = await stripe.prices.list({ active: true });
  assert.deepEqual(active.data.map((p) => p.id), [once.id]);

  const expanded = await stripe.prices.retrieve(monthly.id, { expand: ["product"] });
  assert.equal((expanded.product as Stripe.Product).name, "Pro");
  const listExpanded = await stripe.prices.list({ expand: ["data.product"] });
  assert.equal(typeof listExpanded.data[0].product, "object");

  assert.deepEqual(await typesSince(stripe), [
    "product.created",
    "price.created",
    "product.created",
    "price.created",
    "price.updated",
  ]);
});

test("a lookup key is unique unless transfer_lookup_key moves it", async ({ stripe }) => {
  const product = await stripe.products.create({ name: "Pro" });
  const base = { product: product.id, currency: "usd", lookup_key: "pro" };
  const first = await stripe.prices.create({ ...base, unit_amount: 100 });
  const clash = await stripeError(stripe.prices.create({ ...base, unit_amount: 200 }));
  assert.equal(clash.param, "lookup_key");
  const second = await stripe.prices.create({
    ...base,
    unit_amount: 200,
    transfer_lookup_key: true,
  });
  assert.equal((await stripe.prices.retrieve(first.id)).lookup_key, null);
  const found = await stripe.prices.list({ lookup_keys: ["pro"] });
  assert.deepEqual(found.data.map((p) => p.id), [second.id]);
});

test("price creation validates its parameters", async ({ stripe }) => {
  const product = await stripe.products.create({ name: "Pro" });
  const noAmount = await stripeError(
    stripe.prices.create({ product: product.id, currency: "usd" }),
  );
  assert.equal(noAmount.param, "unit_amount");
  const badInterval = await stripeError(stripe.prices.create({
    product: product.id,
    currency: "usd",
    unit_amount: 1,
    recurring: { interval: "fortnight" as "month" },
  }));
  assert.equal(badInterval.param, "recurring[interval]");
  const noProduct = await stripeError(
    stripe.prices.create({ product: "prod_nope", currency: "usd", unit_amount: 1 }),
  );
  assert.equal(noProduct.statusCode, 404);
  assert.equal(noProduct.param, "product");
});

test("customers can be created, retrieved, updated, listed by email and deleted", async ({ stripe }) => {
  const ada = await stripe.customers.create({
    email: "ada@example.com",
    name: "Ada",
    metadata: { user_id: "u1" },
    address: { country: "GB", city: "London" },
  });
  assert.match(ada.id, /^cus_/);
  assert.equal(ada.address?.city, "London");
  await stripe.customers.create({ email: "bob@example.com" });
  const updated = await stripe.customers.update(ada.id, { name: "Ada L.", phone: "+44" });
  assert.equal(updated.name, "Ada L.");
  assert.equal(updated.phone, "+44");
  assert.equal((await stripe.customers.retrieve(ada.id) as Stripe.Customer).name, "Ada L.");

  const found = await stripe.customers.list({ email: "ada@example.com" });
  assert.deepEqual(found.data.map((c) => c.id), [ada.id]);

  const deleted = await stripe.customers.del(ada.id);
  assert.equal(deleted.deleted, true);
  const retrieved = await stripe.customers.retrieve(ada.id);
  assert.equal(retrieved.deleted, true);
  assert.equal((await stripe.customers.list({ email: "ada@example.com" })).data.length, 0);
  assert.deepEqual(await typesSince(stripe), [
    "customer.created",
    "customer.created",
    "customer.updated",
    "customer.deleted",
  ]);
  const missing = await stripeError(stripe.customers.update("cus_nope", { name: "x" }));
  assert.equal(missing.code, "resource_missing");
});
