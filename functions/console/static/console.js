// The console (docs/design.md §10): sign-in with authorization code + PKCE, the campaign list, the
// TikTok settings form, the test event, the health picture and the funnel snippet.
//
// Safety: tokens live in sessionStorage (this tab only) and never in a URL after sign-in; PKCE and
// `state` are checked; every piece of campaign data is rendered as text (textContent), never as HTML;
// the access token field is never filled from the server.

const SESSION_KEY = "zt.console.session";
const PENDING_KEY = "zt.console.signin";
const FIELDS = ["campaign_id", "pixel_id", "access_token", "test_event_code", "enabled", "allowed_origins",
  "event_names", "limited_data_use", "require_consent", "report_renewals", "stripe_account", "access"];
const ADMIN_GROUP = "zellify-admins";
// The funnel events (docs/design.md §3) and TikTok's current names for them (2025: Purchase, Lead, Pageview).
const FUNNEL_EVENTS = ["page_view", "lead", "page_completed", "email_captured", "checkout_presented",
  "payment_method_added", "payment_succeeded", "payment_failed", "trial_started", "subscription_started"];
const TIKTOK_NAMES_PRESET = { payment_succeeded: "Purchase", lead: "Lead", page_view: "Pageview" };
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

// Words for people: counts that agree, times as people read them (never ISO strings).

function plural(count, word, many = `${word}s`) {
  return `${count} ${count === 1 ? word : many}`;
}

function dayTime(moment) {
  const date = new Date(moment);
  if (Number.isNaN(date.getTime())) return "an unknown time";
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(date).map((part) => [part.type, part.value]));
  const year = date.getFullYear() === new Date().getFullYear() ? "" : ` ${parts.year}`;
  return `${parts.day} ${parts.month}${year}, ${parts.hour}:${parts.minute}`;
}

function span(ms) {
  const minutes = Math.floor(Math.abs(ms) / 60000);
  if (minutes < 1) return "less than a minute";
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 48 * 60) {
    const hours = Math.floor(minutes / 60);
    return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  }
  return plural(Math.round(minutes / 1440), "day");
}

// "in 23 h (7 Dec, 18:35)" or "5 min ago (6 Dec, 19:55)".
function when(moment) {
  const ms = new Date(moment).getTime() - Date.now();
  if (Number.isNaN(ms)) return "at an unknown time";
  return `${ms >= 0 ? `in ${span(ms)}` : `${span(ms)} ago`} (${dayTime(moment)})`;
}

// Text from the API may name a time in ISO 8601 (older servers' warnings): shown as people read it.
function readable(text) {
  return String(text).replace(/\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?/g, dayTime);
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
  const access = claimsOf(tokens.access_token);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({
    access_token: tokens.access_token,
    expires_at: Date.now() + (Number(tokens.expires_in) || 3600) * 1000,
    email: identity.email || access.username || "",
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

// Whether the signed-in operator is an admin: the token's groups (Cognito's claim) name the admins' group.
function isAdmin() {
  const signedIn = session();
  const groups = signedIn ? claimsOf(signedIn.access_token)["cognito:groups"] : null;
  return Array.isArray(groups) && groups.includes(ADMIN_GROUP);
}

// The campaign list

function active(moment) {
  return Boolean(moment) && new Date(moment).getTime() > Date.now();
}

function deliveryText(delivery) {
  if (!delivery) return "No delivery yet.";
  const code = delivery.code !== undefined && delivery.code !== null ? `code ${delivery.code}` : delivery.outcome || "";
  const at = delivery.at ? when(delivery.at) : "";
  return `Last delivery ${at}: ${[code, delivery.message].filter(Boolean).join(" ")}`;
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
  const testLeft = view.test_event_code && active(view.test_event_code_expires_at)
    ? `ends ${when(view.test_event_code_expires_at)}` : null;
  const badges = el("p", { class: "badges" },
    el("span", { class: view.server_side ? "badge on" : "badge" }, view.server_side ? "server-side on" : "server-side off"),
    view.enabled ? null : el("span", { class: "badge warn" }, "disabled"),
    testLeft ? el("span", { class: "badge warn" }, `test code active · ${testLeft}`) : null);
  const warnings = (view.warnings || []).length
    ? el("ul", { class: "warnings" }, ...view.warnings.map((warning) => el("li", {}, readable(warning))))
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
  // A field this page does not show (or does not have) reports at the form.
  const target = $(`error-${name}`) && !$(`error-${name}`).closest("[hidden]") ? name : "form";
  const node = $(`error-${target}`);
  node.textContent = node.textContent ? `${node.textContent} ${message}` : message;
  if (target === "form") return;
  field(name)?.setAttribute("aria-invalid", "true");
  // An invalid setting under "More settings" must not stay folded away.
  const fold = field(name)?.closest("details");
  if (fold) fold.open = true;
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
  // Who may see the campaign: shown when the API names it or to an admin; only an admin changes it (the
  // API refuses anyone else with 403 access_admin_only), so for others it is read-only and never sent.
  const admin = isAdmin();
  document.getElementById("access-field").hidden = !(Array.isArray(view.access) || admin);
  field("access").value = (view.access || []).join(", ");
  field("access").readOnly = !admin;
  document.getElementById("h-access").textContent = admin
    ? "Operators in these groups see and edit the campaign (admins see every campaign)."
    : "Operators in these groups see and edit the campaign. Only an admin changes this.";
  showTestCodeStatus();
}

function showTestCodeStatus() {
  const status = $("test-code-status");
  const code = withoutSpaces(field("test_event_code").value);
  if (!code) {
    status.textContent = "Events Manager → Test Events. While it is set, server events go to Test Events only.";
  } else if (current && !current.isNew && code === current.test_event_code && current.test_event_code_expires_at) {
    const ends = current.test_event_code_expires_at;
    status.textContent = active(ends) ? `Active: it ends ${when(ends)}, then it is no longer sent.`
      : `Expired ${when(ends)}: no longer sent. Enter a new code to test again.`;
  } else {
    status.textContent = "Active for 24 hours from saving.";
  }
}

// What a right value looks like, in the words of the API's refusals (settings_input.RULES).
const RULES = {
  campaign_id: "A campaign ID is 1 to 128 letters, digits, _ or -, and cannot change later (e.g. spring-sale).",
  pixel_id: "A Pixel ID is 8 to 64 letters and digits, as shown in TikTok Events Manager (e.g. C4ABCDEF0123456789AB).",
  access_token: "An access token is 8 to 1024 letters, digits and symbols, without spaces: generate it in TikTok "
    + "Events Manager → your pixel → Settings → Events API and paste it whole.",
  test_event_code: "A test event code is 3 to 64 letters, digits, _ or -, as shown in TikTok Events Manager → "
    + "Test Events (e.g. TEST12345).",
  allowed_origins: "Allowed origins are up to 50 addresses of your funnel's sites, each http:// or https:// and a "
    + "host name, with a port if any and nothing after it (e.g. https://funnel.example.com); leave them out to "
    + "allow any site.",
  event_names: "TikTok event names pair a funnel event with the name TikTok shows for it "
    + `(e.g. payment_succeeded = Purchase); the funnel events are: ${FUNNEL_EVENTS.join(", ")}.`,
  stripe_account: "A Stripe account ID is acct_ followed by letters and digits, as shown in the Stripe Dashboard "
    + "(e.g. acct_1A2b3C4d5E6f7G8h); leave it out when there is one Stripe account.",
};
const LABELS = { campaign_id: "campaign ID", pixel_id: "Pixel ID", access_token: "access token",
  test_event_code: "test event code", stripe_account: "Stripe account ID" };
const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;
const TIKTOK_EVENT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,49}$/;

function withoutSpaces(value) {
  return value.replace(/\s+/g, "");
}

function quoted(values) {
  return values.slice(0, 5).map((v) => `"${v.slice(0, 80)}"`).join(", ");
}

function characters(count) {
  return plural(count, "character");
}

// null when value is right; else what is wrong with it and what a right one looks like.
function textProblem(name, value, low, high, allowed, { show = true } = {}) {
  const right = name === "stripe_account" ? /^acct_[A-Za-z0-9]{1,64}$/ : new RegExp(`^${allowed}{${low},${high}}$`);
  if (right.test(value)) return null;
  const label = LABELS[name];
  let problem;
  if (value.length < low) problem = `This ${label} is too short (${characters(value.length)}; at least ${low}).`;
  else if (value.length > high) problem = `This ${label} is too long (${characters(value.length)}; at most ${high}).`;
  else if (name === "stripe_account" && !value.startsWith("acct_")) problem = "This Stripe account ID does not start with acct_.";
  else {
    const odd = [...new Set([...value].filter((c) => !new RegExp(`^${allowed}$`).test(c)))].sort();
    problem = show && odd.length ? `This ${label} holds characters it cannot have (${quoted(odd)}).`
      : `This ${label} holds characters it cannot have.`;
  }
  return `${problem} ${RULES[name]}`;
}

// The form as a PUT body and every problem found in it, field by field (all of them, not the first).
function readForm() {
  const problems = [];
  const refuse = (name, message) => { if (message) problems.push([name, message]); };
  // Spaces pasted around or inside an ID, a token or a code are removed, in the field too.
  for (const name of ["pixel_id", "access_token", "test_event_code"]) {
    const cleaned = withoutSpaces(field(name).value);
    if (cleaned !== field(name).value) field(name).value = cleaned;
  }
  const campaignId = current.isNew ? field("campaign_id").value.trim() : current.campaign_id;
  if (current.isNew) {
    refuse("campaign_id", campaignId ? textProblem("campaign_id", campaignId, 1, 128, "[A-Za-z0-9_-]")
      : `The campaign ID is missing. ${RULES.campaign_id}`);
  }
  const body = {
    pixel_id: field("pixel_id").value,
    test_event_code: field("test_event_code").value || null,
    stripe_account: field("stripe_account").value.trim() || null,
  };
  refuse("pixel_id", body.pixel_id ? textProblem("pixel_id", body.pixel_id, 8, 64, "[A-Za-z0-9]")
    : `The Pixel ID is missing. ${RULES.pixel_id}`);
  if (body.test_event_code) refuse("test_event_code", textProblem("test_event_code", body.test_event_code, 3, 64, "[A-Za-z0-9_-]"));
  if (body.stripe_account) refuse("stripe_account", textProblem("stripe_account", body.stripe_account, 6, 69, "[A-Za-z0-9_]"));
  for (const name of CHECKBOXES) body[name] = field(name).checked;

  const origins = field("allowed_origins").value.split(/[\s,]+/).filter(Boolean);
  body.allowed_origins = origins.length ? origins : null;
  const notOrigins = origins.filter((o) => !ORIGIN.test(o));
  if (notOrigins.length) refuse("allowed_origins", `These are not site addresses: ${quoted(notOrigins)}. ${RULES.allowed_origins}`);
  else if (origins.length > 50) refuse("allowed_origins", `There are too many allowed origins (${origins.length}; at most 50). ${RULES.allowed_origins}`);

  body.event_names = {};
  const notPairs = [], notFunnel = [], notTikTok = [];
  for (const line of field("event_names").value.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const match = line.match(/^([^=:\s]+)\s*[=:]\s*(.+)$/);
    if (!match) { notPairs.push(line); continue; }
    const [, funnel, name] = match;
    if (!FUNNEL_EVENTS.includes(funnel)) notFunnel.push(funnel);
    if (!TIKTOK_EVENT_NAME.test(name.trim())) notTikTok.push(name.trim());
    body.event_names[funnel] = name.trim();
  }
  if (notPairs.length) refuse("event_names", `Write one pair a line, funnel event = TikTok name; these lines are not: ${quoted(notPairs)}. ${RULES.event_names}`);
  if (notFunnel.length) refuse("event_names", `These are not funnel events: ${quoted(notFunnel)}. ${RULES.event_names}`);
  if (notTikTok.length) {
    refuse("event_names", `These are not TikTok event names: ${quoted(notTikTok)}. A TikTok event name is up to 50 `
      + "letters, digits, _ or -, starting with a letter (e.g. Purchase).");
  }

  const token = field("access_token").value;
  if (token) {
    body.access_token = token;
    refuse("access_token", textProblem("access_token", token, 8, 1024, "[\\x21-\\x7e]", { show: false }));
  } else if (field("remove_access_token").checked) {
    body.access_token = null;
  }
  if (!document.getElementById("access-field").hidden && !field("access").readOnly) {
    body.access = field("access").value.split(/[\s,]+/).filter(Boolean);
  }
  return { campaignId, body, problems };
}

function tiktokNamesPreset() {
  const lines = field("event_names").value.split("\n").map((l) => l.trim()).filter(Boolean);
  const kept = lines.filter((line) => !(line.split(/\s*[=:]\s*/)[0] in TIKTOK_NAMES_PRESET));
  field("event_names").value = [...kept, ...Object.entries(TIKTOK_NAMES_PRESET).map(([k, v]) => `${k} = ${v}`)].join("\n");
  $("error-event_names").textContent = "";
  field("event_names").removeAttribute("aria-invalid");
}

async function save(event) {
  event.preventDefault();
  clearErrors();
  say("");
  const { campaignId, body, problems } = readForm();
  if (problems.length) {
    for (const [name, message] of problems) fieldError(name, message);
    $("error-form").textContent = `Fix the ${plural(new Set(problems.map(([name]) => name)).size, "marked field")}: nothing was saved.`;
    form.querySelector("[aria-invalid='true']")?.focus();
    return;
  }
  const button = $("save");
  button.disabled = true;
  try {
    const view = await api("PUT", `/v1/campaigns/${encodeURIComponent(campaignId)}/tiktok`, body);
    current = view;
    fillForm(view);
    showEditorFor(view);
    loadCampaigns();
    if (view.server_side && view.test_event_code && active(view.test_event_code_expires_at)) {
      say(`Saved ${view.campaign_id}. Sending a test event to TikTok…`, "ok");
      const outcome = await sendTestEvent(view);
      if (outcome) say(outcome, "ok");
    } else {
      say(`Saved ${view.campaign_id}.`, "ok");
    }
    loadHealth(view.campaign_id);
    loadAudit(view.campaign_id);
  } catch (error) {
    if (error.status === 422 && error.details.length) {
      for (const detail of error.details) {
        fieldError(String(detail.field || "form").split(".")[0], detail.message || "This value is not valid.");
      }
      fieldError("form", "Fix the marked fields: nothing was saved.");
      form.querySelector("[aria-invalid='true']")?.focus();
    } else if (error.code === "access_admin_only") {
      fieldError("access", `Only admins may change who sees a campaign: nothing was saved. ${error.message}`);
    } else {
      // Nothing is cleared: what the operator typed stays in the form for another try.
      fieldError("form", `Not saved: ${explain(error)}`);
    }
  } finally {
    button.disabled = false;
  }
}

// Sends the test event, shows TikTok's answer in its panel, and says in one line what happened (for the top).
async function sendTestEvent(view) {
  const panel = $("test-event-answer");
  panel.hidden = false;
  panel.dataset.kind = "";
  panel.replaceChildren(el("p", {}, "Sending a test event to TikTok…"));
  let answer;
  try {
    answer = await api("POST", `/v1/campaigns/${encodeURIComponent(view.campaign_id)}/tiktok/test-event`,
      { test_event_code: view.test_event_code });
  } catch (error) {
    panel.dataset.kind = "error";
    panel.replaceChildren(el("h3", {}, "No test event sent"), el("p", {}, explain(error)));
    say(`Saved, but the test event could not be sent: ${explain(error)}`, "warn");
    return null;
  }
  const ok = answer.code === 0;
  panel.dataset.kind = ok ? "ok" : "error";
  panel.replaceChildren(
    el("h3", {}, ok ? "TikTok received the test event" : "TikTok refused the test event"),
    el("p", {}, `TikTok answered code ${answer.code}: ${answer.message || ""}`),
    el("p", { class: "muted" }, `event_id ${answer.event_id || "?"} · request_id ${answer.request_id || "?"}`),
    el("p", { class: "hint" }, ok ? "Look for a PageView in Events Manager → Test Events." : "Check the pixel ID and the token."));
  if (ok) return `Saved ${view.campaign_id}. TikTok received the test event.`;
  say(`Saved, but TikTok refused the test event: ${answer.code} ${answer.message || ""}`.trim(), "warn");
  return null;
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

// A panel of the open campaign filled from one GET: "Loading…", then what `draw` makes of the answer, or
// what `failed` says of the error. An answer that comes after another campaign was opened is dropped.
async function loadPanel(targetId, campaignId, path, draw, failed) {
  const target = $(targetId);
  target.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  let answer;
  try {
    answer = await api("GET", `/v1/campaigns/${encodeURIComponent(campaignId)}/tiktok/${path}`);
  } catch (error) {
    target.replaceChildren(failed(error));
    return;
  }
  if (!current || current.campaign_id !== campaignId) return;
  target.replaceChildren(...draw(answer));
}

function loadHealth(campaignId) {
  return loadPanel("health", campaignId, "health?hours=24", drawHealth,
    (error) => el("p", { class: "muted", "data-testid": "health-message" }, `No health figures: ${explain(error)}`));
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
      el("span", { class: "figure" }, `${e.sent} sent · ${plural(e.duplicates, "repeat")} · ${e.queued} queued · ${e.dead_lettered} dead-lettered`)))
    : [el("li", { class: "muted" }, "No server event in this window.")];
  const matchKeys = health.match_keys || { events: 0, coverage: {} };
  const coverage = MATCH_KEYS.filter((key) => key in (matchKeys.coverage || {})).map((key) => {
    const share = Number(matchKeys.coverage[key]) || 0;
    return el("li", { "data-testid": `health-coverage-${key}` }, el("span", { class: "label" }, key),
      bar(share, 1, `${key} coverage`), el("span", { class: "figure" }, `${Math.round(share * 100)} %`));
  });
  const revenue = (health.revenue || []).map((r) => el("li", { "data-testid": `health-revenue-${r.currency}` },
    `${r.currency} ${r.value} from ${plural(r.payments, "payment")}`));
  const period = health.from && health.to
    ? el("p", { class: "muted", "data-testid": "health-window" }, `From ${dayTime(health.from)} to ${dayTime(health.to)}`)
    : "";
  return [
    period,
    el("h4", {}, "Events per name"), el("ul", { class: "bars" }, ...eventRows),
    el("h4", {}, `Match-key coverage (${plural(matchKeys.events || 0, "sent event")})`), el("ul", { class: "bars" }, ...coverage),
    el("h4", {}, "Revenue"), el("ul", {}, ...(revenue.length ? revenue : [el("li", { class: "muted" }, "No payment in this window.")])),
    (health.warnings || []).length ? el("ul", { class: "warnings" }, ...health.warnings.map((w) => el("li", {}, readable(w)))) : "",
  ];
}

// The campaign's history (the audit route): who changed what, when, in plain words

const SETTING_WORDS = {
  pixel_id: "the Pixel ID", test_event_code: "the test event code", test_event_code_expires_at: "the test code's end",
  enabled: "on/off", allowed_origins: "allowed origins", event_names: "TikTok event names",
  limited_data_use: "limited data use", require_consent: "consent", report_renewals: "renewal reporting",
  stripe_account: "the Stripe account", access: "who may see the campaign",
};

function listed(phrases) {
  return phrases.length <= 1 ? phrases.join("") : `${phrases.slice(0, -1).join(", ")} and ${phrases.at(-1)}`;
}

function changeWords(change) {
  const { field: name, new: now } = change;
  if (name === "access_token") {
    // The audit never holds a token: "replaced" with its new last four, or "removed".
    if (now === "removed" || now === null) return "removed the access token";
    return `replaced the access token${change.new_last4 ? ` (…${change.new_last4})` : ""}`;
  }
  if (name === "enabled") return now ? "turned the campaign on" : "turned the campaign off";
  if (typeof now === "boolean") return `turned ${SETTING_WORDS[name] || name.replace(/_/g, " ")} ${now ? "on" : "off"}`;
  return `changed ${SETTING_WORDS[name] || name.replace(/_/g, " ")}`;
}

function auditWords(entry) {
  const actor = entry.actor || {};
  const who = actor.email || actor.client_id || actor.sub || "Someone";
  let what;
  if (entry.action === "created") what = "created the campaign";
  else if (entry.action === "deleted") what = "deleted the campaign";
  else if (entry.action === "test_event") {
    const answer = entry.test_event || {};
    what = answer.code === 0 ? "sent a test event (TikTok received it)"
      : `sent a test event (TikTok answered ${[answer.code, answer.message].filter((v) => v !== undefined && v !== null).join(" ")})`;
  } else {
    const changes = entry.changes || [];
    const named = new Set(changes.map((change) => change.field));
    // A new test code brings its own end: one change to a person.
    const shown = changes.filter((c) => !(c.field === "test_event_code_expires_at" && named.has("test_event_code")));
    const words = shown.map(changeWords);
    what = words.length ? listed(words) : "saved the settings unchanged";
  }
  return `${who} ${what}, ${dayTime(entry.at).replace(",", "")}`;
}

function loadAudit(campaignId) {
  return loadPanel("audit", campaignId, "audit?limit=50", drawAudit,
    // 404: no history kept for this campaign (or no history route on this server yet).
    (error) => el("p", { class: "muted" }, error.status === 404 ? "No history yet."
      : `The history could not be read: ${explain(error)}`));
}

function drawAudit(answer) {
  const entries = Array.isArray(answer && answer.entries) ? answer.entries : [];
  return [entries.length
    ? el("ol", { class: "history" }, ...entries.map((entry) => el("li", { "data-testid": "audit-entry" }, auditWords(entry))))
    : el("p", { class: "muted" }, "No history yet.")];
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
  loadAudit(campaignId);
}

function newCampaign() {
  say("");
  current = { isNew: true };
  fillForm({ enabled: true });
  showEditorFor(current);
  $("test-event-answer").hidden = true;
  $("health").replaceChildren(el("p", { class: "muted" }, "Health shows once the campaign is saved."));
  $("audit").replaceChildren(el("p", { class: "muted" }, "No history yet."));
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
  $("preset-tiktok-names").addEventListener("click", tiktokNamesPreset);
  // Pasted spaces leave an ID, a token or a code as soon as the field is left.
  for (const name of ["pixel_id", "access_token", "test_event_code"]) {
    field(name).addEventListener("change", () => { field(name).value = withoutSpaces(field(name).value); showTestCodeStatus(); });
  }
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
