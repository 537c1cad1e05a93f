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

  // One button runs one ceremony (`run`), then goes on: to the page the server names, or by `run`'s own form submit.
  function wire(block, run) {
    var button = block.querySelector('[data-passkey-start]');
    var error = block.querySelector('[data-passkey-error]');
    block.hidden = false;
    button.addEventListener('click', function () {
      button.disabled = true;
      error.hidden = true;
      run()
        .then(function (done) { if (done && done.location) window.location.assign(done.location); })
        .catch(function (err) {
          error.textContent = explain(err);
          error.hidden = false;
          button.disabled = false;
        });
    });
  }

  if (!supported) return;
  document.querySelectorAll('[data-passkey-unsupported]').forEach(function (el) { el.hidden = true; });

  // Sign in with a passkey alone: the browser lists this site's passkeys.
  document.querySelectorAll('[data-passkey-signin]').forEach(function (block) {
    var csrf = block.getAttribute('data-csrf');
    var returnTo = block.getAttribute('data-return-to') || '/account';
    wire(block, function () {
      return post('/passkeys/sign-in/options', { csrf: csrf })
        .then(function (r) { return lib.startAuthentication({ optionsJSON: r.options }); })
        .then(function (response) { return post('/passkeys/sign-in/verify', { csrf: csrf, response: response, return_to: returnTo }); });
    });
  });

  // The second step after the password: the answer goes with the step's form to the login action, which carries the flow on.
  document.querySelectorAll('[data-passkey-second-factor]').forEach(function (form) {
    var csrf = form.getAttribute('data-csrf');
    wire(form, function () {
      return post('/passkeys/second-factor/options', { csrf: csrf })
        .then(function (r) {
          form.querySelector('[data-passkey-ceremony]').value = r.ceremony;
          return lib.startAuthentication({ optionsJSON: r.options });
        })
        .then(function (response) {
          form.querySelector('[data-passkey-answer]').value = JSON.stringify(response);
          form.submit();
        });
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
