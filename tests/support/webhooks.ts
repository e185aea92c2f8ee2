// Webhook deliveries as Stripe makes them: events of the shape it sends, signed the way it signs.
import Stripe from "stripe";

const cryptoProvider = Stripe.createSubtleCryptoProvider();
const signer = new Stripe("sk_test_signer", { httpClient: Stripe.createFetchHttpClient() });

/** The Stripe-Signature header for `payload` under `secret`, at `timestamp` (default now). */
export async function signPayload(
  payload: string,
  secret: string,
  timestamp = Math.floor(Date.now() / 1000),
): Promise<string> {
  return await signer.webhooks.generateTestHeaderStringAsync({
    payload,
    secret,
    timestamp,
    cryptoProvider,
  });
}

export interface CustomerEventOptions {
  created?: number;
  livemode?: boolean;
  customerId?: string;
  name?: string;
}

/** A customer.updated event, as Stripe delivers it, for one customer (default cus_webhook, Ada). */
export function customerUpdatedEvent(id: string, options: CustomerEventOptions = {}) {
  const {
    created = Math.floor(Date.now() / 1000),
    livemode = false,
    customerId = "cus_webhook",
    name = "Ada",
  } = options;
  return {
    id,
    object: "event",
    api_version: "2026-10-28.endive",
    created,
    livemode,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "customer.updated",
    data: {
      object: {
        id: customerId,
        object: "customer",
        email: "ada@example.com",
        name,
        metadata: {},
        created,
        livemode,
      },
    },
  };
}
