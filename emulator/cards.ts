/**
 * Stripe's test cards: the numbers a buyer types on the hosted Checkout page and the
 * `pm_card_*` test payment methods the API accepts, and what each does when it is attached
 * or charged. The one table both the pages and the API read.
 */

/** What a card does when charged. */
export type CardBehavior =
  | "succeeds"
  /** Declined with `card_declined` on every charge; attaching it is declined too. */
  | "declined"
  /** Declined for insufficient funds on every charge; attaching it is declined too. */
  | "insufficient_funds"
  /** Attaches to a customer, then every charge is declined. */
  | "fails_after_attach"
  /** Buyer-present payments need 3-D Secure; later off-session charges of a saved card pass. */
  | "authenticate_on_session"
  /** Every payment needs 3-D Secure; off-session charges fail with `authentication_required`. */
  | "authenticate_always";

export interface TestCard {
  number: string;
  brand: "visa" | "mastercard" | "amex";
  funding: "credit" | "debit";
  /** The `pm_card_*` ids Stripe accepts for it. */
  tokens: readonly string[];
  behavior: CardBehavior;
}

export const TEST_CARDS: readonly TestCard[] = [
  {
    number: "4242424242424242",
    brand: "visa",
    funding: "credit",
    tokens: ["pm_card_visa"],
    behavior: "succeeds",
  },
  {
    number: "4000056655665556",
    brand: "visa",
    funding: "debit",
    tokens: ["pm_card_visa_debit"],
    behavior: "succeeds",
  },
  {
    number: "5555555555554444",
    brand: "mastercard",
    funding: "credit",
    tokens: ["pm_card_mastercard"],
    behavior: "succeeds",
  },
  {
    number: "378282246310005",
    brand: "amex",
    funding: "credit",
    tokens: ["pm_card_amex"],
    behavior: "succeeds",
  },
  {
    number: "4000000000000002",
    brand: "visa",
    funding: "credit",
    tokens: ["pm_card_chargeDeclined", "pm_card_visa_chargeDeclined"],
    behavior: "declined",
  },
  {
    number: "4000000000009995",
    brand: "visa",
    funding: "credit",
    tokens: [
      "pm_card_chargeDeclinedInsufficientFunds",
      "pm_card_visa_chargeDeclinedInsufficientFunds",
    ],
    behavior: "insufficient_funds",
  },
  {
    number: "4000000000000341",
    brand: "visa",
    funding: "credit",
    tokens: ["pm_card_chargeCustomerFail"],
    behavior: "fails_after_attach",
  },
  {
    number: "4000002500003155",
    brand: "visa",
    funding: "credit",
    tokens: ["pm_card_authenticationRequiredOnSetup"],
    behavior: "authenticate_on_session",
  },
  {
    number: "4000002760003184",
    brand: "visa",
    funding: "credit",
    tokens: ["pm_card_authenticationRequired", "pm_card_threeDSecure2Required"],
    behavior: "authenticate_always",
  },
];

/** The card a payment falls back to when a control names none. */
export const DEFAULT_TEST_CARD = TEST_CARDS[0];

export interface Decline {
  code:
    | "card_declined"
    | "authentication_required"
    | "incorrect_number"
    | "payment_intent_authentication_failure";
  declineCode: string | null;
  message: string;
}

const DECLINES = {
  generic: {
    code: "card_declined",
    declineCode: "generic_decline",
    message: "Your card was declined.",
  },
  insufficientFunds: {
    code: "card_declined",
    declineCode: "insufficient_funds",
    message: "Your card has insufficient funds.",
  },
  authentication: {
    code: "authentication_required",
    declineCode: "authentication_required",
    message: "Your card was declined. This transaction requires authentication.",
  },
  authenticationFailed: {
    code: "payment_intent_authentication_failure",
    declineCode: null,
    message: "We are unable to authenticate your payment method. Please choose a different " +
      "payment method and try again.",
  },
} as const satisfies Record<string, Decline>;

/** The decline a buyer sees when they fail the 3-D Secure step. */
export const AUTHENTICATION_FAILED: Decline = DECLINES.authenticationFailed;

export function cardByNumber(number: string): TestCard | undefined {
  const digits = number.replace(/[\s-]/g, "");
  return TEST_CARDS.find((card) => card.number === digits);
}

export function cardByToken(token: string): TestCard | undefined {
  return TEST_CARDS.find((card) => card.tokens.includes(token));
}

/** Attaching a card validates it with the issuer: hard declines fail already here. */
export function attachDecline(card: TestCard): Decline | null {
  if (card.behavior === "declined") return DECLINES.generic;
  if (card.behavior === "insufficient_funds") return DECLINES.insufficientFunds;
  return null;
}

export type ChargeAttempt =
  | { result: "succeeded" }
  | { result: "requires_action" }
  | { result: "declined"; decline: Decline };

/**
 * What charging `card` does. `offSession`: the buyer is away (renewals, `off_session: true`);
 * `authenticated`: the buyer just passed 3-D Secure for this payment; `saved`: the card was
 * set up on a customer (attached) before.
 */
export function chargeCard(
  card: TestCard,
  options: { offSession: boolean; authenticated: boolean; saved: boolean },
): ChargeAttempt {
  switch (card.behavior) {
    case "succeeds":
      return { result: "succeeded" };
    case "declined":
    case "fails_after_attach":
      return { result: "declined", decline: DECLINES.generic };
    case "insufficient_funds":
      return { result: "declined", decline: DECLINES.insufficientFunds };
    case "authenticate_on_session":
      if (options.authenticated || (options.offSession && options.saved)) {
        return { result: "succeeded" };
      }
      return options.offSession
        ? { result: "declined", decline: DECLINES.authentication }
        : { result: "requires_action" };
    case "authenticate_always":
      if (options.authenticated) return { result: "succeeded" };
      return options.offSession
        ? { result: "declined", decline: DECLINES.authentication }
        : { result: "requires_action" };
  }
}

/** Checks a number typed on the hosted page the way Stripe's card field does. */
export function checkCardNumber(number: string): TestCard | Decline {
  const digits = number.replace(/[\s-]/g, "");
  const known = cardByNumber(digits);
  if (known) return known;
  if (!/^\d{12,19}$/.test(digits) || !luhn(digits)) {
    return { code: "incorrect_number", declineCode: null, message: "Your card number is invalid." };
  }
  return {
    code: "card_declined",
    declineCode: "test_mode_live_card",
    message: "Your card was declined. Your request was in test mode, but used a non test " +
      "(live) card. For a list of valid test cards, visit: https://stripe.com/docs/testing.",
  };
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}
