// The console (docs/design.md §10): sign-in with authorization code + PKCE, the campaign list, the
// TikTok settings form, the test event, the health picture and the funnel snippet.
//
// Safety: tokens live in sessionStorage (this tab only) and never in a URL after sign-in; PKCE and
// `state` are checked; every piece of campaign data is rendered as text (textContent), never as HTML;
// the access token field is never filled from the server.

const SESSION_KEY = "zt.console.session";
const PENDING_KEY = "zt.console.signin";
const CAMPAIGN_ID = /^[A-Za-z0-9_-]{1,128}$/;
const FIELDS = ["campaign_id", "pixel_id", "access_token", "test_event_code", "enabled", "allowed_origins",
  "event_names", "limited_data_use", "require_consent", "report_renewals", "stripe_account"];
const CHECKBOXES = ["enabled", "limited_data_use", "require_consent", "report_renewals"];
const MATCH_KEYS = ["external_id", "email", "phone", "ttp", "ttclid", "ip", "user_agent"];

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const form = document.getElementById("settings-form");
let config = null;
let current = null; // the open campaign's settings view, or {isNew: true}
let countdown = null;

// Small DOM helpers: children that are strings become text nodes, never markup.
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function show(section, visible) {
  document.getElementById(section).hidden = !visible;
}

function say(text, kind = "info") {
  const message = $("message");
  message.textContent = text || "";
  message.dataset.kind = kind;
  message.hidden = !text;
}

// Sign-in

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

function redirectUri() {
  return `${location.origin}/console/`;
}

function claimsOf(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

function session() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (saved && saved.access_token && saved.expires_at > Date.now() + 10_000) return saved;
  } catch {
    // an unreadable session is no session
  }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

async function signIn() {
  const pending = { state: randomString(), verifier: randomString(), nonce: randomString() };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pending.verifier)));
  const query = new URLSearchParams({
    response_type: "code", client_id: config.client_id, redirect_uri: redirectUri(), scope: config.scopes,
    state: pending.state, nonce: pending.nonce, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(`${config.authorization_endpoint}?${query}`);
}

function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
  if (config.logout_endpoint) {
    const query = new URLSearchParams({ client_id: config.client_id, logout_uri: redirectUri() });
    location.assign(`${config.logout_endpoint}?${query}`);
  } else {
    start();
  }
}

// The identity provider's answer: ?code=…&state=… (or ?error=…). Taken out of the URL at once.
async function completeSignIn(params) {
  history.replaceState(null, "", location.pathname);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  if (params.get("error")) {
    throw new Error(`sign-in failed: ${params.get("error_description") || params.get("error")}`);
  }
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("sign-in refused: the answer does not belong to a sign-in started here (state)");
  }
  const answer = await fetch(config.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: config.client_id, code: params.get("code"),
      redirect_uri: redirectUri(), code_verifier: pending.verifier,
    }),
  });
  const tokens = await answer.json().catch(() => ({}));
  if (!answer.ok || !tokens.access_token) {
    throw new Error(`sign-in failed: ${tokens.error_description || tokens.error || answer.status}`);
  }
  const identity = tokens.id_token ? claimsOf(tokens.id_token) : {};
  if (tokens.id_token && identity.nonce !== pending.nonce) {
    throw new Error("sign-in refused: the ID token was not issued for this sign-in (nonce)");
  }
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({
    access_token: tokens.access_token,
    expires_at: Date.now() + (Number(tokens.expires_in) || 3600) * 1000,
    email: identity.email || claimsOf(tokens.access_token).username || "",
  }));
}

// The operator API

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || (body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

async function api(method, path, body) {
  const signedIn = session();
  if (!signedIn) {
    sessionEnded();
    throw new ApiError(401, { message: "Unauthorized" });
  }
  let answer;
  try {
    answer = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${signedIn.access_token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (error) {
    throw new ApiError(0, { message: `the API did not answer (${error.message})` });
  }
  const text = await answer.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { message: text.slice(0, 200) };
  }
  if (answer.status === 401) sessionEnded();
  if (!answer.ok) throw new ApiError(answer.status, parsed);
  return parsed;
}

// The token expired or was refused: offer a new sign-in, leaving the page (and the form) as it is.
function sessionEnded() {
  sessionStorage.removeItem(SESSION_KEY);
  $("sign-out").hidden = true;
  $("signed-in-as").textContent = "";
  show("signed-out", true);
}

function explain(error) {
  if (error.status === 0) return `${error.message}.`;
  if (error.status === 401) return "Your session has ended: sign in again (what you typed is still here).";
  if (error.status >= 500) return `The API failed (${error.status}): ${error.message}. Try again.`;
  return error.message;
}

// The campaign list

function timeLeft(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  if (!(ms > 0)) return null;
  const minutes = Math.floor(ms / 60000);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}

function deliveryText(delivery) {
  if (!delivery) return "no delivery yet";
  const when = delivery.at ? new Date(delivery.at).toLocaleString() : "";
  const code = delivery.code !== undefined && delivery.code !== null ? `code ${delivery.code}` : delivery.outcome || "";
  return `last delivery: ${[code, delivery.message, when].filter(Boolean).join(" · ")}`;
}

async function loadCampaigns() {
  const list = $("campaign-list");
  let answer;
  try {
    answer = await api("GET", "/v1/campaigns");
  } catch (error) {
    say(`Could not load the campaigns: ${explain(error)}`, "error");
    return;
  }
  list.replaceChildren(...answer.campaigns.map(campaignRow));
  document.getElementById("no-campaigns").hidden = answer.campaigns.length > 0;
}

function campaignRow(view) {
  const testLeft = view.test_event_code && view.test_event_code_expires_at ? timeLeft(view.test_event_code_expires_at) : null;
  const badges = el("p", { class: "badges" },
    el("span", { class: view.server_side ? "badge on" : "badge" }, view.server_side ? "server-side on" : "server-side off"),
    view.enabled ? null : el("span", { class: "badge warn" }, "disabled"),
    testLeft ? el("span", { class: "badge warn" }, `test code active · ${testLeft}`) : null);
  const warnings = (view.warnings || []).length
    ? el("ul", { class: "warnings" }, ...view.warnings.map((warning) => el("li", {}, warning)))
    : null;
  const open = el("button", { type: "button", class: "row-open", "aria-label": `Open ${view.campaign_id}` },
    el("strong", {}, view.campaign_id), el("span", { class: "muted" }, ` · pixel ${view.pixel_id}`));
  open.addEventListener("click", () => openCampaign(view.campaign_id));
  return el("li", { class: "campaign-row", "data-testid": `campaign-row-${view.campaign_id}` },
    open, badges, el("p", { class: "muted" }, deliveryText(view.last_delivery)), warnings);
}

// The settings form

function field(name) {
  return form.elements.namedItem(name);
}

function clearErrors() {
  for (const name of [...FIELDS, "form"]) $(`error-${name}`).textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

function fieldError(name, message) {
  const target = $(`error-${name}`) ? name : "form";
  const node = $(`error-${target}`);
  node.textContent = node.textContent ? `${node.textContent} ${message}` : message;
  if (target !== "form") field(name)?.setAttribute("aria-invalid", "true");
}

function fillForm(view) {
  clearErrors();
  form.reset();
  field("campaign_id").value = view.campaign_id || "";
  field("pixel_id").value = view.pixel_id || "";
  // Write-only: the stored token is never put back in the field, only named by its last four.
  field("access_token").value = "";
  field("access_token").placeholder = view.access_token_last4 ? `…${view.access_token_last4} (stored; empty keeps it)` : "";
  document.getElementById("remove-token-field").hidden = !view.access_token_last4;
  field("test_event_code").value = view.test_event_code || "";
  field("enabled").checked = view.enabled !== false;
  field("allowed_origins").value = (view.allowed_origins || []).join("\n");
  field("event_names").value = Object.entries(view.event_names || {}).map(([k, v]) => `${k} = ${v}`).join("\n");
  for (const name of ["limited_data_use", "require_consent", "report_renewals"]) field(name).checked = Boolean(view[name]);
  field("stripe_account").value = view.stripe_account || "";
  showTestCodeStatus();
}

function showTestCodeStatus() {
  const status = $("test-code-status");
  const code = field("test_event_code").value.trim();
  if (!code) {
    status.textContent = "Events Manager → Test Events. While it is set, server events go to Test Events only.";
  } else if (current && !current.isNew && code === current.test_event_code && current.test_event_code_expires_at) {
    const left = timeLeft(current.test_event_code_expires_at);
    status.textContent = left ? `Active: ${left} (then it is no longer sent).`
      : "Expired: no longer sent. Enter a new code to test again.";
  } else {
    status.textContent = "Active for 24 hours from saving.";
  }
}

// The form as a PUT body, or null when a field is refused here (shown at the field).
function settingsBody() {
  const body = {
    pixel_id: field("pixel_id").value.trim(),
    test_event_code: field("test_event_code").value.trim() || null,
    stripe_account: field("stripe_account").value.trim() || null,
  };
  for (const name of CHECKBOXES) body[name] = field(name).checked;
  const origins = field("allowed_origins").value.split(/\s+/).filter(Boolean);
  body.allowed_origins = origins.length ? origins : null;
  body.event_names = {};
  for (const line of field("event_names").value.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const match = line.match(/^([a-z_]+)\s*[=:]\s*(\S+)$/);
    if (!match) {
      fieldError("event_names", `"${line}" is not funnel_event = TikTokName.`);
      return null;
    }
    body.event_names[match[1]] = match[2];
  }
  const token = field("access_token").value;
  if (token) body.access_token = token;
  else if (field("remove_access_token").checked) body.access_token = null;
  return body;
}

async function save(event) {
  event.preventDefault();
  clearErrors();
  say("");
  const campaignId = current.isNew ? field("campaign_id").value.trim() : current.campaign_id;
  if (!CAMPAIGN_ID.test(campaignId)) {
    fieldError("campaign_id", "1–128 characters: letters, digits, _ or -.");
    field("campaign_id").focus();
    return;
  }
  const body = settingsBody();
  if (!body) return;
  const button = $("save");
  button.disabled = true;
  try {
    const view = await api("PUT", `/v1/campaigns/${encodeURIComponent(campaignId)}/tiktok`, body);
    current = view;
    fillForm(view);
    showEditorFor(view);
    say(`Saved ${view.campaign_id}.`, "ok");
    loadCampaigns();
    if (view.server_side && view.test_event_code && timeLeft(view.test_event_code_expires_at)) {
      await sendTestEvent(view);
    }
    loadHealth(view.campaign_id);
  } catch (error) {
    if (error.status === 422 && error.details.length) {
      for (const detail of error.details) {
        fieldError(String(detail.field || "form").split(".")[0], detail.message || "invalid");
      }
      $("error-form").textContent ||= "Fix the marked fields: nothing was saved.";
    } else {
      // Nothing is cleared: what the operator typed stays in the form for another try.
      fieldError("form", `Not saved: ${explain(error)}`);
    }
  } finally {
    button.disabled = false;
  }
}

async function sendTestEvent(view) {
  const panel = $("test-event-answer");
  panel.hidden = false;
  panel.replaceChildren(el("p", {}, "Sending a test event to TikTok…"));
  try {
    const answer = await api("POST", `/v1/campaigns/${encodeURIComponent(view.campaign_id)}/tiktok/test-event`,
      { test_event_code: view.test_event_code });
    const ok = answer.code === 0;
    panel.dataset.kind = ok ? "ok" : "error";
    panel.replaceChildren(
      el("h3", {}, ok ? "TikTok received the test event" : "TikTok refused the test event"),
      el("p", {}, `TikTok answered code ${answer.code}: ${answer.message || ""}`),
      el("p", { class: "muted" }, `event_id ${answer.event_id || "?"} · request_id ${answer.request_id || "?"}`),
      el("p", { class: "hint" }, ok ? "Look for a PageView in Events Manager → Test Events." : "Check the pixel ID and the token."));
  } catch (error) {
    panel.dataset.kind = "error";
    panel.replaceChildren(el("h3", {}, "No test event sent"), el("p", {}, explain(error)));
  }
}

async function removeCampaign() {
  const campaignId = current.campaign_id;
  try {
    await api("DELETE", `/v1/campaigns/${encodeURIComponent(campaignId)}/tiktok`);
  } catch (error) {
    fieldError("form", `Not deleted: ${explain(error)}`);
    return;
  }
  say(`Deleted ${campaignId}.`, "ok");
  closeEditor();
}

// The health picture (docs/design.md §9)

async function loadHealth(campaignId) {
  const target = $("health");
  target.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  let health;
  try {
    health = await api("GET", `/v1/campaigns/${encodeURIComponent(campaignId)}/tiktok/health?hours=24`);
  } catch (error) {
    target.replaceChildren(el("p", { class: "muted", "data-testid": "health-message" }, `No health figures: ${explain(error)}`));
    return;
  }
  if (!current || current.campaign_id !== campaignId) return;
  target.replaceChildren(...drawHealth(health));
}

function bar(value, max, label) {
  return el("meter", { min: 0, max: max || 1, value: value || 0, "aria-label": label }, String(value));
}

function drawHealth(health) {
  const events = health.events || [];
  const most = Math.max(1, ...events.map((e) => e.sent || 0));
  const eventRows = events.length
    ? events.map((e) => el("li", { "data-testid": `health-event-${e.event}` },
      el("span", { class: "label" }, e.event), bar(e.sent, most, `${e.event} sent`),
      el("span", { class: "figure" }, `${e.sent} sent · ${e.duplicates} repeat${e.duplicates === 1 ? "" : "s"} · ${e.queued} queued · ${e.dead_lettered} dead-lettered`)))
    : [el("li", { class: "muted" }, "No server event in this window.")];
  const matchKeys = health.match_keys || { events: 0, coverage: {} };
  const coverage = MATCH_KEYS.filter((key) => key in (matchKeys.coverage || {})).map((key) => {
    const share = Number(matchKeys.coverage[key]) || 0;
    return el("li", { "data-testid": `health-coverage-${key}` }, el("span", { class: "label" }, key),
      bar(share, 1, `${key} coverage`), el("span", { class: "figure" }, `${Math.round(share * 100)} %`));
  });
  const revenue = (health.revenue || []).map((r) => el("li", { "data-testid": `health-revenue-${r.currency}` },
    `${r.currency} ${r.value} from ${r.payments} payment${r.payments === 1 ? "" : "s"}`));
  return [
    el("h4", {}, "Events per name"), el("ul", { class: "bars" }, ...eventRows),
    el("h4", {}, `Match-key coverage (${matchKeys.events || 0} sent events)`), el("ul", { class: "bars" }, ...coverage),
    el("h4", {}, "Revenue"), el("ul", {}, ...(revenue.length ? revenue : [el("li", { class: "muted" }, "No payment in this window.")])),
    (health.warnings || []).length ? el("ul", { class: "warnings" }, ...health.warnings.map((w) => el("li", {}, w))) : "",
  ];
}

// The snippet

function snippetText(campaignId) {
  const base = (config.public_base_url || location.origin).replace(/\/+$/, "");
  return "<script>window.zt=window.zt||function(){(zt.q=zt.q||[]).push(arguments)};</script>\n"
    + `<script async src="${base}/v1/campaigns/${campaignId}/tracker.js"></script>`;
}

async function copySnippet() {
  const status = $("copy-status");
  try {
    await navigator.clipboard.writeText($("snippet").textContent);
    status.textContent = "Copied.";
  } catch {
    getSelection().selectAllChildren($("snippet"));
    status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
  }
}

// Payment webhooks (docs/paddle.md, docs/solidgate.md, docs/stripe.md): the URLs to paste in each
// provider's dashboard, with the metadata a checkout must carry. One per provider, whatever the campaign.

const PAYMENT_PROVIDERS = [
  ["Stripe", "stripe", "Developers → Webhooks → Add endpoint"],
  ["Paddle", "paddle", "Developer tools → Notifications → New destination"],
  ["Solidgate", "solidgate", "Hub: Developers → Webhooks"],
];

function showWebhookUrls(view) {
  const base = (config.public_base_url || location.origin).replace(/\/+$/, "");
  $("webhook-urls").replaceChildren(...PAYMENT_PROVIDERS.map(([name, path, where]) => el("li", {},
    el("strong", {}, name), " ", el("code", { "data-testid": `webhook-url-${path}` }, `${base}/v1/webhooks/${path}`),
    el("span", { class: "muted" }, ` (${where})`))));
  $("webhook-metadata").textContent = view.isNew ? "zellify_campaign_id: (the new campaign's id)"
    : `zellify_campaign_id: ${view.campaign_id} · zellify_session_id: the funnel's session id`;
}

// Screens

function showEditorFor(view) {
  document.getElementById("editor-title").textContent = view.isNew ? "New campaign" : view.campaign_id;
  document.getElementById("campaign-id-field").hidden = !view.isNew;
  $("delete-campaign").hidden = Boolean(view.isNew);
  $("delete-confirmation").hidden = true;
  $("snippet").textContent = view.isNew ? "Save the campaign first." : snippetText(view.campaign_id);
  $("copy-snippet").disabled = Boolean(view.isNew);
  $("copy-status").textContent = "";
  showWebhookUrls(view);
}

async function openCampaign(campaignId) {
  say("");
  let view;
  try {
    view = await api("GET", `/v1/campaigns/${encodeURIComponent(campaignId)}/tiktok`);
  } catch (error) {
    say(`Could not open ${campaignId}: ${explain(error)}`, "error");
    return;
  }
  current = view;
  fillForm(view);
  showEditorFor(view);
  $("test-event-answer").hidden = true;
  show("campaigns", false);
  show("editor", true);
  loadHealth(campaignId);
}

function newCampaign() {
  say("");
  current = { isNew: true };
  fillForm({ enabled: true });
  showEditorFor(current);
  $("test-event-answer").hidden = true;
  $("health").replaceChildren(el("p", { class: "muted" }, "Health shows once the campaign is saved."));
  show("campaigns", false);
  show("editor", true);
  field("campaign_id").focus();
}

function closeEditor() {
  current = null;
  show("editor", false);
  show("campaigns", true);
  loadCampaigns();
}

function signedOut(text) {
  $("sign-out").hidden = true;
  $("signed-in-as").textContent = "";
  show("campaigns", false);
  show("editor", false);
  show("signed-out", true);
  if (text) say(text, "error");
}

async function start() {
  const signedIn = session();
  if (!signedIn) {
    signedOut();
    return;
  }
  show("signed-out", false);
  $("signed-in-as").textContent = signedIn.email;
  $("sign-out").hidden = false;
  show("editor", false);
  show("campaigns", true);
  await loadCampaigns();
}

async function main() {
  $("sign-in").addEventListener("click", () => signIn().catch((error) => say(error.message, "error")));
  $("sign-out").addEventListener("click", signOut);
  $("new-campaign").addEventListener("click", newCampaign);
  $("close-editor").addEventListener("click", closeEditor);
  $("delete-campaign").addEventListener("click", () => { $("delete-confirmation").hidden = false; });
  $("cancel-delete").addEventListener("click", () => { $("delete-confirmation").hidden = true; });
  $("confirm-delete").addEventListener("click", removeCampaign);
  $("copy-snippet").addEventListener("click", copySnippet);
  $("refresh-health").addEventListener("click", () => current && !current.isNew && loadHealth(current.campaign_id));
  field("test_event_code").addEventListener("input", showTestCodeStatus);
  form.addEventListener("submit", save);
  countdown = setInterval(() => { if (current) showTestCodeStatus(); }, 30_000);

  try {
    const answer = await fetch("config.json", { cache: "no-store" });
    config = await answer.json();
    if (!answer.ok) throw new Error(config?.error?.message || `HTTP ${answer.status}`);
  } catch (error) {
    say(`The console cannot start: ${error.message}`, "error");
    clearInterval(countdown);
    return;
  }
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) {
    try {
      await completeSignIn(params);
    } catch (error) {
      signedOut(error.message);
      return;
    }
  }
  await start();
}

main();
