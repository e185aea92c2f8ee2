// A worker that plays Stripe for bench/http.ts: it sends the signed deliveries from its own
// thread, so the load generator does not compete with the function for the event loop.
import { timed, type Timing } from "./timed.ts";

export interface SendJob {
  /** Several URLs (instances) take deliveries in turn. */
  url: string | string[];
  senders: number;
  deliveries: { payload: string; signature: string }[];
}

export interface SendResult extends Timing {
  error?: string;
}

// Typed by hand: this file is also checked with the window globals of the main program.
const scope = self as unknown as {
  onmessage: (message: MessageEvent<SendJob>) => void;
  postMessage: (result: SendResult) => void;
};

scope.onmessage = async (message: MessageEvent<SendJob>) => {
  const { url, senders, deliveries } = message.data;
  const urls = Array.isArray(url) ? url : [url];
  let turn = 0;
  try {
    const timing = await timed(deliveries, senders, async ({ payload, signature }) => {
      const response = await fetch(urls[turn++ % urls.length], {
        method: "POST",
        body: payload,
        headers: { "content-type": "application/json", "stripe-signature": signature },
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`webhook answered ${response.status}: ${text}`);
    });
    scope.postMessage(timing);
  } catch (error) {
    scope.postMessage({ seconds: 0, latencies: [], error: String(error) });
  }
};
