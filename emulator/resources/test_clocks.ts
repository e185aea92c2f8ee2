/**
 * Test clocks (`/v1/test_helpers/test_clocks`): create, retrieve, list, delete, advance.
 * Customers created with `test_clock` live on the clock's frozen time, and so do their
 * subscriptions, invoices, payments and Checkout Sessions. Advancing the clock runs, in time
 * order, everything that falls due on the way: trial ends (with `trial_will_end` three days
 * before), renewals charged to the subscription's card, cancellations at period end, expiry
 * of incomplete subscriptions and of open Checkout Sessions.
 */
import type Stripe from "stripe";
import { renewSubscription } from "../billing.ts";
import type { Context } from "../context.ts";
import { invalidRequest, missingParam, orNoSuch } from "../errors.ts";
import { expand, render } from "../expand.ts";
import { newId } from "../ids.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import type { PathParams } from "../router.ts";
import { collection } from "./collection.ts";
import { expireCheckoutSession } from "./checkout_sessions.ts";
import { setSubscriptionStatus } from "./subscriptions.ts";

type TestClock = Stripe.TestHelpers.TestClock;

const DAY_SECONDS = 24 * 60 * 60;
/** Stripe deletes a test clock 30 days after it is created. */
const LIFETIME_SECONDS = 30 * DAY_SECONDS;
/** Stripe sends `customer.subscription.trial_will_end` three days before a trial ends. */
const TRIAL_WARNING_SECONDS = 3 * DAY_SECONDS;
/** An `incomplete` subscription expires when its first payment is not made within 23 hours. */
const INCOMPLETE_LIFETIME_SECONDS = 23 * 60 * 60;

export function findTestClock(ctx: Context, id: string, param = "id"): TestClock {
  return orNoSuch(ctx.partition.testClocks.get(id), "test_helpers.test_clock", id, param);
}

/** The frozen time of the clock a customer lives on, or `null` for the wall clock. */
export function clockTimeOf(
  ctx: Context,
  customer: Stripe.Customer | null | undefined,
): number | null {
  const id = customer?.test_clock;
  if (typeof id !== "string") return null;
  return ctx.partition.testClocks.get(id)?.frozen_time ?? null;
}

const CREATE_PARAMS: ParamSpec = { read: ["frozen_time", "name"] };

function createTestClock(ctx: Context, params: ParamReader) {
  const frozenTime = params.integer("frozen_time", 0);
  if (frozenTime === undefined) throw missingParam("frozen_time");
  const now = ctx.now();
  const clock: TestClock = {
    id: newId("clock"),
    object: "test_helpers.test_clock",
    created: now,
    deletes_after: now + LIFETIME_SECONDS,
    frozen_time: frozenTime,
    livemode: ctx.livemode,
    name: params.nullableString("name") ?? null,
    status: "ready",
    status_details: {},
  };
  ctx.partition.insert(ctx.partition.testClocks, clock.id, clock);
  ctx.emit("test_helpers.test_clock.created", clock);
  return expand(ctx.partition, clock, params.expand());
}

const LIST_PARAMS: ParamSpec = { read: PAGINATION };

function listTestClocks(ctx: Context) {
  return ctx.partition.testClocks.values();
}

/** `DELETE /v1/test_helpers/test_clocks/{id}`: no parameters. */
const DELETE_PARAMS: ParamSpec = {};

/** Deleting a clock deletes the customers on it, and with them their subscriptions. */
function deleteTestClock(ctx: Context, _params: ParamReader, path: PathParams) {
  const clock = findTestClock(ctx, path.id);
  for (const customer of [...ctx.partition.customers.values()]) {
    if (customer.test_clock !== clock.id) continue;
    for (const subscription of ctx.partition.subscriptions.values()) {
      if (subscription.customer === customer.id) subscription.status = "canceled";
    }
    ctx.partition.customers.delete(customer.id);
    ctx.partition.deletedCustomers.set(customer.id, {
      id: customer.id,
      object: "customer",
      deleted: true,
    });
  }
  ctx.partition.testClocks.delete(clock.id);
  ctx.emit("test_helpers.test_clock.deleted", clock);
  return { id: clock.id, object: "test_helpers.test_clock", deleted: true };
}

const ADVANCE_PARAMS: ParamSpec = { read: ["frozen_time"] };

/**
 * Moves the clock forward and runs what falls due. Stripe advances asynchronously: the
 * response shows the clock `advancing`; the work is done by the time anyone can ask again.
 */
function advanceTestClock(ctx: Context, params: ParamReader, path: PathParams) {
  const clock = findTestClock(ctx, path.id);
  const target = params.integer("frozen_time");
  if (target === undefined) throw missingParam("frozen_time");
  if (target <= clock.frozen_time) {
    throw invalidRequest(
      `The test clock can only move forward: frozen_time must be after ${clock.frozen_time}.`,
      "frozen_time",
    );
  }
  clock.status = "advancing";
  clock.status_details = { advancing: { target_frozen_time: target } };
  ctx.emit("test_helpers.test_clock.advancing", clock);
  const response = render(expand(ctx.partition, clock, params.expand()));
  advance(ctx, clock, target);
  clock.frozen_time = target;
  clock.status = "ready";
  clock.status_details = {};
  ctx.emit("test_helpers.test_clock.ready", clock);
  return response;
}

interface Due {
  time: number;
  run: () => void;
}

function advance(ctx: Context, clock: TestClock, target: number): void {
  // Each step moves time forward, so the loop ends; the cap guards against a bad period.
  for (let step = 0; step < 10_000; step++) {
    const due = nextDue(ctx, clock, target);
    if (!due) return;
    clock.frozen_time = due.time;
    ctx.atTime(due.time, due.run);
  }
  throw invalidRequest("The test clock advanced through too many billing events at once.");
}

function nextDue(ctx: Context, clock: TestClock, target: number): Due | undefined {
  const candidates: Due[] = [];
  const onClock = new Set(
    [...ctx.partition.customers.values()]
      .filter((customer) => customer.test_clock === clock.id)
      .map((customer) => customer.id),
  );
  for (const subscription of ctx.partition.subscriptions.values()) {
    if (!onClock.has(subscription.customer as string)) continue;
    candidates.push(...subscriptionDue(ctx, subscription));
  }
  for (const record of ctx.partition.checkoutSessions.values()) {
    const { session } = record;
    if (session.status !== "open" || !onClock.has(session.customer as string)) continue;
    candidates.push({ time: session.expires_at, run: () => expireCheckoutSession(ctx, record) });
  }
  return candidates
    .filter((due) => due.time <= target)
    .sort((a, b) => a.time - b.time)[0];
}

function subscriptionDue(ctx: Context, subscription: Stripe.Subscription): Due[] {
  const due: Due[] = [];
  const warned = ctx.partition.trialWarnings;
  if (
    subscription.status === "trialing" && subscription.trial_end !== null &&
    !warned.has(subscription.id)
  ) {
    due.push({
      time: Math.max(subscription.trial_end - TRIAL_WARNING_SECONDS, subscription.created),
      run: () => {
        warned.add(subscription.id);
        ctx.emit("customer.subscription.trial_will_end", subscription);
      },
    });
  }
  if (["active", "trialing", "past_due"].includes(subscription.status)) {
    due.push({
      time: subscription.items.data[0].current_period_end,
      run: () => renewSubscription(ctx, subscription),
    });
  }
  if (subscription.status === "incomplete") {
    due.push({
      time: subscription.created + INCOMPLETE_LIFETIME_SECONDS,
      run: () => setSubscriptionStatus(ctx, subscription, "incomplete_expired"),
    });
  }
  return due;
}

export const testClockRoutes = collection("/v1/test_helpers/test_clocks", {
  create: [CREATE_PARAMS, createTestClock],
  list: [LIST_PARAMS, listTestClocks],
  find: findTestClock,
  delete: [DELETE_PARAMS, deleteTestClock],
  actions: { advance: [ADVANCE_PARAMS, advanceTestClock] },
});
