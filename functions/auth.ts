// Who is calling. Current Supabase projects hand out secret API keys (`sb_secret_…`) and sign user
// JWTs with asymmetric keys published as a JWKS; those are checked by Supabase's own
// `@supabase/server`. Legacy projects use an HS256 JWT secret and JWT-shaped service-role keys,
// which `@supabase/server` refuses by design, so they keep a path of their own (jose).
import { verifyCredentials } from "@supabase/server/core";
import { decodeProtectedHeader, errors as joseErrors, type JWTPayload, jwtVerify } from "jose";
import { PaymentsError } from "./errors.ts";

export interface Claims {
  sub?: string;
  role: string;
  email?: string;
  [claim: string]: unknown;
}

export type Role = "authenticated" | "service_role";

/** A JSON Web Key Set given inline (what Supabase puts into `SUPABASE_JWKS`). */
export interface JsonWebKeySet {
  keys: Record<string, unknown>[];
}

/** Everything a caller can be verified with; each part is optional. */
export interface AuthKeys {
  /** Named secret API keys (`SUPABASE_SECRET_KEYS`); any of them is the service role. */
  secretKeys: Record<string, string>;
  /** Named publishable API keys (`SUPABASE_PUBLISHABLE_KEYS`): `anon`, never enough for a route. */
  publishableKeys: Record<string, string>;
  /** The project's signing keys: inline, or where to fetch them. */
  jwks?: JsonWebKeySet | URL;
  /** The legacy HS256 JWT secret. */
  legacySecret?: Uint8Array;
}

export interface AuthOptions {
  secretKeys?: Record<string, string>;
  publishableKeys?: Record<string, string>;
  jwks?: JsonWebKeySet | string | URL;
  legacySecret?: string;
}

export function authKeys(options: AuthOptions): AuthKeys {
  const jwks = typeof options.jwks === "string" ? new URL(options.jwks) : options.jwks;
  return {
    secretKeys: options.secretKeys ?? {},
    publishableKeys: options.publishableKeys ?? {},
    jwks,
    legacySecret: options.legacySecret ? new TextEncoder().encode(options.legacySecret) : undefined,
  };
}

/** True when anything at all could authenticate a caller. */
export function canAuthenticate(keys: AuthKeys): boolean {
  return Boolean(keys.legacySecret || keys.jwks || Object.keys(keys.secretKeys).length);
}

const USER_AUDIENCE = "authenticated";

/**
 * Verifies the caller and requires the given role. The service role is a secret API key (in
 * `apikey` or `Authorization: Bearer`) or a legacy service-role JWT; a user is a JWT with `exp`,
 * `aud: authenticated` and a user id, signed by the project's JWKS or legacy secret.
 */
export async function authenticate(request: Request, keys: AuthKeys, role: Role): Promise<Claims> {
  const apikey = request.headers.get("apikey")?.trim() || null;
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1] ??
    null;
  if (role === "service_role") return await serviceRole(keys, apikey, bearer);
  if (!bearer) {
    throw unauthorized("Missing Authorization: Bearer token with a signed-in user's JWT.");
  }
  if (isApiKey(bearer)) throw needsUser();
  const claims = await verifyJwt(bearer, keys);
  if (claims.role !== "authenticated") throw needsUser();
  if (!isUuid(claims.sub)) throw unauthorized("The token has no user id (sub).");
  return claims;
}

async function serviceRole(
  keys: AuthKeys,
  apikey: string | null,
  bearer: string | null,
): Promise<Claims> {
  const secret = [bearer, apikey].find((value) => value?.startsWith("sb_secret_"));
  if (secret) {
    const { error } = await verifyCredentials({ token: null, apikey: secret }, {
      auth: "secret:*",
      env: {
        url: "http://localhost",
        secretKeys: keys.secretKeys,
        publishableKeys: {},
        jwks: null,
      },
    });
    if (error) throw unauthorized("The secret key is not one of this project's secret keys.");
    return { role: "service_role" };
  }
  // A legacy service-role key is a JWT; it arrives as the bearer token, the apikey, or both.
  const token = [bearer, apikey].find((value) => value && !isApiKey(value));
  if (!token) {
    if (bearer || apikey) throw needsServiceRole();
    throw unauthorized("Missing credentials: send a secret key (apikey or Bearer).");
  }
  const claims = await verifyJwt(token, keys);
  if (claims.role !== "service_role") throw needsServiceRole();
  return claims;
}

/** Verifies a JWT's signature, `exp`, and (for user tokens) `aud`. */
async function verifyJwt(token: string, keys: AuthKeys): Promise<Claims> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw invalidToken();
  }
  let payload: JWTPayload;
  if (alg === "HS256") {
    if (!keys.legacySecret) throw invalidToken();
    try {
      ({ payload } = await jwtVerify(token, keys.legacySecret, {
        algorithms: ["HS256"],
        requiredClaims: ["exp"],
      }));
    } catch (error) {
      throw error instanceof joseErrors.JWTExpired
        ? unauthorized("The token has expired.")
        : invalidToken();
    }
  } else {
    if (!keys.jwks) throw invalidToken();
    const { data, error } = await verifyCredentials({ token, apikey: null }, {
      auth: "user",
      env: { url: "http://localhost", secretKeys: {}, publishableKeys: {}, jwks: keys.jwks },
    });
    if (error || !data?.jwtClaims) {
      throw /expired/i.test(error?.message ?? "")
        ? unauthorized("The token has expired.")
        : invalidToken();
    }
    payload = data.jwtClaims as JWTPayload;
  }
  if (typeof payload.exp !== "number") throw unauthorized("The token has no expiry (exp).");
  const claims = payload as Claims;
  if (claims.role === "authenticated" && !hasAudience(payload.aud, USER_AUDIENCE)) {
    throw unauthorized(`The token's audience (aud) is not '${USER_AUDIENCE}'.`);
  }
  return claims;
}

function hasAudience(aud: JWTPayload["aud"], expected: string): boolean {
  return Array.isArray(aud) ? aud.includes(expected) : aud === expected;
}

function isApiKey(value: string): boolean {
  return value.startsWith("sb_");
}

function unauthorized(message: string): PaymentsError {
  return new PaymentsError(401, "unauthorized", message);
}

function invalidToken(): PaymentsError {
  return unauthorized("The token is not a valid JWT signed with the project's keys or JWT secret.");
}

function needsUser(): PaymentsError {
  return unauthorized("This route needs a signed-in user's token.");
}

function needsServiceRole(): PaymentsError {
  return new PaymentsError(
    403,
    "forbidden",
    "This route needs a secret key (or the service role key).",
  );
}

export function isUuid(value: unknown): value is string {
  return typeof value === "string" &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
