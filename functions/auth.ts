// Who is calling: the Authorization bearer JWT, verified with the project's JWT secret.
import { errors as joseErrors, jwtVerify } from "jose";
import { PaymentsError } from "./errors.ts";

export interface Claims {
  sub?: string;
  role: string;
  email?: string;
  [claim: string]: unknown;
}

export type Role = "authenticated" | "service_role";

export function jwtKey(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/** Verifies the bearer token (HS256 only: `alg: none` and other algorithms are refused). */
export async function authenticate(request: Request, key: Uint8Array, role: Role): Promise<Claims> {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) {
    throw new PaymentsError(401, "unauthorized", "Missing Authorization: Bearer token.");
  }
  let claims: Claims;
  try {
    const { payload } = await jwtVerify(match[1], key, { algorithms: ["HS256"] });
    claims = payload as Claims;
  } catch (error) {
    const reason = error instanceof joseErrors.JWTExpired
      ? "The token has expired."
      : "The token is not a valid JWT signed with the project's JWT secret.";
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

export function isUuid(value: unknown): value is string {
  return typeof value === "string" &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
