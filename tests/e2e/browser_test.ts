// The walkthrough in a real browser: Debian's Chromium driven by playwright-core clicks through the
// demo app that `npm start` serves — subscribe, pay on the emulator's Checkout, see the team's
// subscription active, open the Billing Portal, cancel, come back and see it canceled; and a
// one-time purchase, declined once, then paid with the 3-D Secure card, whose order the safe
// fulfillment trigger marks paid. Checkout is also checked on a phone-sized screen. Every page is saved
// as a screenshot under test-output/screenshots/.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { browserTest } from "../support/browser.ts";

browserTest(
  "a person subscribes, pays, sees it active, cancels in the portal, and buys once",
  { width: 1000, height: 720 },
  async (t, { stack, page, shot, setUpDemo }) => {
    const demo = await setUpDemo();
    const origin = stack.baseUrl;

    await t.step("the pricing page lists the prices from the database", async () => {
      await page.goto(`${origin}/`);
      await page.locator("#subscribe").waitFor();
      await page.locator("#buy").waitFor();
      const text = await page.locator("#prices").innerText();
      assert.match(text, /Starter pack/);
      assert.match(text, /\$19\.00/);
      assert.match(text, /Pro/);
      assert.match(text, /\$12\.00/);
      await expectStatus(page, "#subscription-status", "none");
      assert.match(await page.locator("#user").innerText(), /ada@example\.com/);
      await shot("01-pricing.png");
    });

    await t.step(
      "Manage billing before any purchase shows the SDK's 404 on the page",
      async () => {
        await page.click("#manage-billing");
        await page.locator("#error").waitFor();
        assert.match(await page.locator("#error").innerText(), /\(HTTP 404, not_found\)$/);
        assert.equal(new URL(page.url()).pathname, "/");
        await shot("02-error-no-customer.png");
      },
    );

    await t.step("Subscribe opens the emulator's hosted Checkout", async () => {
      await page.click("#subscribe");
      await page.waitForURL(/\/checkout\/cs_test_/);
      assert.match(await page.locator("#line-items").innerText(), /Pro/);
      assert.match(await page.locator("#total").innerText(), /USD 12\.00/);
      await shot("03-checkout-subscription.png");
    });

    await t.step("Checkout fits a phone screen without sideways scrolling", async () => {
      await page.setViewportSize({ width: 375, height: 740 });
      // A string, run in the page: the test itself is type-checked without the DOM library.
      const overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth",
      );
      assert.equal(overflow, 0);
      await shot("03b-checkout-phone.png");
      await page.setViewportSize({ width: 1000, height: 720 });
    });

    await t.step(
      "Pay returns to the success page, which shows the subscription active",
      async () => {
        await page.click("#pay");
        await page.waitForURL((url) => url.pathname === "/success");
        assert.equal(new URL(page.url()).searchParams.get("team"), demo.teamId);
        await expectStatus(page, "#subscription-status", "active");
        await shot("04-success-subscription.png");
        const [row] = await stack.sql`
            select status from payments.stripe_subscriptions
            where subject_type = 'team' and subject_id = ${demo.teamId}`;
        assert.equal(row.status, "active");
      },
    );

    await t.step(
      "Manage billing opens the portal, which lists the subscription",
      async () => {
        await page.click("#manage-billing");
        await page.waitForURL(/\/billing_portal\/bps_/);
        const item = page.locator("li[data-subscription-id]");
        assert.equal(await item.getAttribute("data-status"), "active");
        await shot("05-portal.png");
      },
    );

    await t.step("Cancel subscription cancels it on the portal page", async () => {
      await page.click(".cancel-subscription");
      await page.locator('li[data-subscription-id][data-status="canceled"]').waitFor();
      await shot("06-portal-canceled.png");
    });

    await t.step(
      "the return link leads back to pricing, which shows it canceled",
      async () => {
        await page.click("#return");
        await page.waitForURL((url) => url.pathname === "/");
        await expectStatus(page, "#subscription-status", "canceled");
        await shot("07-pricing-canceled.png");
      },
    );

    await t.step("Buy opens Checkout for the one-time price", async () => {
      await page.click("#buy");
      await page.waitForURL(/\/checkout\/cs_test_/);
      assert.match(await page.locator("#line-items").innerText(), /Starter pack/);
      assert.match(await page.locator("#total").innerText(), /USD 19\.00/);
      await shot("08-checkout-payment.png");
    });

    await t.step(
      "a declined card is shown inline and the buyer stays on Checkout",
      async () => {
        await page.fill("#card-number", "4000 0000 0000 0002");
        await page.click("#pay");
        await page.locator("#card-error").waitFor();
        assert.match(
          await page.locator("#card-error").innerText(),
          /Your card was declined\./,
        );
        assert.match(page.url(), /\/checkout\/cs_test_/);
        await shot("08b-checkout-declined.png");
      },
    );

    await t.step("the 3-D Secure card asks to authenticate; approving pays", async () => {
      await page.fill("#card-number", "4000 0025 0000 3155");
      await page.click("#pay");
      await page.waitForURL(/\/authenticate\/pi_/);
      await shot("08c-authenticate.png");
      await page.click("#authenticate-approve");
      await page.waitForURL((url) => url.pathname === "/success");
      const orderId = new URL(page.url()).searchParams.get("order");
      assert.ok(orderId, "the success URL names the order");
      await expectStatus(page, "#order-status", "paid");
      assert.match(await page.locator("#order-description").innerText(), /Starter pack/);
      await shot("09-success-order.png");
      const [order] = await stack.sql`
            select status, user_id from public.orders where id = ${orderId}`;
      assert.deepEqual({ ...order }, { status: "paid", user_id: demo.userId });
    });
  },
);

async function expectStatus(page: Page, selector: string, status: string): Promise<void> {
  const element = page.locator(`${selector}[data-status="${status}"]`);
  try {
    await element.waitFor();
  } catch (error) {
    const shown = await page.locator(selector).getAttribute("data-status").catch(() => null);
    const problem = await page.locator("#error").innerText().catch(() => "");
    throw new Error(
      `${selector} never showed "${status}" (it shows "${shown}"${
        problem ? `; page error: ${problem}` : ""
      })`,
      { cause: error },
    );
  }
}
