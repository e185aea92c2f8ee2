// Overview: problems first, then the figures and charts of the selected environment.
import { call, env, environment } from "../api.js";
import { daysSince, lastHours, stackedBars } from "../charts.js";
import { h, money } from "../ui.js";

const STATUS_COLORS = {
  processed: "#0e8a4f",
  ignored: "#a3acb9",
  pending: "#e5a00d",
  failed: "#c0123c",
};

/** What needs the operator, most urgent first: [tone, text, link]. */
export function problems(state, overview) {
  const list = [];
  if (overview?.failedEvents > 0) {
    list.push([
      "bad",
      `${overview.failedEvents} webhook event(s) failed: fix the cause, then replay them.`,
      "#/events",
    ]);
  }
  if (!state.configured) {
    list.push(["warn", "No Stripe key is connected to this environment.", "#/settings"]);
  } else {
    if (!state.webhook?.endpointId) {
      list.push([
        "bad",
        "The webhook endpoint is not enabled: Stripe cannot deliver events.",
        "#/settings",
      ]);
    } else if (!state.webhook.signingSecretStored) {
      list.push([
        "bad",
        "The webhook signing secret is missing: deliveries cannot be verified.",
        "#/settings",
      ]);
    }
    const delivery = state.delivery;
    if (delivery?.endpointStatus === "disabled" || delivery?.endpointStatus === "missing") {
      list.push([
        "bad",
        `Stripe reports the webhook endpoint ${delivery.endpointStatus}: repair it in Settings, then reconcile.`,
        "#/settings",
      ]);
    }
    if (delivery?.pendingNotStored > 0) {
      list.push([
        "bad",
        `${delivery.pendingNotStored} event(s) Stripe could not deliver are not stored` +
        ` (last delivery ${
          delivery.lastDeliveryAt ?? "never"
        }): run payments stripe events reconcile.`,
        "#/events",
      ]);
    }
    if (delivery?.error) {
      list.push(["warn", `Delivery health unknown: ${delivery.error}`, "#/settings"]);
    }
    if (["failed", "interrupted"].includes(state.lastSync?.status)) {
      list.push([
        "bad",
        `The last sync ${state.lastSync.status}${
          state.lastSync.error ? `: ${state.lastSync.error}` : "."
        }`,
        "#/settings",
      ]);
    }
  }
  // Deployment settings may add warnings (such as a live key while test routes are open).
  for (const warning of [...(state.warnings ?? [])]) {
    list.push([
      "bad",
      typeof warning === "string" ? warning : warning.message ?? JSON.stringify(warning),
      "#/settings",
    ]);
  }
  return list;
}

export async function render(root) {
  const [status, overview] = await Promise.all([
    call("GET", "/stripe/status"),
    call("GET", env("/overview")),
  ]);
  const state = status.environments[environment()];
  const shared = [...(status.warnings ?? [])].map((warning) =>
    typeof warning === "string" ? warning : warning.message
  );
  const found = [
    ...shared.map((text) => ["bad", text, "#/settings"]),
    ...problems(state, overview),
  ];

  const active = (overview.subscriptionsByStatus.active ?? 0) +
    (overview.subscriptionsByStatus.trialing ?? 0);
  const revenueByCurrency = {};
  for (const row of overview.revenuePerDay) {
    revenueByCurrency[row.currency] = (revenueByCurrency[row.currency] ?? 0) + row.amount;
  }

  const days = daysSince(overview.since);
  const revenueCharts = Object.keys(revenueByCurrency).sort().map((currency) => {
    const values = days.map((day) =>
      overview.revenuePerDay.filter((row) => row.currency === currency && row.day === day)
        .reduce((sum, row) => sum + row.amount, 0)
    );
    return h(
      "div",
      {},
      h("h3", { class: "muted" }, currency.toUpperCase()),
      stackedBars(days, [{ name: currency, color: "#635bff", values }], {
        title: `Revenue per day in ${currency.toUpperCase()}`,
        label: (day) => day.slice(5),
        format: (value) => money(value, currency),
      }),
    );
  });

  const hours = lastHours(48);
  const hourKey = (value) => new Date(value).toISOString();
  const eventSeries = Object.entries(STATUS_COLORS).map(([name, color]) => ({
    name,
    color,
    values: hours.map((hour) =>
      overview.eventsPerHour.filter((row) => row.status === name && hourKey(row.hour) === hour)
        .reduce((sum, row) => sum + row.count, 0)
    ),
  }));

  root.replaceChildren(
    h("h1", {}, `Overview · ${environment()}`),
    h(
      "section",
      { class: "panel", id: "problems" },
      h("h2", {}, "Problems"),
      found.length
        ? h(
          "ul",
          { class: "problems" },
          found.map(([tone, text, link]) =>
            h("li", { dataset: { tone } }, h("a", { href: link }, text))
          ),
        )
        : h("p", { class: "muted" }, "None: keys, webhook endpoint, sync and events are in order."),
    ),
    h(
      "section",
      { class: "panel figures" },
      h(
        "div",
        { class: "figure" },
        h("span", { class: "muted" }, "Active subscriptions"),
        h("strong", { id: "active-subscriptions" }, String(active)),
      ),
      h(
        "div",
        { class: "figure" },
        h("span", { class: "muted" }, "Failed events"),
        h("strong", { id: "failed-events" }, String(overview.failedEvents)),
      ),
      h(
        "div",
        { class: "figure" },
        h("span", { class: "muted" }, "Revenue, last 30 days"),
        h(
          "strong",
          {},
          Object.keys(revenueByCurrency).length
            ? Object.entries(revenueByCurrency).map(([currency, amount]) => money(amount, currency))
              .join(" · ")
            : "–",
        ),
      ),
    ),
    h(
      "div",
      { class: "grid" },
      h(
        "section",
        { class: "panel", id: "revenue-chart" },
        h("h2", {}, "Revenue per day (net of refunds)"),
        revenueCharts.length
          ? revenueCharts
          : h("p", { class: "muted" }, "No payments in the last 30 days."),
      ),
      h(
        "section",
        { class: "panel", id: "events-chart" },
        h("h2", {}, "Webhook events per hour"),
        stackedBars(hours, eventSeries, {
          title: "Webhook events per hour by status",
          label: (hour) => `${hour.slice(11, 13)}h`,
          format: (value) => String(value),
        }),
      ),
    ),
  );
}
