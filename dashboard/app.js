// The dashboard's entry: connect (URL and secret key, or what the local server passes), then
// one page per hash route. Everything it shows comes from the admin API of the deployment.
import {
  call,
  connection,
  environment,
  forgetConnection,
  saveConnection,
  setEnvironment,
} from "./api.js";
import { render as catalog } from "./pages/catalog.js";
import { render as events } from "./pages/events.js";
import { renderCustomers, renderSubscriptions, renderTransactions } from "./pages/lists.js";
import { render as overview } from "./pages/overview.js";
import { render as settings } from "./pages/settings.js";
import { h, showError } from "./ui.js";

const PAGES = {
  overview,
  settings,
  catalog,
  customers: renderCustomers,
  subscriptions: renderSubscriptions,
  transactions: renderTransactions,
  events,
};

const $ = (id) => document.getElementById(id);

/** What the local server passes: {apiUrl, secretKey?}; nothing when served without one. */
async function serverConfig() {
  try {
    // The printed URL carries a one-time token; it leaves the address bar once used.
    const token = new URLSearchParams(location.search).get("token");
    if (token) history.replaceState(null, "", location.pathname + location.hash);
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    const response = await fetch(`/dashboard/config.json${query}`, { cache: "no-store" });
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}

function login(config) {
  const url = h("input", {
    id: "login-url",
    type: "url",
    required: true,
    value: config.apiUrl ?? "",
    placeholder: "https://<project>.supabase.co",
  });
  const key = h("input", {
    id: "login-key",
    type: "password",
    required: true,
    autocomplete: "off",
    placeholder: "sb_secret_… or the service role key",
  });
  const submit = h("button", { type: "submit", id: "login-submit" }, "Open dashboard");
  const form = h(
    "form",
    {},
    h("label", {}, "Project URL (SUPABASE_URL)", url),
    h("label", {}, "Secret key", key),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(null);
    try {
      saveConnection(url.value.trim(), key.value.trim());
      await call("GET", "/stripe/status");
      start();
    } catch (error) {
      forgetConnection();
      showError(error);
    }
  });
  $("nav").hidden = true;
  $("session").hidden = true;
  $("page").replaceChildren(
    h(
      "section",
      { class: "panel login" },
      h("h1", {}, "Payments dashboard"),
      h(
        "p",
        { class: "muted" },
        "The key stays in this browser tab (sessionStorage) and is sent only to the deployment.",
      ),
      form,
    ),
  );
}

let rendering = 0;
async function show() {
  const name = (location.hash.match(/^#\/([a-z]+)/)?.[1]) ?? "overview";
  const page = PAGES[name] ?? overview;
  for (const link of document.querySelectorAll("#nav a")) {
    link.toggleAttribute("aria-current", link.dataset.page === name);
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
  }
  const root = $("page");
  const ticket = ++rendering;
  showError(null);
  root.setAttribute("aria-busy", "true");
  const target = h("div", { dataset: { page: name } });
  try {
    await page(target);
    // A later navigation wins over a slow earlier page.
    if (ticket === rendering) root.replaceChildren(target);
  } catch (error) {
    if (ticket === rendering) {
      showError(error);
      if (error.status === 401 || error.status === 403) {
        root.replaceChildren(h("p", {}, "The key was refused: use Forget key and connect again."));
      }
    }
  } finally {
    if (ticket === rendering) root.removeAttribute("aria-busy");
  }
}

function start() {
  const current = connection();
  $("nav").hidden = false;
  $("session").hidden = false;
  $("deployment").textContent = new URL(current.apiUrl).host;
  $("environment").value = environment();
  show();
}

$("environment").addEventListener("change", (event) => {
  setEnvironment(event.target.value);
  show();
});
$("sign-out").addEventListener("click", async () => {
  forgetConnection();
  login(await serverConfig());
});
addEventListener("hashchange", () => {
  if (connection()) show();
});

const config = await serverConfig();
if (config.apiUrl && config.secretKey) saveConnection(config.apiUrl, config.secretKey);
if (connection()) start();
else login(config);
