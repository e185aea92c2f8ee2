// How far back reconciliation reads: durations, ISO times, and Stripe's 30-day limit.
import assert from "node:assert/strict";
import { PaymentsError } from "../../functions/errors.ts";
import { parseSince } from "../../functions/reconcile.ts";

const NOW = new Date("2026-11-30T12:00:00Z");

function refusal(value: unknown): PaymentsError {
  try {
    parseSince(value, NOW);
  } catch (error) {
    if (error instanceof PaymentsError) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(value)} was accepted`);
}

Deno.test("since defaults to 72 hours and takes minutes, hours, days and ISO times", () => {
  assert.equal(parseSince(undefined, NOW).toISOString(), "2026-11-27T12:00:00.000Z");
  assert.equal(parseSince("90m", NOW).toISOString(), "2026-11-30T10:30:00.000Z");
  assert.equal(parseSince("72h", NOW).toISOString(), "2026-11-27T12:00:00.000Z");
  assert.equal(parseSince("30d", NOW).toISOString(), "2026-10-31T12:00:00.000Z");
  assert.equal(
    parseSince("2026-11-29T08:15:00Z", NOW).toISOString(),
    "2026-11-29T08:15:00.000Z",
  );
});

Deno.test("since beyond Stripe's 30 days, or unreadable, is a 400 naming the field", () => {
  for (const value of ["31d", "721h", "2026-10-01T00:00:00Z", "yesterday", "", 72, "72 h"]) {
    const error = refusal(value);
    assert.equal(error.status, 400, String(value));
    assert.equal(error.code, "validation_failed");
    assert.match(error.message, /^since: /);
  }
  assert.match(refusal("31d").message, /within the last 30 days/);
  assert.match(refusal("2026-13-45T00:00:00Z").message, /not a valid ISO 8601 time/);
});
