// The SDK ships one declaration file generated from the wire types; it must match its sources.
import assert from "node:assert/strict";
import { CLIENT_TYPES, clientTypes } from "../../scripts/client_types.ts";

Deno.test("client/index.d.ts is current with functions/wire.ts and client/sdk.d.ts", async () => {
  const expected = await clientTypes();
  const shipped = await Deno.readTextFile(CLIENT_TYPES);
  assert.ok(
    shipped === expected,
    "client/index.d.ts is stale: run `npm run client:types` and commit the result",
  );
});

Deno.test("client/index.d.ts stands alone: no import, the wire types inline", async () => {
  const shipped = await Deno.readTextFile(CLIENT_TYPES);
  assert.doesNotMatch(shipped, /^\s*import\b/m);
  assert.match(shipped, /^export interface CheckoutSessionResponse \{$/m);
  assert.match(shipped, /^export declare function createPaymentsClient\($/m);
});
