// The client SDK for Deno and TypeScript imports. The implementation is plain ESM JavaScript
// (index.js) so that browsers and Node run the very same file unbuilt. Its types here come from
// their sources (sdk.d.ts, which imports functions/wire.ts); the packed package carries them as
// one generated index.d.ts instead.
// @ts-types="./sdk.d.ts"
export { createPaymentsClient, PaymentsError } from "./index.js";
export type {
  PaymentsClient,
  PaymentsClientOptions,
  PaymentsResult,
  RequestOptions,
  SupabaseClientLike,
} from "./sdk.d.ts";
export type {
  CheckoutLineItem,
  CheckoutSession,
  CheckoutSessionParams,
  CheckoutSessionResponse,
  CustomerPortalSession,
  CustomerPortalSessionParams,
  CustomerPortalSessionResponse,
  Environment,
  Subject,
} from "../functions/wire.ts";
