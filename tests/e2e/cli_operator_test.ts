// The operator verbs as a person or a script runs them, in a subprocess against the local stack:
// products and prices, events list/show/tail, transactions, JSON for scripts (errors too), and
// `pgpayments dashboard` serving the web app with the key handed only to a loopback page.
import assert from "node:assert/strict";
import { eventually, withStack } from "../support/stack.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

function command(args: string[], env: Record<string, string>): Deno.Command {
  const inherited: Record<string, string> = {};
  for (const name of ["HOME", "PATH", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value) inherited[name] = value;
  }
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "cli/main.ts", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Reads a child's stdout line by line until `match` is seen (or the child ends). */
async function waitForLine(
  reader: ReadableStreamDefaultReader<string>,
  seen: string[],
  match: RegExp,
): Promise<string> {
  let buffer = "";
  while (true) {
    const found = seen.find((line) => match.test(line));
    if (found) return found;
    const { value, done } = await reader.read();
    if (done) throw new Error(`the command ended before printing ${match}: ${seen.join("\n")}`);
    buffer += value;
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    seen.push(...parts);
  }
}

Deno.test({
  name: "operator verbs list, create, show and tail against the local stack",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await withStack({}, async (stack) => {
      const env = { SUPABASE_URL: stack.baseUrl, SUPABASE_SECRET_KEY: stack.secretKey };
      const payments = async (args: string[]) => {
        const output = await command(["payments", "stripe", ...args], env).output();
        const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
        return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
      };
      assert.equal((await stack.connectStripe()).status, 200);

      let productId = "";
      await t.step("products create and prices create, then products list shows both", async () => {
        const created = await payments(["products", "create", "--name", "Gold", "--json"]);
        assert.equal(created.code, 0, created.stderr);
        productId = JSON.parse(created.stdout).product.productId;
        assert.match(productId, /^prod_/);
        const price = await payments([
          "prices",
          "create",
          "--product",
          productId,
          "--currency",
          "usd",
          "--unit-amount",
          "1900",
          "--interval",
          "month",
          "--lookup-key",
          "gold_monthly",
        ]);
        assert.equal(price.code, 0, price.stderr);
        assert.match(
          price.stdout,
          /^test: created price price_\w+ \(USD 19\.00 \/ month\) for prod_/,
        );
        const list = await payments(["products", "list"]);
        assert.equal(list.code, 0, list.stderr);
        const row = list.stdout.split("\n").find((line) => line.startsWith(productId));
        assert.ok(row, list.stdout);
        assert.match(row, /Gold\s+active\s+price_\w+\s+USD 19\.00 \/ month\s+gold_monthly/);
        const missing = await payments(["prices", "create", "--product", productId]);
        assert.equal(missing.code, 2);
        assert.equal(
          missing.stderr.trim(),
          "pgpayments: prices create needs --currency, --unit-amount.",
        );
      });

      await t.step(
        "a create retried with the same --idempotency-key makes one object",
        async () => {
          const create = (name: string) =>
            payments(["products", "create", "--name", name, "--idempotency-key", "cli-retry-1"]);
          const first = await create("Silver");
          assert.equal(first.code, 0, first.stderr);
          const retried = await create("Silver");
          assert.equal(retried.code, 0, retried.stderr);
          assert.equal(retried.stdout, first.stdout);
          const products = await stack.stripe.products.list({ limit: 100 });
          assert.equal(products.data.filter((product) => product.name === "Silver").length, 1);
          const other = await create("Bronze");
          assert.equal(other.code, 1);
          assert.match(other.stderr, /already used .* \(HTTP 409, idempotency_conflict\)/);
        },
      );

      await t.step("events list filters by type and events show prints the payload", async () => {
        const eventId = await eventually("the product.created event", async () => {
          const [row] = await stack.sql`
            select provider_event_id from payments.webhook_events
            where event_type = 'product.created' and object_id = ${productId}`;
          return row?.provider_event_id as string | undefined;
        });
        const list = await payments([
          "events",
          "list",
          "--type",
          "product.created",
          "--limit",
          "5",
        ]);
        assert.equal(list.code, 0, list.stderr);
        const [header, ...rows] = list.stdout.trim().split("\n");
        assert.match(header, /^received\s+type\s+status\s+attempts\s+event/);
        assert.ok(rows.every((line) => /product\.created\s+processed/.test(line)), list.stdout);
        assert.ok(rows.some((line) => line.includes(eventId)));
        const show = await payments(["events", "show", eventId]);
        assert.equal(show.code, 0, show.stderr);
        assert.match(show.stdout, /^event\s+evt_/);
        assert.match(show.stdout, /"name": "Gold"/);
      });

      await t.step("--json reports errors as JSON on stdout and one line on stderr", async () => {
        const unknown = await payments(["events", "show", "evt_nope", "--json"]);
        assert.equal(unknown.code, 1);
        assert.equal(JSON.parse(unknown.stdout).error.code, "not_found");
        assert.match(
          unknown.stderr.trim(),
          /^pgpayments: Webhook event evt_nope not found in test/,
        );
        const usage = await payments(["events", "list", "--limit", "many", "--json"]);
        assert.equal(usage.code, 2);
        assert.deepEqual(JSON.parse(usage.stdout).error.code, "usage");
        assert.equal(
          usage.stderr.trim(),
          "pgpayments: --limit must be a whole number (got 'many').",
        );
        const bogus = await payments(["events", "list", "--status", "bogus", "--json"]);
        assert.equal(bogus.code, 1, bogus.stdout);
        assert.equal(JSON.parse(bogus.stdout).error.code, "validation_failed");
        assert.match(bogus.stderr, /status must be one of pending, processed, failed, ignored/);
        const badSince = await payments(["transactions", "list", "--since", "2026-02-30"]);
        assert.equal(badSince.code, 1, badSince.stdout);
        assert.match(badSince.stderr, /since/);
      });

      await t.step("transactions list shows rows and totals per currency", async () => {
        await stack.sql`
          insert into payments.transactions (environment, type, status, provider_object_id, amount, currency,
            customer_id, stripe_created_at, stripe_updated_at)
          values ('test', 'one_time_payment', 'succeeded', 'pi_cli_1', 1900, 'usd', 'cus_cli', now(), now()),
                 ('test', 'one_time_payment', 'succeeded', 'pi_cli_2', 500, 'usd', 'cus_other', now(), now())`;
        const all = await payments(["transactions", "list"]);
        assert.equal(all.code, 0, all.stderr);
        assert.match(all.stdout, /total USD: 2 transactions, USD 24\.00 net of USD 0\.00 refunded/);
        const one = await payments(["transactions", "list", "--customer", "cus_cli", "--json"]);
        const page = JSON.parse(one.stdout);
        assert.deepEqual(page.data.map((row: { objectId: string }) => row.objectId), ["pi_cli_1"]);
        assert.equal(page.totals[0].amount, 1900);
      });

      await t.step("events tail prints deliveries as they arrive", async () => {
        const child = command(["payments", "stripe", "events", "tail"], env).spawn();
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        const seen: string[] = [];
        try {
          await waitForLine(reader, seen, /^test: waiting for webhook events/);
          const customer = await stack.stripe.customers.create({ email: "tail@example.com" });
          const line = await waitForLine(reader, seen, /customer\.created/);
          assert.match(
            line,
            /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+customer\.created\s+processed\s+\d+(\.\d)? m?s\s+evt_/,
          );
          const [row] = await stack.sql`
            select provider_event_id from payments.webhook_events where object_id = ${customer.id}`;
          assert.ok(line.endsWith(row.provider_event_id));
          assert.equal(seen.filter((text) => text.includes(row.provider_event_id)).length, 1);
        } finally {
          child.kill("SIGTERM");
          await reader.cancel().catch(() => {});
          await child.stderr.cancel().catch(() => {});
          await child.status;
        }
      });

      await t.step(
        "dashboard serves the app and hands the key only to a loopback page",
        async () => {
          const child = command(
            [
              "dashboard",
              "--url",
              stack.baseUrl,
              "--secret-key",
              stack.secretKey,
              "--port",
              "0",
            ],
            {},
          ).spawn();
          const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
          try {
            const line = await waitForLine(reader, [], /^pgpayments: dashboard for /);
            const [, url, token] = /(http:\/\/127\.0\.0\.1:\d+\/dashboard\/)\?token=(\S+)/.exec(
              line,
            )!;
            const page = await fetch(url);
            assert.equal(page.status, 200);
            assert.match(await page.text(), /<title>Payments dashboard<\/title>/);
            assert.match(
              page.headers.get("content-security-policy") ?? "",
              new RegExp(`connect-src 'self' ${stack.baseUrl}`),
            );
            const config = await (await fetch(new URL(`config.json?token=${token}`, url))).json();
            assert.deepEqual(config, {
              apiUrl: stack.functionsUrl,
              secretKey: stack.secretKey,
            });
            // Another process on this machine, without the printed URL, gets no key.
            for (const query of ["", "?token=guess"]) {
              const other = await (await fetch(new URL(`config.json${query}`, url))).json();
              assert.deepEqual(other, { apiUrl: stack.functionsUrl }, `config.json${query}`);
            }
            const escape = await fetch(new URL("serve.ts", url));
            assert.equal(escape.status, 404);
            await escape.body?.cancel();
            assert.ok(!line.includes(stack.secretKey), "the key is never printed");
          } finally {
            child.kill("SIGTERM");
            await reader.cancel().catch(() => {});
            await child.stderr.cancel().catch(() => {});
            await child.status;
          }
        },
      );
    });
  },
});
