// Checkout requests as an app makes them for its signed-in user.
import type { CheckoutSessionParams } from "../../functions/wire.ts";
import { call, type Stack } from "./stack.ts";

/** A one-time payment for one unit of `priceId`; a test adds or overrides the other fields. */
export function paymentRequest(
  priceId: string,
  extra: Partial<CheckoutSessionParams> = {},
): CheckoutSessionParams {
  return {
    mode: "payment",
    lineItems: [{ priceId, quantity: 1 }],
    successUrl: "https://app.example/success",
    cancelUrl: "https://app.example/cancel",
    ...extra,
  };
}

/**
 * POSTs a Checkout request to the test environment with `token` as the bearer (none if
 * undefined). The body is any value, so that tests can send what the function must refuse.
 */
export async function createCheckout(
  stack: Pick<Stack, "functionsUrl">,
  token: string | undefined,
  body: unknown,
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any }> {
  return await call(stack, "POST", "/stripe/test/checkout-sessions", { token, body });
}
