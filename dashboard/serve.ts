// Serves the dashboard's static files under /dashboard, and /dashboard/config.json with the
// deployment to talk to. `npm start` and `pgpayments dashboard` both mount these routes on a
// loopback server: the secret key goes only to a browser on this machine, never into the page.

export interface DashboardTarget {
  /** The function's base URL, `.../functions/v1/payments`. */
  apiUrl: string;
  /** Handed to the browser, which keeps it in sessionStorage; omit to have the operator type it. */
  secretKey?: string;
  /**
   * The one-time token of the URL printed to the operator (`/dashboard/?token=...`): the key is
   * handed only to a page opened with it, not to any other process on this machine.
   */
  token?: string;
}

const ROOT = new URL("./", import.meta.url);
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};
// Only the app's own files: no path can climb out of dashboard/ or reach this module.
const FILE = /^\/dashboard\/((?:pages\/)?[a-z_]+\.(?:js|css))$/;

/** Answers /dashboard requests, or null for other paths. `target` is read on each request. */
export function dashboardRoutes(
  target: () => DashboardTarget | undefined,
): (request: Request) => Promise<Response | null> {
  return async (request) => {
    const url = new URL(request.url);
    if (url.pathname !== "/dashboard" && !url.pathname.startsWith("/dashboard/")) return null;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return Response.json({ error: { code: "method_not_allowed", message: "Only GET." } }, {
        status: 405,
      });
    }
    if (url.pathname === "/dashboard") {
      return new Response(null, { status: 308, headers: { location: "/dashboard/" } });
    }
    if (url.pathname === "/dashboard/config.json") return config(request, target());
    const name = url.pathname === "/dashboard/" ? "index.html" : FILE.exec(url.pathname)?.[1];
    if (!name) return notFound(url.pathname);
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await Deno.readFile(new URL(name, ROOT));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return notFound(url.pathname);
      throw error;
    }
    return new Response(body, {
      headers: {
        "content-type": TYPES[name.split(".").pop()!],
        "cache-control": "no-store",
        "content-security-policy": policy(target()),
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
      },
    });
  };
}

/**
 * The page may load only its own files and talk only to this server and the deployment, so even
 * a script injected through a stored value could not send the key elsewhere.
 */
function policy(target: DashboardTarget | undefined): string {
  const api = target ? new URL(target.apiUrl).origin : "http: https:";
  return [
    "default-src 'self'",
    `connect-src 'self' ${api}`,
    // Charts colour their legend with style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/**
 * The key is answered only to requests addressed to the loopback name the server listens on (no
 * DNS rebinding) and carrying the token of the printed URL (no other local process).
 */
function config(request: Request, target: DashboardTarget | undefined): Response {
  const url = new URL(request.url);
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (!target || !loopback) return Response.json({}, { headers: { "cache-control": "no-store" } });
  const trusted = target.token !== undefined && url.searchParams.get("token") === target.token;
  return Response.json(
    {
      apiUrl: target.apiUrl,
      ...(target.secretKey && trusted ? { secretKey: target.secretKey } : {}),
    },
    { headers: { "cache-control": "no-store" } },
  );
}

function notFound(path: string): Response {
  return Response.json({ error: { code: "not_found", message: `No dashboard file ${path}.` } }, {
    status: 404,
  });
}
