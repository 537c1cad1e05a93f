// Passkey ceremonies for our pages (issue 26). Loaded as a file from our own
// origin after /static/vendor/simplewebauthn-browser.js (the library's browser
// half, which does the WebAuthn calls and their base64url encoding): the CSP
// allows no inline script. Each block is found by a data attribute and carries
// its CSRF token (and where to go next) in data attributes.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  var supported = Boolean(lib && lib.browserSupportsWebAuthn());

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(data.error_description || 'The server refused the request (' + res.status + ').');
        return data;
      });
    });
  }

  // What the browser says when the user closes its dialog or it times out.
  function explain(err) {
    if (err && (err.name === 'NotAllowedError' || err.name === 'AbortError')) return 'The passkey request was cancelled or timed out.';
    if (err && err.name === 'InvalidStateError') return 'This passkey is registered already.';
    return (err && err.message) || 'Something went wrong.';
  }

  // One button runs one ceremony: options from `start`, the browser's answer to `finish`, then on to the page the server names.
  function wire(block, run) {
    var button = block.querySelector('[data-passkey-start]');
    var error = block.querySelector('[data-passkey-error]');
    block.hidden = false;
    button.addEventListener('click', function () {
      button.disabled = true;
      error.hidden = true;
      run()
        .then(function (done) { window.location.assign(done.location); })
        .catch(function (err) {
          error.textContent = explain(err);
          error.hidden = false;
          button.disabled = false;
        });
    });
  }

  if (!supported) return;
  document.querySelectorAll('[data-passkey-unsupported]').forEach(function (el) { el.hidden = true; });

  // Sign in with a passkey alone (the browser lists this site's passkeys), or as the second factor after the password.
  document.querySelectorAll('[data-passkey-signin]').forEach(function (block) {
    var csrf = block.getAttribute('data-csrf');
    var base = block.getAttribute('data-endpoint') || '/passkeys/sign-in';
    var extra = { return_to: block.getAttribute('data-return-to') || '/account', pending: block.getAttribute('data-pending') || undefined };
    wire(block, function () {
      return post(base + '/options', Object.assign({ csrf: csrf }, extra))
        .then(function (r) { return lib.startAuthentication({ optionsJSON: r.options }); })
        .then(function (response) { return post(base + '/verify', Object.assign({ csrf: csrf, response: response }, extra)); });
    });
  });

  // Add a passkey on /account.
  document.querySelectorAll('[data-passkey-register]').forEach(function (block) {
    var csrf = block.getAttribute('data-csrf');
    var name = block.querySelector('[data-passkey-name]');
    wire(block, function () {
      return post('/passkeys/register/options', { csrf: csrf })
        .then(function (r) { return lib.startRegistration({ optionsJSON: r.options }); })
        .then(function (response) { return post('/passkeys/register/verify', { csrf: csrf, response: response, name: name.value }); });
    });
  });
})();
