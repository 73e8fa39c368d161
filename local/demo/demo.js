/*
 * Demo funnel glue, not part of the product: the funnel keeps its own session id and hands it to
 * tracker.js with zt('init'), as a real funnel would; the footer shows it next to the id the
 * tracker reports through zt('session'), so the two can be compared at a glance.
 */
(function () {
  'use strict';

  var SESSION_KEY = 'zt_demo_session';

  function newId() {
    if (window.crypto.randomUUID) return window.crypto.randomUUID();
    // randomUUID needs a secure context; the demo may be opened over plain http on a LAN address.
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join('');
  }

  function session() {
    var id = localStorage.getItem(SESSION_KEY);
    if (!id) {
      id = newId();
      localStorage.setItem(SESSION_KEY, id);
    }
    return id;
  }

  function restart(event) {
    event.preventDefault();
    localStorage.removeItem(SESSION_KEY);
    sessionStorage.clear();
    window.location.href = './';
  }

  window.demo = {
    session: session,
    go: function (path) {
      window.location.href = path;
    },
  };

  document.addEventListener('DOMContentLoaded', function () {
    document.getElementById('session-id').textContent = session();
    document.getElementById('restart').addEventListener('click', restart);
    window.zt('session', function (id) {
      document.getElementById('tracker-session').textContent = id;
    });
  });
})();
