// The client SDK for Deno and TypeScript imports. The implementation is plain ESM JavaScript
// (index.js, typed by index.d.ts) so that browsers and Node run the very same file unbuilt.
export {
  type CheckoutLineItem,
  type CheckoutSession,
  type CheckoutSessionParams,
  type CheckoutSessionResponse,
  createPaymentsClient,
  type CustomerPortalSession,
  type CustomerPortalSessionParams,
  type CustomerPortalSessionResponse,
  type Environment,
  type PaymentsClient,
  type PaymentsClientOptions,
  PaymentsError,
  type PaymentsResult,
  type RequestOptions,
  type Subject,
  type SupabaseClientLike,
} from "./index.js";
