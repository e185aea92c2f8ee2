// Settings: per environment, the key and account, the webhook endpoint with Repair, the last
// sync and Sync now with live progress.
import { call, ndjson } from "../api.js";
import { actionButton, busy, h, labelledForm, status, time } from "../ui.js";

function syncSummary(done) {
  const counts = Object.entries(done.counts ?? {}).map(([object, n]) => `${n} ${object}`).join(
    ", ",
  );
  const archived = Object.entries(done.archived ?? {}).filter(([, n]) => n > 0).map(([object, n]) =>
    `${n} ${object}`
  );
  return `Synced ${counts || "nothing"}${
    archived.length ? `; archived ${archived.join(", ")}` : ""
  }.`;
}

function webhookText(webhook) {
  if (webhook.status === "configured") {
    return `Endpoint ${webhook.endpointId} ${
      webhook.created ? "created" : "already up to date"
    } → ${webhook.url}`;
  }
  return `Webhook endpoint not configured: ${webhook.reason ?? webhook.status}`;
}

function environmentPanel(name, state, refresh) {
  const outcome = h("p", { class: "notice", id: `outcome-${name}`, hidden: true });
  const say = (text) => {
    outcome.textContent = text;
    outcome.hidden = false;
  };

  const keyInput = h("input", {
    type: "password",
    id: `secret-key-${name}`,
    placeholder: `sk_${name}_…`,
    autocomplete: "off",
    size: 36,
  });
  const connect = h(
    "button",
    { type: "submit", id: `connect-${name}` },
    state.configured ? "Replace key" : "Connect",
  );
  const form = labelledForm(
    { class: "inline" },
    [["Stripe secret key", keyInput]],
    connect,
    async () => {
      say("Validating the key, configuring the webhook endpoint and syncing …");
      const body = await call("PUT", `/stripe/${name}/config`, {
        body: { secretKey: keyInput.value.trim() },
      });
      keyInput.value = "";
      await refresh(
        name,
        `Connected to ${body.account.id} with key …${body.secretKeyLast4}. ${
          webhookText(body.webhook)
        }. ${body.sync?.type === "done" ? syncSummary(body.sync) : ""}`,
      );
    },
  );

  const remove = h("button", {
    type: "button",
    class: "danger",
    id: `remove-${name}`,
    hidden: !state.configured,
  }, "Remove key");
  remove.addEventListener("click", () => {
    if (!confirm(`Remove the ${name} Stripe key and its webhook endpoint?`)) return;
    busy(remove, async () => {
      const body = await call("DELETE", `/stripe/${name}/config`);
      await refresh(
        name,
        body.removed
          ? `Key removed${body.webhookRemoved ? " and webhook endpoint deleted" : ""}.`
          : "No key was configured.",
      );
    });
  });

  const repair = actionButton(
    { class: "secondary", id: `repair-${name}`, disabled: !state.configured },
    "Repair",
    async () => {
      const body = await call("POST", `/stripe/${name}/webhook`);
      await refresh(name, webhookText(body.webhook));
    },
  );

  const progress = h("progress", { id: `sync-progress-${name}`, hidden: true });
  const log = h("ol", { class: "progress-log", id: `sync-log-${name}`, hidden: true });
  const syncNow = actionButton(
    { id: `sync-${name}`, disabled: !state.configured },
    "Sync now",
    async () => {
      progress.hidden = false;
      progress.removeAttribute("value");
      log.hidden = false;
      log.replaceChildren();
      const response = await call("POST", `/stripe/${name}/sync`, { stream: true });
      for await (const step of ndjson(response)) {
        if (step.type === "page") {
          log.append(
            h(
              "li",
              { dataset: { object: step.object } },
              `${step.object}: page ${step.page}, +${step.count} (${step.total} in all)`,
            ),
          );
        } else if (step.type === "archived") {
          log.append(h("li", {}, `${step.object}: archived ${step.count} gone from Stripe`));
        } else if (step.type === "error") {
          throw new Error(`Sync failed: ${step.message} (${step.code})`);
        } else if (step.type === "done") {
          progress.value = 1;
          progress.max = 1;
          const summary = syncSummary(step);
          log.append(h("li", { class: "done" }, summary));
          await refresh(name, summary, { keepLog: true });
        }
        log.scrollTop = log.scrollHeight;
      }
    },
  );

  const sync = state.lastSync ?? {};
  return h(
    "section",
    { class: "panel", id: `environment-${name}`, dataset: { environment: name } },
    h("h2", {}, `${name} `, status(state.status)),
    outcome,
    h(
      "table",
      {},
      h(
        "tbody",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Key"),
          h("td", {}, state.secretKeyLast4 ? `…${state.secretKeyLast4}` : "not connected"),
        ),
        h(
          "tr",
          {},
          h("th", {}, "Account"),
          h(
            "td",
            {},
            state.account
              ? `${state.account.id}${state.account.name ? ` (${state.account.name})` : ""}${
                state.account.email ? ` · ${state.account.email}` : ""
              }`
              : "–",
          ),
        ),
        h(
          "tr",
          {},
          h("th", {}, "Webhook endpoint"),
          h(
            "td",
            { id: `webhook-${name}` },
            state.webhook?.endpointId
              ? [
                status(state.webhook.signingSecretStored ? "configured" : "failed"),
                ` ${state.webhook.endpointId} → ${state.webhook.url}`,
              ]
              : status(state.configured ? "failed" : "not configured"),
            " ",
            repair,
          ),
        ),
        h(
          "tr",
          {},
          h("th", {}, "Last sync"),
          h(
            "td",
            { id: `last-sync-${name}` },
            sync.at ? [status(sync.status), ` ${time(sync.at)}`] : "never",
            sync.error ? h("div", { class: "error" }, sync.error) : null,
            " ",
            syncNow,
            progress,
            log,
          ),
        ),
      ),
    ),
    h("h3", {}, state.configured ? "Replace or remove the key" : "Connect a key"),
    form,
    remove,
  );
}

export async function render(root) {
  const draw = async (name, message, options = {}) => {
    const previousLogs = options.keepLog ? [...root.querySelectorAll(".progress-log")] : [];
    const status = await call("GET", "/stripe/status");
    root.replaceChildren(
      h("h1", {}, "Settings"),
      h(
        "p",
        { class: "muted" },
        "The key is validated with Stripe and stored in the database's secret store; it is never shown again.",
      ),
      ...["test", "live"].map((name) => environmentPanel(name, status.environments[name], draw)),
    );
    for (const old of previousLogs) {
      const fresh = root.querySelector(`#${old.id}`);
      if (fresh && old.children.length) {
        fresh.replaceChildren(...old.children);
        fresh.hidden = false;
      }
    }
    const outcome = name && root.querySelector(`#outcome-${name}`);
    if (outcome && message) {
      outcome.textContent = message;
      outcome.hidden = false;
    }
  };
  await draw();
}
