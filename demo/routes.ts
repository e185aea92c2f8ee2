// The demo app's server side, served beside the function at the same origin (no CORS):
// static pages, the SDK and supabase-js for the browser, and a few JSON routes that stand in for
// the app's own data API. Like PostgREST, they verify the caller's JWT and read as `anon` or as
// that user, so row level security decides what the pages show.
import { asUser, type Tx } from "../functions/db.ts";
import { authenticate, isUuid } from "../functions/auth.ts";
import { errorResponse, json, PaymentsError } from "../functions/errors.ts";
import type { ErrorBody } from "../functions/wire.ts";
import type { Demo } from "./setup.ts";

const ROOT = new URL("../", import.meta.url);

/** The pages by URL path: each one's <main> is demo/public/<page>.html, framed by layout.html. */
const PAGES: Record<string, { page: string; title: string }> = {
  "/": { page: "pricing", title: "Pricing" },
  "/success": { page: "success", title: "Thank you" },
};

/** Static files by URL path: [file relative to the repository root, content type]. */
const FILES: Record<string, [string, string]> = {
  "/demo/app.js": ["demo/public/app.js", "text/javascript; charset=utf-8"],
  // The dashboard's stylesheet: the demo's pages share its look, and add demo/public/style.css.
  "/demo/base.css": ["dashboard/style.css", "text/css; charset=utf-8"],
  "/demo/style.css": ["demo/public/style.css", "text/css; charset=utf-8"],
  "/client/index.js": ["client/index.js", "text/javascript; charset=utf-8"],
  "/vendor/supabase.js": [
    "node_modules/@supabase/supabase-js/dist/umd/supabase.js",
    "text/javascript; charset=utf-8",
  ],
};

/**
 * The demo's routes for `startStack({ extraRoutes })`. `demo` returns the set-up demo, or
 * undefined while the stack is still starting (the API answers 503 then).
 */
export function demoRoutes(
  demo: () => Demo | undefined,
): (request: Request) => Promise<Response | null> {
  return async (request) => {
    const url = new URL(request.url);
    if (request.method === "GET" || request.method === "HEAD") {
      const page = PAGES[url.pathname];
      if (page) return await servePage(page);
      const file = FILES[url.pathname];
      if (file) return await serveFile(file[0], file[1]);
    }
    if (!url.pathname.startsWith("/demo/api/")) return null;
    const current = demo();
    if (!current) {
      return json(
        503,
        { error: { code: "starting", message: "The demo is still starting." } } satisfies ErrorBody,
      );
    }
    try {
      return await api(current, request, url.pathname.slice("/demo/api".length));
    } catch (error) {
      // The function's own mapping: known errors keep their status, others are logged, not shown.
      return errorResponse(error, current.stack.deps.log);
    }
  };
}

async function api(demo: Demo, request: Request, path: string): Promise<Response> {
  const { stack } = demo;
  const get = request.method === "GET";

  // The signed-in demo user, as an app would get it from supabase.auth.
  if (get && path === "/session") {
    return Response.json({
      userId: demo.userId,
      email: demo.email,
      accessToken: await stack.userToken(demo.userId, demo.email),
      teamId: demo.teamId,
      teamName: demo.teamName,
      supabaseUrl: stack.baseUrl,
      anonKey: stack.publishableKey,
    });
  }

  // The catalog, as anyone (anon) may read it.
  if (get && path === "/prices") {
    const prices = await stack.sql.begin(async (tx) => {
      await tx`set local role anon`;
      return await tx`
        select p.price_id as "priceId", p.unit_amount as "unitAmount", p.currency, p.type,
               p.recurring_interval as "interval", p.lookup_key as "lookupKey",
               pr.name, pr.description
        from payments.stripe_prices p
        join payments.stripe_products pr
          on pr.environment = p.environment and pr.product_id = p.product_id
        where p.environment = 'test'
        order by p.type, p.unit_amount, p.price_id`;
    });
    return Response.json({
      prices: prices.map((price) => ({ ...price, unitAmount: Number(price.unitAmount) })),
    });
  }

  const claims = await authenticate(request, stack.deps.auth, "authenticated");
  const asCaller = <T>(fn: (tx: Tx) => Promise<T>) => asUser(stack.sql, claims, fn);

  // A pending order for a price. The app prices it: the orders table's trigger copies amount,
  // currency and description from the catalog and refuses any other price (22023, answered 400);
  // the fulfillment trigger marks it paid.
  if (request.method === "POST" && path === "/orders") {
    const body = await request.json().catch(() => ({}));
    const priceId = typeof body?.priceId === "string" ? body.priceId : "";
    const [order] = await asCaller((tx) =>
      tx`insert into public.orders (user_id, price_id) values (${claims.sub!}, ${priceId})
         returning id, status`
    );
    return Response.json({ order }, { status: 201 });
  }

  const orderMatch = /^\/orders\/([^/]+)$/.exec(path);
  if (get && orderMatch) {
    const id = orderMatch[1];
    const [order] = isUuid(id)
      ? await asCaller((tx) =>
        tx`select id, description, amount, currency, status, paid_at as "paidAt"
           from public.orders where id = ${id}`
      )
      : [];
    if (!order) throw new PaymentsError(404, "not_found", `No order "${id}".`);
    return Response.json({ order: { ...order, amount: Number(order.amount) } });
  }

  // The team's newest subscription, as team members may read it.
  const teamMatch = /^\/teams\/([^/]+)\/subscription$/.exec(path);
  if (get && teamMatch) {
    const id = teamMatch[1];
    const [subscription] = await asCaller((tx) =>
      tx`select subscription_id as "subscriptionId", status,
                cancel_at_period_end as "cancelAtPeriodEnd", canceled_at as "canceledAt",
                current_period_end as "currentPeriodEnd"
         from payments.stripe_subscriptions
         where environment = 'test' and subject_type = 'team' and subject_id = ${id}
         order by stripe_created_at desc nulls last, created_at desc
         limit 1`
    );
    return Response.json({ subscription: subscription ?? null });
  }

  throw new PaymentsError(404, "not_found", `No demo route ${request.method} ${path}.`);
}

async function servePage({ page, title }: { page: string; title: string }): Promise<Response> {
  const read = (name: string) => Deno.readTextFile(new URL(`demo/public/${name}.html`, ROOT));
  const [layout, main] = await Promise.all([read("layout"), read(page)]);
  const values: Record<string, string> = { title, page, main: main.trim() };
  const html = layout.replace(/\{\{ (\w+) \}\}/g, (_, name: string) => values[name]);
  return new Response(html, {
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });
}

async function serveFile(path: string, contentType: string): Promise<Response> {
  try {
    const body = await Deno.readFile(new URL(path, ROOT));
    return new Response(body, {
      headers: { "content-type": contentType, "cache-control": "no-store" },
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return errorResponse(
        new PaymentsError(404, "not_found", `${path} is missing (run npm ci).`),
        console.error,
      );
    }
    throw error;
  }
}
