// `pgpayments dashboard`: serves the dashboard on this machine against any deployment. Supabase
// serves HTML from functions as plain text, so the web app runs here and calls the deployment's
// admin API from the browser; the secret key goes only to that browser and the deployment.
import { dashboardRoutes } from "../dashboard/serve.ts";
import { apiFrom } from "./api.ts";
import { scanArgs, UsageError } from "./args.ts";

export const DASHBOARD_USAGE = `Usage: pgpayments dashboard [options]

Serves the payments dashboard at http://127.0.0.1:<port>/dashboard/ for one deployment.

Options:
      --url <url>                     Project URL (default: $SUPABASE_URL)
      --secret-key <key>              Secret key (default: $SUPABASE_SECRET_KEY, then
                                      $SUPABASE_SERVICE_ROLE_KEY); without one the page asks
      --service-role-key <key>        Same as --secret-key
      --function-name <name>          Edge function name (default: payments)
      --port <port>                   Local port (default: 54329; 0 picks a free one)
  -h, --help                          Show this help`;

interface DashboardIo {
  out: (line: string) => void;
  env: (name: string) => string | undefined;
}

const FLAGS: Record<string, "url" | "secretKey" | "functionName" | "port"> = {
  "--url": "url",
  "--secret-key": "secretKey",
  "--service-role-key": "secretKey",
  "--function-name": "functionName",
  "--port": "port",
};

export function parseDashboardArgs(argv: string[]) {
  const { values, switches } = scanArgs(
    argv,
    { values: FLAGS, switches: ["--help"], words: false },
    (_name, arg) => new UsageError(`dashboard: unknown argument '${arg}'.`, false),
  );
  if (switches.has("--help")) return { help: true as const };
  const port = Number(values.port ?? 54329);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a port number from 0 to 65535 (got '${values.port}').`);
  }
  return { help: false as const, ...values, port };
}

/** Serves until the process is stopped; resolves with the exit code. */
export async function runDashboard(argv: string[], io: DashboardIo): Promise<number> {
  const args = parseDashboardArgs(argv);
  if (args.help) {
    io.out(DASHBOARD_USAGE);
    return 0;
  }
  const url = args.url ?? io.env("SUPABASE_URL");
  if (!url) throw new UsageError("no project URL: pass --url or set SUPABASE_URL.");
  const secretKey = args.secretKey ?? io.env("SUPABASE_SECRET_KEY") ??
    io.env("SUPABASE_SERVICE_ROLE_KEY");
  let apiUrl: string;
  try {
    apiUrl = apiFrom(url, secretKey ?? "", args.functionName ?? "payments").base;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  // Only a page opened with this token gets the key: not any other process on this machine.
  const token = crypto.randomUUID();
  const routes = dashboardRoutes(() => ({ apiUrl, secretKey, token }));
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: "127.0.0.1",
      port: args.port,
      onListen: ({ port }) => {
        io.out(
          `pgpayments: dashboard for ${
            new URL(apiUrl).origin
          } at http://127.0.0.1:${port}/dashboard/${secretKey ? `?token=${token}` : ""}`,
        );
        io.out(
          secretKey
            ? "pgpayments: the secret key is handed only to a page opened with that URL (Ctrl-C stops)"
            : "pgpayments: no secret key given: the page asks for it (Ctrl-C stops)",
        );
      },
    }, async (request) =>
      (await routes(request)) ??
        new Response(null, { status: 308, headers: { location: "/dashboard/" } }));
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`port ${args.port} is already in use; choose another with --port.`);
    }
    throw error;
  }
  await server.finished;
  return 0;
}
