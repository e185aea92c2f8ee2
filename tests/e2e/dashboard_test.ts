// The operator's dashboard in a real browser (Debian's Chromium through playwright-core): connect
// with the secret key, connect Stripe and sync with live progress, watch an app trigger fail an
// event, find it first under Webhook events, fix the trigger and Replay it to `processed`, then
// create a product and price in Catalog and find them on the demo's pricing page. Every page is
// saved as a screenshot under test-output/screenshots/.
import assert from "node:assert/strict";
import { dashboardRoutes } from "../../dashboard/serve.ts";
import { EMULATOR_SECRET_KEY } from "../../scripts/stack.ts";
import { breakAppTrigger } from "../support/app_trigger.ts";
import { browserTest } from "../support/browser.ts";
import { eventually } from "../support/stack.ts";

browserTest(
  "an operator connects, syncs, finds a failed event, replays it, and edits the catalog",
  { width: 1280, height: 800 },
  async (t, { stack, page, shot, setUpDemo }) => {
    // On an origin of its own, as `pgpayments dashboard` serves it beside a remote deployment:
    // every API call is cross-origin (CORS preflights, the page's connect-src).
    const routes = dashboardRoutes(() => ({ apiUrl: stack.functionsUrl }));
    const abort = new AbortController();
    let resolvePort: (port: number) => void;
    const listening = new Promise<number>((resolve) => (resolvePort = resolve));
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      onListen: ({ port }) => resolvePort(port),
    }, async (request) => (await routes(request)) ?? new Response(null, { status: 404 }));
    const dashboardOrigin = `http://127.0.0.1:${await listening}`;
    try {
      const origin = stack.baseUrl;
      const open = async (route: string, ready: string) => {
        await page.goto(`${dashboardOrigin}/dashboard/#/${route}`);
        await page.locator(`[data-page="${route}"] ${ready}`).first().waitFor();
      };

      await t.step("the operator signs in with the deployment's secret key", async () => {
        await page.goto(`${dashboardOrigin}/dashboard/`);
        await page.locator("#login-key").waitFor();
        assert.equal(await page.inputValue("#login-url"), stack.functionsUrl);
        await shot("dashboard-01-sign-in.png");
        await page.fill("#login-key", stack.secretKey);
        await page.click("#login-submit");
        await page.locator("#problems").waitFor();
        assert.match(
          await page.locator("#problems").innerText(),
          /No Stripe key is connected/,
        );
        const stored = await page.evaluate(() => sessionStorage.getItem("pgpayments.connection"));
        assert.ok(
          (stored ?? "").includes(stack.secretKey),
          "the key is kept in sessionStorage",
        );
      });

      await t.step(
        "Settings connects the Stripe key, then Sync now shows progress",
        async () => {
          const product = await stack.stripe.products.create({ name: "Before sync" });
          await stack.stripe.prices.create({
            product: product.id,
            currency: "usd",
            unit_amount: 500,
          });
          await open("settings", "#environment-test");
          await page.fill("#secret-key-test", EMULATOR_SECRET_KEY);
          await page.click("#connect-test");
          await page.locator('#outcome-test:has-text("Connected to acct_")').waitFor();
          assert.match(await page.locator("#webhook-test").innerText(), /we_/);
          await page.click("#sync-test");
          await page.locator("#sync-log-test li.done").waitFor();
          const log = await page.locator("#sync-log-test").innerText();
          assert.match(log, /product: page 1, \+1/);
          assert.match(log, /Synced 1 product, 1 price/);
          assert.match(await page.locator("#last-sync-test").innerText(), /succeeded/);
          await shot("dashboard-02-settings-synced.png");
        },
      );

      await setUpDemo();

      let failedId = "";
      let fixTrigger = async () => {};
      await t.step("an app trigger that fails makes the event failed", async () => {
        // The app's own trigger, broken: it raises for every processed customer.created event.
        fixTrigger = await breakAppTrigger(
          stack.sql,
          "welcome_customer: table public.welcome_emails does not exist",
          "new.event_type = 'customer.created'",
        );
        await stack.stripe.customers.create({ email: "grace@example.com", name: "Grace" });
        const event = await eventually("the failed customer.created event", async () => {
          const [row] = await stack.sql`
              select provider_event_id, attempt_count from payments.webhook_events
              where event_type = 'customer.created' and processing_status = 'failed'`;
          // Wait out the emulator's retries, so none can process it behind the Replay.
          return row && row.attempt_count >= 3 ? row : undefined;
        });
        failedId = event.provider_event_id;
      });

      await t.step(
        "the failed event comes first under Webhook events, with its error",
        async () => {
          await open("events", "#all-events");
          const first = page.locator("#failed-events tr[data-event-id]").first();
          assert.equal(await first.getAttribute("data-event-id"), failedId);
          await first.click();
          await page.locator(`#event-detail[data-event-id="${failedId}"]`).waitFor();
          assert.match(await page.locator("#event-error").innerText(), /welcome_emails/);
          assert.match(
            await page.locator("#event-payload").innerText(),
            /grace@example\.com/,
          );
          await shot("dashboard-03-events-failed.png");
        },
      );

      await t.step("after the trigger is fixed, Replay processes the event", async () => {
        await fixTrigger();
        await page.click("#replay");
        await page.locator(`#event-detail[data-status="processed"]`).waitFor();
        assert.match(
          await page.locator("#replay-outcome").innerText(),
          /Replayed: processed/,
        );
        assert.equal(await page.locator("#failed-events").count(), 0);
        const [row] = await stack.sql`
            select processing_status from payments.webhook_events where provider_event_id = ${failedId}`;
        assert.equal(row.processing_status, "processed");
        await shot("dashboard-04-events-replayed.png");
      });

      await t.step("Catalog creates a product and a price", async () => {
        await open("catalog", "#product-form");
        await page.fill("#product-name", "Dashboard plan");
        await page.fill("#product-description", "Made in the dashboard.");
        // The first answer is lost after Stripe made the product: submitting the unchanged form
        // again sends the same Idempotency-Key and gets that product, not a second one.
        let lost = false;
        await page.route("**/stripe/test/products", async (route) => {
          if (route.request().method() !== "POST" || lost) return route.fallback();
          lost = true;
          await (await route.fetch()).body();
          await route.abort();
        });
        await page.click("#create-product");
        await page.locator("#error:has-text('Cannot reach')").waitFor();
        await page.click("#create-product");
        const detail = page.locator('#product-detail:has-text("Dashboard plan")');
        await detail.waitFor();
        const made = await stack.stripe.products.list({ limit: 100 });
        assert.equal(made.data.filter((item) => item.name === "Dashboard plan").length, 1);
        await detail.locator('input[name="amount"]').fill("7.50");
        await detail.locator('select[name="interval"]').selectOption("");
        await detail.locator('button[type="submit"]').click();
        await page.locator('#product-detail tr[data-price-id]:has-text("$7.50")').waitFor();
        await shot("dashboard-05-catalog.png");
      });

      await t.step("the demo's pricing page lists the new price", async () => {
        await page.goto(`${origin}/`);
        const card = page.locator('.price:has-text("Dashboard plan")');
        await card.waitFor();
        assert.match(await card.innerText(), /\$7\.50/);
        await shot("dashboard-06-pricing.png");
      });

      await t.step("Catalog archives the product (a cross-origin PATCH)", async () => {
        await open("catalog", '#product-detail:has-text("Dashboard plan")');
        await page.click('#product-detail > p [data-action="archive"]');
        await page.locator(
          '#product-detail:has-text("Dashboard plan") [data-action="restore"]',
        )
          .first().waitFor();
        const [row] = await stack.sql`
            select active from payments.stripe_products where name = 'Dashboard plan'`;
        assert.equal(row.active, false);
      });

      await t.step("every page renders, and Overview shows no problem left", async () => {
        await open("customers", "#customers");
        assert.match(await page.locator("#customers").innerText(), /grace@example\.com/);
        await shot("dashboard-07-customers.png");
        await open("subscriptions", "#subscriptions");
        await shot("dashboard-08-subscriptions.png");
        await open("transactions", "#transactions");
        await shot("dashboard-09-transactions.png");
        await open("overview", "#events-chart svg");
        assert.match(await page.locator("#problems").innerText(), /None/);
        assert.equal(await page.locator("#failed-events").innerText(), "0");
        assert.ok(await page.locator("#events-chart rect").count() > 0, "the chart has bars");
        await shot("dashboard-10-overview.png");
      });
    } finally {
      abort.abort();
      await server.finished;
    }
  },
);
