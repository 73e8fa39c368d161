/*
 * Local stand-in for TikTok's Pixel SDK (events.js), served at
 * /_dev/pixel/sdk.js?sdkid=<pixel_id>&lib=ttq by the local stack (docs/design.md §8).
 *
 * Like the real SDK it takes over the `ttq` stub of TikTok's base code: it replays what the
 * stub queued (`ttq` itself holds `[method, ...args]` entries, `ttq._i[pixel]` the pixels
 * loaded and their per-instance queues, `ttq._o[pixel]` the load options), then answers every
 * later call itself. Instead of talking to TikTok it records each call by POSTing
 * {"pixel_id", "method", "args"} to /_dev/pixel/requests on the origin it was served from, so
 * the Test Events page can pair Pixel events with server events. It never throws.
 */
(function () {
  'use strict';

  var DEFAULT_METHODS = ['page', 'track', 'identify', 'instances', 'debug', 'on', 'off', 'once',
    'ready', 'alias', 'group', 'enableCookie', 'disableCookie', 'holdConsent', 'revokeConsent',
    'grantConsent'];
  // The real Pixel keeps its browser id in a first-party `_ttp` cookie for 13 months; setting
  // one lets the local stack show `ttp` as a match key, as production would.
  var TTP_MAX_AGE = 395 * 86400;
  var TTP_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

  function scriptUrl() {
    var script = document.currentScript;
    return new URL(script && script.src ? script.src : window.location.href, window.location.href);
  }

  // Arguments may hold callbacks or cycles; the record keeps what JSON can say about them.
  function toJson(value) {
    var seen = [];
    return JSON.stringify(value, function (key, v) {
      if (typeof v === 'function') return '[function]';
      if (v !== null && typeof v === 'object') {
        if (seen.indexOf(v) >= 0) return '[cyclic]';
        seen.push(v);
      }
      return v;
    });
  }

  function post(url, body) {
    var blob = new Blob([body], {type: 'text/plain'});
    if (typeof navigator.sendBeacon === 'function' && navigator.sendBeacon(url, blob)) return;
    window.fetch(url, {method: 'POST', body: body, keepalive: true,
      headers: {'Content-Type': 'text/plain'}}).catch(function () {
      // The recorder is a development aid; a lost record must not disturb the page.
    });
  }

  function recorder(origin) {
    var url = origin + '/_dev/pixel/requests';
    return function record(pixelId, method, args) {
      try {
        var body;
        try {
          body = toJson({pixel_id: pixelId, method: method, args: args});
        } catch (e) {
          body = toJson({pixel_id: pixelId, method: method, args: ['[unserializable]']});
        }
        post(url, body);
      } catch (e) {
        // See post(): recording is best effort.
      }
    };
  }

  function ensureTtpCookie() {
    if (/(?:^|;\s*)_ttp=/.test(document.cookie)) return;
    var bytes = window.crypto.getRandomValues(new Uint8Array(27));
    var id = '';
    for (var i = 0; i < bytes.length; i++) id += TTP_ALPHABET[bytes[i] % TTP_ALPHABET.length];
    document.cookie = '_ttp=' + id + '; max-age=' + TTP_MAX_AGE + '; path=/; SameSite=Lax' +
      (window.location.protocol === 'https:' ? '; Secure' : '');
  }

  function takeOver(ttq, lib, thisPixel, record) {
    var loaded = ttq._ztLoaded = {};
    var methods = Array.isArray(ttq.methods) ? ttq.methods : DEFAULT_METHODS;
    var instances = ttq._i || {};
    var options = ttq._o || {};
    // What the stub queued, in call order, before the methods are replaced.
    var queued = Array.prototype.slice.call(ttq);
    var pixels = Object.keys(instances);
    if (pixels.indexOf(thisPixel) < 0 && thisPixel) pixels.push(thisPixel);

    function call(targets, method, args) {
      for (var i = 0; i < targets.length; i++) record(targets[i], method, args);
      if (method === 'ready' && typeof args[0] === 'function') {
        try {
          args[0]();
        } catch (e) {
          // A page callback's error is the page's; the SDK keeps going.
        }
      }
    }

    function load(id, opts) {
      if (loaded[id]) return;
      loaded[id] = true;
      record(id, 'load', [id, opts || {}]);
    }

    function bind(target, targets) {
      methods.forEach(function (method) {
        target[method] = function () {
          try {
            call(targets(), method, Array.prototype.slice.call(arguments));
          } catch (e) {
            // Never throw into the page.
          }
          return target;
        };
      });
    }

    pixels.forEach(function (id) {
      load(id, options[id]);
    });
    queued.forEach(function (entry) {
      if (Array.isArray(entry) && typeof entry[0] === 'string') {
        call(Object.keys(loaded), entry[0], entry.slice(1));
      }
    });
    pixels.forEach(function (id) {
      Array.prototype.slice.call(instances[id] || []).forEach(function (entry) {
        if (Array.isArray(entry) && typeof entry[0] === 'string') call([id], entry[0], entry.slice(1));
      });
    });

    ttq.length = 0;
    bind(ttq, function () {
      return Object.keys(loaded);
    });
    ttq.instance = function (id) {
      var one = {};
      bind(one, function () {
        return [id];
      });
      return one;
    };
    ttq.load = function (id, opts) {
      try {
        load(String(id), opts);
      } catch (e) {
        // Never throw into the page.
      }
    };
    window[lib] = ttq;
  }

  try {
    var src = scriptUrl();
    var pixelId = src.searchParams.get('sdkid') || '';
    var lib = src.searchParams.get('lib') || window.TiktokAnalyticsObject || 'ttq';
    var record = recorder(src.origin);
    var ttq = window[lib];
    if (ttq && ttq._ztLoaded) {
      // A second pixel's script: the first copy already answers for every pixel.
      ttq.load(pixelId, ttq._o && ttq._o[pixelId]);
      return;
    }
    if (!ttq || typeof ttq !== 'object') ttq = [];
    takeOver(ttq, lib, pixelId, record);
  } catch (e) {
    // A stand-in that fails must fail quietly, like a blocked Pixel would.
  }
  try {
    ensureTtpCookie();
  } catch (e) {
    // Cookies blocked: events just carry no ttp, as with the real Pixel.
  }
})();
