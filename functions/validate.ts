// Request bodies, checked field by field before anything is written or sent to Stripe.
import { type FieldError, PaymentsError, validationError } from "./errors.ts";

export interface Subject {
  type: string;
  id: string;
}

export interface CheckoutRequest {
  mode: "payment" | "subscription";
  subject?: Subject;
  lineItems: { priceId: string; quantity: number }[];
  successUrl: string;
  cancelUrl: string;
  customerEmail?: string;
  metadata: Record<string, string>;
  idempotencyKey?: string;
}

export interface PortalRequest {
  subject?: Subject;
  returnUrl?: string;
  configurationId?: string;
}

const SUBJECT_TYPE = /^[a-z][a-z0-9_]{0,62}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;
// Keys the function itself puts into Stripe metadata; the app may not override them.
export const RESERVED_METADATA_PREFIX = "payments_";

export async function readJson(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new PaymentsError(400, "invalid_request", "The request body is not valid JSON.");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new PaymentsError(400, "invalid_request", "The request body must be a JSON object.");
  }
  // PostgreSQL text cannot hold NUL; refuse it here rather than fail later in the database.
  if (containsNul(body)) {
    throw new PaymentsError(
      400,
      "invalid_request",
      "The request body must not contain NUL (\\u0000) characters.",
    );
  }
  return body as Record<string, unknown>;
}

function containsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\0");
  if (typeof value !== "object" || value === null) return false;
  return Object.entries(value).some(([key, entry]) => key.includes("\0") || containsNul(entry));
}

export function parseCheckoutRequest(body: Record<string, unknown>): CheckoutRequest {
  const errors: FieldError[] = [];
  const mode = body.mode;
  if (mode !== "payment" && mode !== "subscription") {
    errors.push({ field: "mode", message: "must be 'payment' or 'subscription'" });
  }

  const subject = parseSubject(body.subject, errors);
  if (mode === "subscription" && body.subject === undefined) {
    errors.push({ field: "subject", message: "is required for subscription checkouts" });
  }

  const lineItems: CheckoutRequest["lineItems"] = [];
  if (!Array.isArray(body.lineItems) || body.lineItems.length < 1 || body.lineItems.length > 100) {
    errors.push({ field: "lineItems", message: "must be an array of 1 to 100 items" });
  } else {
    body.lineItems.forEach((item: unknown, index: number) => {
      const field = `lineItems[${index}]`;
      const entry = item as { priceId?: unknown; quantity?: unknown } | null;
      if (typeof entry !== "object" || entry === null) {
        errors.push({ field, message: "must be an object with priceId and quantity" });
        return;
      }
      if (typeof entry.priceId !== "string" || !/^[A-Za-z0-9_]{1,255}$/.test(entry.priceId)) {
        errors.push({ field: `${field}.priceId`, message: "must be a Stripe price id" });
      }
      const quantity = entry.quantity ?? 1;
      if (
        typeof quantity !== "number" || !Number.isInteger(quantity) || quantity < 1 ||
        quantity > 999
      ) {
        errors.push({ field: `${field}.quantity`, message: "must be an integer from 1 to 999" });
      }
      lineItems.push({ priceId: String(entry.priceId), quantity: Number(quantity) });
    });
  }

  const successUrl = parseUrl(body.successUrl, "successUrl", errors, true);
  const cancelUrl = parseUrl(body.cancelUrl, "cancelUrl", errors, true);

  let customerEmail: string | undefined;
  if (body.customerEmail !== undefined && body.customerEmail !== null) {
    if (
      typeof body.customerEmail !== "string" || !EMAIL.test(body.customerEmail) ||
      body.customerEmail.length > 512
    ) {
      errors.push({ field: "customerEmail", message: "must be an email address" });
    } else customerEmail = body.customerEmail;
  }

  const metadata = parseMetadata(body.metadata, errors);

  let idempotencyKey: string | undefined;
  if (body.idempotencyKey !== undefined && body.idempotencyKey !== null) {
    if (
      typeof body.idempotencyKey !== "string" || body.idempotencyKey.length < 1 ||
      body.idempotencyKey.length > 200
    ) {
      errors.push({ field: "idempotencyKey", message: "must be a string of 1 to 200 characters" });
    } else idempotencyKey = body.idempotencyKey;
  }

  if (errors.length > 0) throw validationError(errors);
  return {
    mode: mode as CheckoutRequest["mode"],
    subject,
    lineItems,
    successUrl: successUrl!,
    cancelUrl: cancelUrl!,
    customerEmail,
    metadata,
    idempotencyKey,
  };
}

export function parsePortalRequest(body: Record<string, unknown>): PortalRequest {
  const errors: FieldError[] = [];
  const subject = parseSubject(body.subject, errors);
  const returnUrl = parseUrl(body.returnUrl, "returnUrl", errors, false);
  let configurationId: string | undefined;
  if (body.configurationId !== undefined && body.configurationId !== null) {
    if (
      typeof body.configurationId !== "string" || !/^bpc_[A-Za-z0-9]+$/.test(body.configurationId)
    ) {
      errors.push({
        field: "configurationId",
        message: "must be a Billing Portal configuration id (bpc_...)",
      });
    } else configurationId = body.configurationId;
  }
  if (errors.length > 0) throw validationError(errors);
  return { subject, returnUrl, configurationId };
}

function parseSubject(value: unknown, errors: FieldError[]): Subject | undefined {
  if (value === undefined || value === null) return undefined;
  const subject = value as { type?: unknown; id?: unknown };
  if (typeof subject !== "object") {
    errors.push({ field: "subject", message: "must be an object with type and id" });
    return undefined;
  }
  let ok = true;
  if (typeof subject.type !== "string" || !SUBJECT_TYPE.test(subject.type)) {
    errors.push({
      field: "subject.type",
      message: "must be lowercase snake_case, such as 'user' or 'team'",
    });
    ok = false;
  }
  if (typeof subject.id !== "string" || subject.id.length < 1 || subject.id.length > 255) {
    errors.push({ field: "subject.id", message: "must be a string of 1 to 255 characters" });
    ok = false;
  }
  return ok ? { type: subject.type as string, id: subject.id as string } : undefined;
}

function parseUrl(
  value: unknown,
  field: string,
  errors: FieldError[],
  required: boolean,
): string | undefined {
  if (value === undefined || value === null) {
    if (required) errors.push({ field, message: "is required" });
    return undefined;
  }
  if (typeof value !== "string" || value.length > 2048) {
    errors.push({ field, message: "must be an http(s) URL" });
    return undefined;
  }
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("scheme");
  } catch {
    errors.push({ field, message: "must be an http(s) URL" });
    return undefined;
  }
  return value;
}

// Stripe's limits: 50 keys (3 of them ours: see payments.create_checkout_session), key up to 40
// characters, value up to 500 characters. The SQL function checks the same; this gives all fields at once.
function parseMetadata(value: unknown, errors: FieldError[]): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    errors.push({ field: "metadata", message: "must be an object of string values" });
    return {};
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 47) {
    errors.push({
      field: "metadata",
      message: "may hold at most 47 keys (Stripe allows 50; 3 are reserved)",
    });
  }
  for (const [key, entry] of entries) {
    if (key.length < 1 || key.length > 40 || key.includes("[") || key.includes("]")) {
      errors.push({
        field: `metadata.${key}`,
        message: "keys must be 1 to 40 characters without brackets",
      });
    } else if (key.startsWith(RESERVED_METADATA_PREFIX)) {
      errors.push({
        field: `metadata.${key}`,
        message: `keys starting with '${RESERVED_METADATA_PREFIX}' are reserved`,
      });
    } else if (typeof entry !== "string" || entry.length > 500) {
      errors.push({
        field: `metadata.${key}`,
        message: "must be a string of at most 500 characters",
      });
    }
  }
  return value as Record<string, string>;
}
