/*
 * Zellify TikTok tracker (docs/design.md §3, §4, §5, §6.2).
 *
 * Sends every funnel event to TikTok twice with one event name and one event_id, so TikTok
 * counts it once: through the TikTok Pixel (`ttq.track`) and, for campaigns with an Events API
 * token, as a beacon to our `POST /v1/events`. The page talks to it only through the `zt`
 * command queue, which it may define before this script has loaded:
 *
 *   window.zt=window.zt||function(){(zt.q=zt.q||[]).push(arguments)};
 *   zt('init', {session_id: '…'}); zt('consent', true); zt('track', 'page_view', {…});
 *   zt('session', function (id) { … });
 *
 * Readable ES2017 on purpose: the source we edit; browsers get it minified (functions/collect/Makefile).
 * The only globals it sets are `zt` and what TikTok's Pixel needs (`ttq`, `TiktokAnalyticsObject`).
 * Nothing it does may throw into the host page: every entry point catches and reports with
 * console.warn('[zt] …').
 */
(function () {
'use strict';

// The collector replaces the commented {} with the campaign's configuration; the minifier keeps
// that spot (functions/collect/minify.mjs).
var CONFIG = /*__ZT_CONFIG__*/{};

const EVENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// A session id leaves room for the ":lead" suffix, so `{session_id}:lead` is a valid event_id.
const SESSION_ID = /^[A-Za-z0-9._:-]{1,123}$/;
// The same shape the server checks (layers/shared/zellify_tiktok/hashing.py), after trim + lower.
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const MAX_EMAIL = 254;
// E.164 as the server hashes it (docs/design.md §5): a + and 7 to 15 digits, once the separators
// people type (spaces, dots, dashes, brackets) are dropped.
const PHONE_SEPARATORS = /[\s\x1c-\x1f\x85.\-()[\]]/g;
const E164 = /^\+[0-9]{7,15}$/;
const MAX_PHONE = 64; // the longest text the server reads as a phone
// What trim() drops in JavaScript and str.strip() in Python, together: a value trimmed here is one
// the server's strip leaves alone, so both channels hash one string.
const EDGE_SPACE = /^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g;
const CURRENCY = /^[A-Za-z]{3}$/;
const DECIMAL_TEXT = /^\d+(\.\d+)?$/;

// Limits of the beacon endpoint (docs/design.md §6.1); anything beyond them would be rejected there.
const MAX_EVENTS_PER_BEACON = 50;
const MAX_BEACON_BYTES = 60 * 1024; // 64 KiB at the endpoint and in sendBeacon's quota, minus slack
const MAX_CONTENTS = 50;
const MAX_TEXT = 2048;
const MAX_VALUE = 1e9;
const MAX_STEP_INDEX = 9999;
const MAX_QUANTITY = 1e6;

const DAY_SECONDS = 86400;
// TikTok attributes a click id for about 7 days (docs/tiktok.md).
const TTCLID_DAYS = 7;
// Only used when localStorage is unavailable; the server keeps a session 60 days.
const FALLBACK_COOKIE_DAYS = 60;

const TIKTOK_SDK_URL = 'https://analytics.tiktok.com/i18n/pixel/events.js';
// TikTok's base code stub: these methods queue their calls until the real SDK takes over.
const PIXEL_METHODS = ['page', 'track', 'identify', 'instances', 'debug', 'on', 'off', 'once',
  'ready', 'alias', 'group', 'enableCookie', 'disableCookie', 'holdConsent', 'revokeConsent',
  'grantConsent'];

const LEAD = 'lead';
const PAGE_COMPLETED = 'page_completed';
const EMAIL_CAPTURED = 'email_captured';
const PAYMENT_SUCCEEDED = 'payment_succeeded';
// docs/design.md §3: StartTrial and Subscribe always report value 0 (revenue comes with the payment).
const ZERO_VALUE_EVENTS = {trial_started: true, subscription_started: true};

const has = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const isObject = (v) => v !== null && typeof v === 'object';

function describe(value) {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch (e) {
    return typeof value;
  }
}

function warn(message) {
  try {
    window.console.warn('[zt] ' + message);
  } catch (e) {
    // A page without a usable console gets no diagnostics; tracking goes on.
  }
}

function readConfig(raw) {
  const c = isObject(raw) ? raw : {};
  const str = (v) => (typeof v === 'string' ? v : '');
  const table = (v) => (isObject(v) ? v : {});
  return {
    campaignId: str(c.campaign_id),
    pixelId: str(c.pixel_id),
    serverSide: c.server_side === true,
    endpoint: str(c.endpoint),
    eventNames: table(c.event_names),
    eventTable: table(c.event_table),
    requireConsent: c.require_consent === true,
    limitedDataUse: c.limited_data_use === true,
    pixelSdkUrl: str(c.pixel_sdk_url) || TIKTOK_SDK_URL,
  };
}

const cfg = readConfig(CONFIG);
const SESSION_KEY = 'zt_sid_' + cfg.campaignId;
const IDENTIFIED_KEY = 'zt_identified_' + cfg.campaignId;
const LEAD_KEY = 'zt_lead_' + cfg.campaignId;
const TTCLID_KEY = 'zt_ttclid';

/* ---------------------------------------------------------------- first-party storage */

function readCookie(name) {
  try {
    const parts = document.cookie ? document.cookie.split(/;\s*/) : [];
    for (const part of parts) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq) === name) {
        const value = part.slice(eq + 1);
        try {
          return decodeURIComponent(value);
        } catch (e) {
          return value;
        }
      }
    }
  } catch (e) {
    // Cookies blocked (sandboxed frame): treat as absent.
  }
  return null;
}

function writeCookie(name, value, days) {
  try {
    document.cookie = name + '=' + encodeURIComponent(value) + '; max-age=' + days * DAY_SECONDS +
      '; path=/; SameSite=Lax' + (window.location.protocol === 'https:' ? '; Secure' : '');
  } catch (e) {
    // Cookies blocked: the in-memory copy still serves this page.
  }
}

// localStorage first, a cookie when the browser refuses it, memory when it refuses both.
const memory = {};
const store = {
  get(key) {
    if (has(memory, key)) return memory[key];
    try {
      const value = window.localStorage.getItem(key);
      if (value !== null) return value;
    } catch (e) {
      // Storage disabled: fall through to the cookie.
    }
    return readCookie(encodeURIComponent(key));
  },
  set(key, value) {
    memory[key] = value;
    try {
      window.localStorage.setItem(key, value);
      return;
    } catch (e) {
      // Storage disabled or full: keep it in a cookie instead.
    }
    writeCookie(encodeURIComponent(key), value, FALLBACK_COOKIE_DAYS);
  },
};

/* ---------------------------------------------------------------- ids */

function newId() {
  const crypto = window.crypto;
  // randomUUID exists only in secure contexts; getRandomValues everywhere.
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.prototype.map.call(b, (x) => (x + 0x100).toString(16).slice(1)).join('');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
    .join('-');
}

let sessionId = null;

function session() {
  if (!sessionId) {
    const stored = store.get(SESSION_KEY);
    sessionId = typeof stored === 'string' && SESSION_ID.test(stored) ? stored : newId();
    if (sessionId !== stored) store.set(SESSION_KEY, sessionId);
  }
  return sessionId;
}

// Once-per-session facts are stored as the session id they happened in.
const doneInSession = (key) => store.get(key) === session();
const markDone = (key) => store.set(key, session());

/* ---------------------------------------------------------------- click id and _ttp */

function ttclidFromUrl() {
  try {
    const value = new URLSearchParams(window.location.search).get('ttclid');
    return value && value.trim().length <= 1024 ? value.trim() : null;
  } catch (e) {
    return null;
  }
}

const landingTtclid = ttclidFromUrl();

function persistTtclid() {
  if (!landingTtclid) return;
  writeCookie('ttclid', landingTtclid, TTCLID_DAYS);
  // A copy with its own expiry outlives browsers that cut script-written cookies short.
  const expires = Date.now() + TTCLID_DAYS * DAY_SECONDS * 1000;
  store.set(TTCLID_KEY, JSON.stringify({value: landingTtclid, expires: expires}));
}

function currentTtclid() {
  if (landingTtclid) return landingTtclid;
  const cookie = readCookie('ttclid');
  if (cookie) return cookie;
  try {
    const saved = JSON.parse(store.get(TTCLID_KEY));
    if (isObject(saved) && typeof saved.value === 'string' && saved.expires > Date.now()) {
      return saved.value;
    }
  } catch (e) {
    // Nothing saved, or not ours.
  }
  return null;
}

/* ---------------------------------------------------------------- TikTok Pixel */

// TikTok's base code, written out: `ttq` is an array that queues `[method, ...args]` until
// events.js (or the local stand-in) replaces the methods; `ttq.load` records the pixel in
// `_i`/`_t`/`_o` and injects the SDK script.
function installPixelStub(ttq) {
  ttq.methods = PIXEL_METHODS.slice();
  ttq.setAndDefer = function (target, method) {
    target[method] = function () {
      target.push([method].concat(Array.prototype.slice.call(arguments, 0)));
    };
  };
  for (const method of ttq.methods) ttq.setAndDefer(ttq, method);
  ttq.instance = function (id) {
    const queue = ttq._i[id] || [];
    for (const method of ttq.methods) ttq.setAndDefer(queue, method);
    return queue;
  };
  ttq.load = function (id, options) {
    const url = cfg.pixelSdkUrl;
    ttq._i = ttq._i || {};
    ttq._i[id] = [];
    ttq._i[id]._u = url;
    ttq._t = ttq._t || {};
    ttq._t[id] = +new Date();
    ttq._o = ttq._o || {};
    ttq._o[id] = options || {};
    const script = document.createElement('script');
    script.type = 'text/javascript';
    script.async = true;
    script.src = url + (url.indexOf('?') < 0 ? '?' : '&') + 'sdkid=' + encodeURIComponent(id) +
      '&lib=ttq';
    const first = document.getElementsByTagName('script')[0];
    if (first && first.parentNode) first.parentNode.insertBefore(script, first);
    else (document.head || document.documentElement).appendChild(script);
  };
}

function loadPixel() {
  if (!cfg.pixelId) return;
  window.TiktokAnalyticsObject = 'ttq';
  const ttq = window.ttq = window.ttq || [];
  if (typeof ttq.load !== 'function') installPixelStub(ttq);
  // The page may carry TikTok's own base code for the same pixel: load it once.
  if (ttq._i && ttq._i[cfg.pixelId]) return;
  // No ttq.page(): our page_view is the page view, on both channels with one id (docs/design.md §3).
  ttq.load(cfg.pixelId, {limited_data_use: cfg.limitedDataUse});
}

function pixel(method, ...args) {
  if (!cfg.pixelId) return;
  try {
    window.ttq[method](...args);
  } catch (e) {
    warn('TikTok Pixel ' + method + ' failed: ' + describe(e));
  }
}

/* ---------------------------------------------------------------- reading event properties */

// Reads one property of page-supplied data; a throwing getter or proxy costs that field only.
function field(source, key) {
  if (!isObject(source)) return undefined;
  try {
    return source[key];
  } catch (e) {
    warn('could not read ' + key + ': ' + describe(e));
    return undefined;
  }
}

function amount(raw) {
  const n = typeof raw === 'string' && DECIMAL_TEXT.test(raw.trim()) ? Number(raw) : raw;
  return typeof n === 'number' && isFinite(n) && n >= 0 && n <= MAX_VALUE ? n : undefined;
}

function text(raw, limit) {
  if (typeof raw === 'number' && isFinite(raw)) return String(raw);
  return typeof raw === 'string' && raw.length > 0 && raw.length <= limit ? raw : undefined;
}

// Copies only the known fields into fresh objects, so cycles, getters and extra keys of the
// page's data never reach JSON.stringify or TikTok.
function readContents(raw) {
  if (raw === undefined || raw === null) return undefined;
  let list;
  try {
    list = Array.isArray(raw) ? Array.prototype.slice.call(raw, 0, MAX_CONTENTS) : null;
  } catch (e) {
    list = null;
  }
  if (!list) {
    warn('contents must be a list of {content_id, content_name, quantity, price}');
    return undefined;
  }
  const contents = [];
  for (const item of list) {
    if (!isObject(item)) continue;
    const content = {};
    const id = text(field(item, 'content_id'), 256);
    const name = text(field(item, 'content_name'), 256);
    const quantity = field(item, 'quantity');
    const price = amount(field(item, 'price'));
    if (id !== undefined) content.content_id = id;
    if (name !== undefined) content.content_name = name;
    if (Number.isInteger(quantity) && quantity >= 0 && quantity <= MAX_QUANTITY) content.quantity = quantity;
    if (price !== undefined) content.price = price;
    if (Object.keys(content).length) contents.push(content);
  }
  return contents.length ? contents : undefined;
}

function readStep(raw) {
  if (raw === undefined || raw === null) return undefined;
  const step = {};
  const index = field(raw, 'index');
  const id = text(field(raw, 'id'), 128);
  if (Number.isInteger(index) && index >= 0 && index <= MAX_STEP_INDEX) step.index = index;
  if (id !== undefined) step.id = id;
  if (!Object.keys(step).length) {
    warn('step must be {index: <integer>, id: <string>}');
    return undefined;
  }
  return step;
}

/* ---------------------------------------------------------------- match keys, as the server hashes them */

// docs/design.md §5: the Pixel hashes what ttq.identify gets, the server what the beacon carries; both
// get these normalised strings, so SHA-256 of the one equals the other's.
const normalized = (text) => text.replace(EDGE_SPACE, '').toLowerCase();

function externalId() {
  return normalized(session());
}

function readEmail(raw) {
  const email = typeof raw === 'string' ? normalized(raw) : '';
  if (email.length <= MAX_EMAIL && EMAIL.test(email)) return email;
  warn('email_captured needs {email: <address>}; no email sent');
  return undefined;
}

function readPhone(raw) {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const phone = typeof raw === 'string' && raw.length <= MAX_PHONE ? raw.replace(PHONE_SEPARATORS, '') : '';
  if (E164.test(phone)) return phone;
  warn('phone must be an international number (+ and 7-15 digits, e.g. +14155550100); phone dropped');
  return undefined;
}

// The page's props, validated into {eventId, value, currency, contents, step, email, phone}; null when
// the event must not fire at all.
function readProps(name, props) {
  const e = {};
  const eventId = field(props, 'event_id');
  const validId = typeof eventId === 'string' && EVENT_ID.test(eventId);
  if (cfg.eventTable[name].beacon !== true && !validId) {
    // docs/design.md §4, §6.2: the server's copy comes from Stripe under the Stripe object's id; a
    // made-up id here could never pair with it, and TikTok would count the payment twice.
    warn(name + ' needs the Stripe id as event_id (pi_…, in_…, sub_…; 1-128 characters of ' +
      '[A-Za-z0-9._:-]), got ' + describe(eventId) + '; nothing sent, as a made-up id could ' +
      'never pair with the Stripe copy');
    return null;
  }
  if (validId) e.eventId = eventId;
  else if (eventId !== undefined) warn('event_id must be 1-128 characters of [A-Za-z0-9._:-]; using a random one');
  const rawValue = field(props, 'value');
  if (rawValue !== undefined) {
    const value = amount(rawValue);
    const currency = field(props, 'currency');
    // TikTok and our endpoint take a value only together with its currency.
    if (value !== undefined && typeof currency === 'string' && CURRENCY.test(currency)) {
      e.value = value;
      e.currency = currency.toUpperCase();
    } else {
      warn('value needs to be a non-negative number with an ISO 4217 currency; value dropped');
    }
  }
  e.contents = readContents(field(props, 'contents'));
  e.step = readStep(field(props, 'step'));
  if (name === EMAIL_CAPTURED) {
    e.email = readEmail(field(props, 'email'));
    e.phone = readPhone(field(props, 'phone'));
  }
  if (has(ZERO_VALUE_EVENTS, name)) {
    e.value = 0;
    if (!e.currency) {
      const currency = field(props, 'currency');
      if (typeof currency === 'string' && CURRENCY.test(currency)) e.currency = currency.toUpperCase();
    }
  }
  return e;
}

function pixelProperties(name, e) {
  const p = {};
  if (e.value !== undefined) {
    p.value = e.value;
    if (e.currency) p.currency = e.currency;
  }
  // TikTok asks for content_type with contents; the server's copy of the event carries it too.
  if (e.contents) {
    p.contents = e.contents;
    p.content_type = 'product';
  }
  if (name === PAYMENT_SUCCEEDED) {
    p.content_type = 'product';
    if (e.contents) {
      p.num_items = e.contents.reduce((sum, c) => sum + (c.quantity === undefined ? 1 : c.quantity), 0);
    }
  }
  if (name === PAGE_COMPLETED && e.step && e.step.id !== undefined) p.content_name = e.step.id;
  return p;
}

/* ---------------------------------------------------------------- beacons */

let outbox = [];
let flushScheduled = false;
let consentGranted = false; // an explicit zt('consent', true), reported in beacons

function pageInfo() {
  const page = {url: String(window.location.href).slice(0, MAX_TEXT)};
  const referrer = String(document.referrer || '').slice(0, MAX_TEXT);
  if (referrer) page.referrer = referrer;
  return page;
}

function beaconEvent(name, eventId, e) {
  const event = {event: name, event_id: eventId, time: Date.now(), page: pageInfo()};
  if (e.step) event.step = e.step;
  if (name === EMAIL_CAPTURED && e.email) event.email = e.email;
  if (name === EMAIL_CAPTURED && e.phone) event.phone = e.phone;
  if (e.value !== undefined) {
    event.value = e.value;
    event.currency = e.currency;
  }
  if (e.contents) event.contents = e.contents;
  return event;
}

function queueBeacon(event) {
  outbox.push(event);
  if (flushScheduled) return;
  flushScheduled = true;
  // A microtask batches the events of one tick into one beacon, and still runs before the page
  // can navigate away.
  Promise.resolve().then(() => {
    try {
      flush();
    } catch (e) {
      warn('beacon failed: ' + describe(e));
    }
  });
}

function envelope(events) {
  const body = {campaign_id: cfg.campaignId, session_id: session()};
  const ttp = readCookie('_ttp'); // set by the Pixel, possibly after this script started
  const ttclid = currentTtclid();
  if (ttp) body.ttp = ttp;
  if (ttclid) body.ttclid = ttclid;
  if (consentGranted) body.consent = true;
  body.events = events;
  return JSON.stringify(body);
}

// The session this browser was tracked under, if any; never makes one (nothing is stored after a refusal).
function knownSession() {
  if (sessionId) return sessionId;
  const stored = store.get(SESSION_KEY);
  return typeof stored === 'string' && SESSION_ID.test(stored) ? stored : null;
}

// docs/design.md §6.1, §6.2: a consent-only beacon, so the server records the withdrawal on the session
// and sends none of its later Stripe events. Events of this tick not yet beaconed stay in the browser:
// a beacon of theirs could reach the server after the withdrawal and record consent again.
function withdrawConsent() {
  outbox = [];
  const id = knownSession();
  if (!cfg.serverSide || !cfg.endpoint || !id) return;
  post(JSON.stringify({campaign_id: cfg.campaignId, session_id: id, consent: false, events: []}));
}

function flush() {
  flushScheduled = false;
  const events = outbox;
  outbox = [];
  for (let i = 0; i < events.length; i += MAX_EVENTS_PER_BEACON) {
    send(events.slice(i, i + MAX_EVENTS_PER_BEACON));
  }
}

function send(events) {
  const json = envelope(events);
  if (events.length > 1 && new Blob([json]).size > MAX_BEACON_BYTES) {
    const half = Math.ceil(events.length / 2);
    send(events.slice(0, half));
    send(events.slice(half));
    return;
  }
  post(json);
}

function post(json) {
  let queued = false;
  try {
    // text/plain keeps the request "simple": no CORS preflight, which a beacon cannot wait for.
    queued = typeof navigator.sendBeacon === 'function' &&
      navigator.sendBeacon(cfg.endpoint, new Blob([json], {type: 'text/plain'}));
  } catch (e) {
    queued = false;
  }
  if (queued) return;
  // sendBeacon is missing, or refused (quota, blocked): keepalive fetch survives the unload too.
  try {
    window.fetch(cfg.endpoint, {
      method: 'POST', body: json, keepalive: true, headers: {'Content-Type': 'text/plain'},
      credentials: 'omit', mode: 'cors',
    }).catch((e) => warn('beacon failed: ' + describe(e)));
  } catch (e) {
    warn('beacon failed: ' + describe(e));
  }
}

/* ---------------------------------------------------------------- events */

function tiktokName(name) {
  const override = cfg.eventNames[name];
  return typeof override === 'string' && override ? override : cfg.eventTable[name].tiktok;
}

// The session id on the session's first event; with the email and phone when they are captured.
function identify(e) {
  if (!cfg.pixelId) return;
  if (e.email || e.phone) {
    const keys = {};
    if (e.email) keys.email = e.email;
    if (e.phone) keys.phone_number = e.phone;
    keys.external_id = externalId();
    pixel('identify', keys);
    markDone(IDENTIFIED_KEY);
  } else if (!doneInSession(IDENTIFIED_KEY)) {
    pixel('identify', {external_id: externalId()});
    markDone(IDENTIFIED_KEY);
  }
}

// One event on both channels, with one event_id.
function emit(name, e) {
  const eventId = e.eventId || newId();
  identify(e);
  pixel('track', tiktokName(name), pixelProperties(name, e), {event_id: eventId});
  if (cfg.serverSide && cfg.eventTable[name].beacon === true) {
    queueBeacon(beaconEvent(name, eventId, e));
  }
}

// Once per session, with an id derived from the session, so a repeat is a duplicate to TikTok.
function lead() {
  if (!has(cfg.eventTable, LEAD) || doneInSession(LEAD_KEY)) return;
  markDone(LEAD_KEY);
  emit(LEAD, {eventId: session() + ':' + LEAD});
}

function track(name, props) {
  if (typeof name !== 'string' || !has(cfg.eventTable, name) || !isObject(cfg.eventTable[name])) {
    warn('unknown event ' + describe(name) + '; known: ' + Object.keys(cfg.eventTable).join(', '));
    return;
  }
  if (props !== undefined && props !== null && !isObject(props)) {
    warn('track ' + name + ': properties must be an object, got ' + describe(props));
    return;
  }
  if (name === LEAD) {
    lead();
    return;
  }
  const e = readProps(name, props);
  if (!e) return;
  emit(name, e);
  // docs/design.md §3 and §6.2: lead fires when the visitor completes the first step (index 0); a funnel
  // that numbers no steps gets it on its first completed step.
  if (name === PAGE_COMPLETED && (!e.step || e.step.index === undefined || e.step.index === 0)) lead();
}

/* ---------------------------------------------------------------- commands and consent */

const COMMANDS = {
  init(options) {
    const given = field(options, 'session_id');
    // Spaces around the id are the page's slip, not part of it (the beacon endpoint refuses them).
    const id = typeof given === 'string' ? given.replace(EDGE_SPACE, '') : given;
    if (typeof id !== 'string' || !SESSION_ID.test(id)) {
      warn('init needs {session_id}: 1-123 characters of [A-Za-z0-9._:-], got ' + describe(given));
      return;
    }
    if (id === sessionId) return;
    flush(); // events already queued belong to the previous session
    sessionId = id;
    store.set(SESSION_KEY, id);
  },
  track: track,
  session(callback) {
    if (typeof callback !== 'function') {
      warn('session needs a callback function');
      return;
    }
    const id = session();
    try {
      callback(id);
    } catch (e) {
      warn('session callback threw: ' + describe(e));
    }
  },
};

// 'pending' holds commands in memory until the visitor answers; 'denied' drops them. The answer is
// not remembered across pages on purpose: the page's consent manager owns it and says it again
// on every page, so a revocation there can never be overridden by a stale copy here.
let consent = cfg.requireConsent ? 'pending' : 'granted';
let held = [];
let started = false;
const inbox = [];
let draining = false;

// Storage writes and the Pixel wait for consent where the campaign requires it.
function start() {
  if (started) return;
  started = true;
  persistTtclid();
  loadPixel();
}

function setConsent(value) {
  if (typeof value !== 'boolean') {
    warn('consent takes true or false, got ' + describe(value));
    return;
  }
  const before = consent;
  if (value) {
    consent = 'granted';
    consentGranted = true;
    if (before === 'denied' && started) pixel('grantConsent');
    start();
    // Held commands run now, before anything the page queued after granting.
    inbox.unshift(...held);
  } else {
    consent = 'denied';
    consentGranted = false;
    if (before === 'granted') {
      if (started) pixel('revokeConsent');
      withdrawConsent();
    }
  }
  held = [];
}

function run(args) {
  try {
    const command = args[0];
    if (command === 'consent') {
      setConsent(args[1]);
    } else if (typeof command !== 'string' || !has(COMMANDS, command)) {
      warn('unknown command ' + describe(command) + '; use init, track, session or consent');
    } else if (consent === 'pending') {
      held.push(args);
    } else if (consent === 'granted') {
      COMMANDS[command](args[1], args[2]);
    }
  } catch (e) {
    warn('command ignored: ' + describe(e));
  }
}

// Commands run one at a time in call order, also when one of them (a session callback) calls zt.
function drain() {
  if (draining) return;
  draining = true;
  try {
    while (inbox.length) run(inbox.shift());
  } finally {
    draining = false;
  }
}

function zt() {
  try {
    inbox.push(arguments);
    drain();
  } catch (e) {
    warn('command ignored: ' + describe(e));
  }
}

function boot() {
  const previous = window.zt;
  if (typeof previous === 'function' && previous.loaded === true) {
    warn('tracker.js is on this page twice; the second copy does nothing');
    return;
  }
  if (cfg.serverSide && !cfg.endpoint) warn('no beacon endpoint configured');
  let queued = [];
  try {
    queued = previous && previous.q ? Array.prototype.slice.call(previous.q) : [];
  } catch (e) {
    warn('could not read the queued commands: ' + describe(e));
  }
  zt.loaded = true;
  window.zt = zt;
  if (consent === 'granted') start();
  inbox.push(...queued);
  drain();
}

try {
  boot();
} catch (e) {
  warn('tracker failed to start: ' + describe(e));
}
})();
