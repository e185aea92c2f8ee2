/**
 * API key authentication. Any well-formed secret or restricted key is accepted; its mode picks
 * the test or live data, and its *account part* picks the account:
 *
 *   `sk_test_acme_anything` → account part `acme` → `acct_` + first 16 hex of SHA-256("acme")
 *
 * The account part is the text after the `sk_test_` / `rk_live_` ... prefix up to the next `_`
 * (or the whole rest). So `sk_test_acme_1` and `rk_live_acme_2` share an account, while
 * `sk_test_one` and `sk_test_two` are two different accounts.
 */
import { createHash } from "node:crypto";
import { StripeError } from "./errors.ts";

export interface ApiKey {
  accountId: string;
  livemode: boolean;
}

const KEY_PATTERN = /^(?:sk|rk)_(test|live)_([A-Za-z0-9]+)(?:_[A-Za-z0-9_]*)?$/;

export function accountIdFor(accountPart: string): string {
  return `acct_${createHash("sha256").update(accountPart).digest("hex").slice(0, 16)}`;
}

export function authenticate(authorization: string | null): ApiKey {
  const key = keyFromHeader(authorization);
  if (!key) {
    throw unauthorized(
      "You did not provide an API key. You need to provide your API key in the Authorization " +
        "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    );
  }
  const match = KEY_PATTERN.exec(key);
  if (!match) throw unauthorized(`Invalid API Key provided: ${redact(key)}`);
  return { accountId: accountIdFor(match[2]), livemode: match[1] === "live" };
}

function keyFromHeader(authorization: string | null): string | undefined {
  if (!authorization) return undefined;
  const [scheme, credentials = ""] = authorization.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) return credentials || undefined;
  // `curl -u sk_test_...:` sends the key as the Basic user name.
  if (/^basic$/i.test(scheme)) {
    try {
      return atob(credentials).split(":")[0] || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function redact(key: string): string {
  return key.length <= 12 ? "****" : `${key.slice(0, 8)}****${key.slice(-4)}`;
}

function unauthorized(message: string): StripeError {
  return new StripeError(401, "invalid_request_error", message);
}
