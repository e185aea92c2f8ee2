// Who is calling: the Authorization bearer JWT, verified with the project's JWT secret.
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { PaymentsError } from "./errors.ts";

export interface Claims {
  sub?: string;
  role: string;
  email?: string;
  [claim: string]: unknown;
}

export type Role = "authenticated" | "service_role";

/**
 * How tokens are verified: HS256 with the project's JWT secret, and, where a JWKS is configured,
 * the asymmetric keys (ES256, RS256) newer Supabase projects sign with. Nothing else is accepted:
 * `alg: none`, or an algorithm without its key, is refused.
 */
export interface JwtKeys {
  secret?: Uint8Array;
  jwks?: JWTVerifyGetKey;
}

const ASYMMETRIC = ["ES256", "RS256"];

export function jwtKeys(options: { secret?: string; jwksUrl?: string }): JwtKeys {
  return {
    secret: options.secret ? new TextEncoder().encode(options.secret) : undefined,
    // Fetched on first use and cached by jose, with its own cooldown between refetches.
    jwks: options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined,
  };
}

/** Verifies the bearer token and requires the given role. */
export async function authenticate(request: Request, keys: JwtKeys, role: Role): Promise<Claims> {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) {
    throw new PaymentsError(401, "unauthorized", "Missing Authorization: Bearer token.");
  }
  let claims: Claims;
  try {
    const { alg } = decodeProtectedHeader(match[1]);
    const { payload } = alg === "HS256" && keys.secret
      ? await jwtVerify(match[1], keys.secret, { algorithms: ["HS256"] })
      : keys.jwks && ASYMMETRIC.includes(alg ?? "")
      ? await jwtVerify(match[1], keys.jwks, { algorithms: ASYMMETRIC })
      : refuse();
    claims = payload as Claims;
  } catch (error) {
    const reason = error instanceof joseErrors.JWTExpired
      ? "The token has expired."
      : "The token is not a valid JWT signed with the project's JWT secret or keys.";
    throw new PaymentsError(401, "unauthorized", reason);
  }
  if (claims.role !== role) {
    throw new PaymentsError(
      role === "service_role" ? 403 : 401,
      role === "service_role" ? "forbidden" : "unauthorized",
      role === "service_role"
        ? "This route needs the service role key."
        : "This route needs a signed-in user's token.",
    );
  }
  if (role === "authenticated" && !isUuid(claims.sub)) {
    throw new PaymentsError(401, "unauthorized", "The token has no user id (sub).");
  }
  return claims;
}

function refuse(): never {
  throw new joseErrors.JOSEAlgNotAllowed("algorithm not accepted");
}

export function isUuid(value: unknown): value is string {
  return typeof value === "string" &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
