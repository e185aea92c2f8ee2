// The payments client SDK: plain ESM JavaScript with no runtime dependency, so the same file runs
// unbuilt in browsers, Node and Deno. Its types: in this repository mod.ts (Deno code imports it);
// in the packed package index.d.ts, generated when it is packed and named by package.json.
// `deno check --check-js client/index.js` type-checks this file on its own (JSDoc types).

/** The error every failed call resolves with; `statusCode` is 0 when no HTTP answer arrived. */
export class PaymentsError extends Error {
  /**
   * @param {string} message
   * @param {{ statusCode: number, code: string, details?: unknown, cause?: unknown }} init
   */
  constructor(message, init) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "PaymentsError";
    this.statusCode = init.statusCode;
    this.code = init.code;
    this.details = init.details;
  }
}

/** @typedef {{ signal?: AbortSignal, headers?: Record<string, string> }} RequestOptions */

/**
 * @param {{ functions: { invoke: Function } }} supabase
 * @param {{ functionName?: string }} [options]
 */
export function createPaymentsClient(supabase, options = {}) {
  if (!supabase || !supabase.functions || typeof supabase.functions.invoke !== "function") {
    throw new TypeError("createPaymentsClient expects a SupabaseClient (from createClient).");
  }
  const functionName = (options.functionName ?? "payments").replace(/^\/+|\/+$/g, "");

  /**
   * @param {string} environment
   * @param {string} resource
   * @param {unknown} body
   * @param {RequestOptions} [request]
   */
  async function post(environment, resource, body, request = {}) {
    let result;
    try {
      result = await supabase.functions.invoke(
        `${functionName}/stripe/${encodeURIComponent(environment)}/${resource}`,
        {
          method: "POST",
          body: body ?? {},
          ...(request.headers ? { headers: request.headers } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        },
      );
    } catch (cause) {
      // functions.invoke reports failures in its result; this is a safety net for older versions.
      return { data: null, error: networkError(cause) };
    }
    if (result.error) return { data: null, error: await toPaymentsError(result.error) };
    return { data: result.data, error: null };
  }

  return {
    stripe: {
      /**
       * @param {string} environment
       * @param {unknown} params
       * @param {RequestOptions} [request]
       */
      createCheckoutSession(environment, params, request) {
        return post(environment, "checkout-sessions", params, request);
      },
      /**
       * @param {string} environment
       * @param {unknown} params
       * @param {RequestOptions} [request]
       */
      createCustomerPortalSession(environment, params, request) {
        return post(environment, "customer-portal-sessions", params, request);
      },
    },
  };
}

/**
 * Turns what functions.invoke returned into a PaymentsError carrying the server's own answer.
 * FunctionsHttpError and FunctionsRelayError hold the Response in `context`; FunctionsFetchError
 * holds the network failure. Checked by shape, so no supabase-js runtime import is needed.
 * @param {any} error
 * @returns {Promise<PaymentsError>}
 */
async function toPaymentsError(error) {
  const response = error?.context;
  if (
    error?.name !== "FunctionsFetchError" && response && typeof response.status === "number" &&
    typeof response.text === "function"
  ) {
    let text = "";
    try {
      text = await response.text();
    } catch {
      // the body could not be read; the status still says what happened
    }
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const answer = body && typeof body === "object" ? body.error : undefined;
    if (answer && typeof answer === "object" && typeof answer.message === "string") {
      return new PaymentsError(answer.message, {
        statusCode: response.status,
        code: typeof answer.code === "string" ? answer.code : "http_error",
        details: answer.details,
        cause: error,
      });
    }
    const relay = error?.name === "FunctionsRelayError";
    return new PaymentsError(
      relay
        ? `The Supabase relay failed to reach the payments function (HTTP ${response.status}).`
        : `The payments function answered HTTP ${response.status}${
          text ? `: ${text.slice(0, 200)}` : ""
        }.`,
      {
        statusCode: response.status,
        code: relay ? "relay_error" : "http_error",
        details: text ? { body: text.slice(0, 2000) } : undefined,
        cause: error,
      },
    );
  }
  return networkError(error?.context ?? error);
}

/** @param {unknown} cause */
function networkError(cause) {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new PaymentsError(`Could not reach the payments function: ${reason}`, {
    statusCode: 0,
    code: "network_error",
    cause,
  });
}
