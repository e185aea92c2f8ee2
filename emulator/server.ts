/**
 * The emulator's HTTP server: `startEmulator` wires the API, hosted pages and test controls
 * to one in-memory store (kept in a file when asked) and one webhook dispatcher.
 */
import { createApiHandler } from "./api.ts";
import { createControlHandler } from "./controls.ts";
import { createPageHandler } from "./pages.ts";
import { jsonResponse } from "./responses.ts";
import { StateFile } from "./state_file.ts";
import { Store } from "./store.ts";
import { WebhookDispatcher } from "./webhooks.ts";

export interface EmulatorOptions {
  /** 0 picks a free port. Default 12111. */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Wait before each retry of a failed delivery. Default [1000, 5000, 30000]. */
  webhookRetryDelaysMs?: number[];
  /** A delivery that takes longer fails and is retried. Default 10000. */
  webhookTimeoutMs?: number;
  /** Base of hosted page URLs. Default http://127.0.0.1:<port>. */
  publicUrl?: string;
  /**
   * Keep the objects in this file: loaded at start when it exists, written after each request
   * that may change them and on stop. Default: in memory only.
   */
  stateFile?: string;
}

export interface RunningEmulator {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export const DEFAULT_PORT = 12111;

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const hostname = options.hostname ?? "127.0.0.1";
  const store = new Store();
  const state = options.stateFile ? new StateFile(options.stateFile, store) : undefined;
  state?.load();
  const webhooks = new WebhookDispatcher({
    retryDelaysMs: options.webhookRetryDelaysMs ?? [1000, 5000, 30000],
    timeoutMs: options.webhookTimeoutMs ?? 10000,
  });
  let publicUrl = options.publicUrl?.replace(/\/+$/, "") ?? "";
  const deps = { store, webhooks, publicUrl: () => publicUrl };
  const api = createApiHandler(deps);
  const pages = createPageHandler(deps);
  const controls = createControlHandler(deps);

  const route = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/v1/")) return await api(request, url);
    const response = await controls(request, url) ?? await pages(request, url);
    return response ?? jsonResponse(404, {
      error: {
        type: "invalid_request_error",
        message: `Unrecognized request URL (${request.method}: ${url.pathname}).`,
      },
    });
  };

  const handler = async (request: Request): Promise<Response> => {
    const response = await route(request);
    if (request.method !== "GET" && request.method !== "HEAD") state?.changed();
    return response;
  };

  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    port: options.port ?? DEFAULT_PORT,
    hostname,
    onListen: (address) => listening.resolve(address),
  }, handler);
  const { port } = await listening.promise;
  // A wildcard bind is reachable on loopback; URLs must name a host a client can dial.
  const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  publicUrl ||= url;

  return {
    url,
    port,
    async stop() {
      await webhooks.stop();
      await server.shutdown();
      state?.save();
    },
  };
}
