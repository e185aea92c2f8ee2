/** Object ids and secrets with Stripe's prefixes. */

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function randomToken(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let token = "";
  // The slight modulo bias is irrelevant here: ids only need to be unique, not secret.
  for (const byte of bytes) token += ALPHABET[byte % ALPHABET.length];
  return token;
}

export function newId(prefix: string, length = 24): string {
  return `${prefix}_${randomToken(length)}`;
}

/** Checkout Session ids carry the mode, like Stripe's `cs_test_...` / `cs_live_...`. */
export function newCheckoutSessionId(livemode: boolean): string {
  return `cs_${livemode ? "live" : "test"}_${randomToken(58)}`;
}
