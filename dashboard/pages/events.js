// Webhook events: failed ones first, filters by status and type, the stored payload and error of
// one event, and Replay with its outcome.
import { ApiError, call, env } from "../api.js";
import {
  actionButton,
  filterForm,
  h,
  pagedTable,
  showError,
  status,
  stripeLink,
  time,
} from "../ui.js";

function duration(event) {
  if (!event.processedAt) return "–";
  return `${Math.max(0, new Date(event.processedAt) - new Date(event.receivedAt))} ms`;
}

const COLUMNS = [
  ["Received", (e) => time(e.receivedAt)],
  ["Type", (e) => e.type],
  ["Status", (e) => status(e.status)],
  ["Attempts", (e) => String(e.attempts), { number: true }],
  ["Object", (e) => e.objectId ?? "–"],
  ["Event", (e) => h("code", {}, e.eventId)],
];

async function detail(eventId, refresh) {
  const { event } = await call("GET", env(`/webhook-events/${encodeURIComponent(eventId)}`));
  const outcome = h("p", { id: "replay-outcome", hidden: true });
  const replay = actionButton({ id: "replay" }, "Replay", async () => {
    let text;
    let tone;
    try {
      const body = await call("POST", env(`/events/${encodeURIComponent(eventId)}/replay`));
      const messages = {
        processed: "Replayed: processed.",
        ignored: "Replayed: ignored (nothing to project for its type).",
        duplicate: "Already processed: nothing to replay.",
      };
      text = messages[body.event.status] ?? `Replayed: ${body.event.status}.`;
      tone = "notice";
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== "event_failed") throw error;
      text = error.message;
      tone = "error";
    }
    await refresh(eventId, { text, tone });
  });
  return {
    event,
    element: h(
      "section",
      { class: "panel", id: "event-detail", dataset: { eventId, status: event.status } },
      h("h2", {}, event.type, " ", status(event.status)),
      outcome,
      h(
        "table",
        {},
        h(
          "tbody",
          {},
          h("tr", {}, h("th", {}, "Event"), h("td", {}, stripeLink(event.eventId, "events"))),
          h(
            "tr",
            {},
            h("th", {}, "Object"),
            h("td", {}, event.objectId ? `${event.objectType} ${event.objectId}` : "–"),
          ),
          h("tr", {}, h("th", {}, "Created by Stripe"), h("td", {}, time(event.createdAt))),
          h("tr", {}, h("th", {}, "Received"), h("td", {}, time(event.receivedAt))),
          h(
            "tr",
            {},
            h("th", {}, "Processed"),
            h("td", {}, `${time(event.processedAt)} (${duration(event)})`),
          ),
          h("tr", {}, h("th", {}, "Attempts"), h("td", {}, String(event.attempts))),
        ),
      ),
      event.lastError
        ? h(
          "div",
          {},
          h("h3", {}, "Error"),
          h("pre", { class: "error", id: "event-error" }, event.lastError),
        )
        : null,
      h(
        "p",
        {},
        replay,
        h("span", { class: "muted" }, " processes the stored event again (fix the cause first)."),
      ),
      h("h3", {}, "Payload"),
      h("pre", { id: "event-payload" }, JSON.stringify(event.payload, null, 2)),
    ),
    outcome,
  };
}

export async function render(root) {
  const statusFilter = h(
    "select",
    { id: "event-status" },
    h("option", { value: "" }, "any"),
    ...["failed", "pending", "processed", "ignored"].map((value) => h("option", { value }, value)),
  );
  const typeFilter = h("input", { id: "event-type", placeholder: "e.g. invoice.paid", size: 28 });
  const lists = h("div", {});
  const side = h("div", {});

  const select = async (eventId, message) => {
    const { element, outcome } = await detail(eventId, async (id, result) => {
      await load();
      await select(id, result);
    });
    if (message) {
      outcome.textContent = message.text;
      outcome.className = message.tone;
      outcome.hidden = false;
    }
    side.replaceChildren(element);
    for (const row of root.querySelectorAll("tr[data-event-id]")) {
      row.setAttribute("aria-selected", String(row.dataset.eventId === eventId));
    }
  };
  const options = {
    onSelect: (event) => select(event.eventId).catch(showError),
    rowAttributes: (event) => ({ dataset: { eventId: event.eventId, status: event.status } }),
  };
  const load = async () => {
    const query = { type: typeFilter.value.trim() };
    const sections = [];
    // Failed events need the operator: without a status filter they come first, on their own.
    if (!statusFilter.value) {
      const failed = await pagedTable(
        COLUMNS,
        (cursor) =>
          call("GET", env("/webhook-events"), { query: { ...query, status: "failed", cursor } }),
        options,
      );
      if (failed.first.data.length) {
        sections.push(
          h(
            "section",
            { class: "panel", id: "failed-events" },
            h("h2", {}, "Failed"),
            failed.element,
          ),
        );
      }
    }
    const all = await pagedTable(
      COLUMNS,
      (cursor) =>
        call("GET", env("/webhook-events"), {
          query: { ...query, status: statusFilter.value, cursor },
        }),
      {
        ...options,
        empty: "No events match.",
      },
    );
    sections.push(
      h(
        "section",
        { class: "panel", id: "all-events" },
        h("h2", {}, statusFilter.value ? `Status ${statusFilter.value}` : "All events"),
        all.element,
      ),
    );
    lists.replaceChildren(...sections);
  };
  const filters = await filterForm([["Status", statusFilter], ["Type", typeFilter]], load);
  root.replaceChildren(
    h("h1", {}, "Webhook events"),
    filters,
    h("div", { class: "split" }, lists, side),
  );
}
