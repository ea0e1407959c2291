// Passkeys in the browser (docs/api.md §21): sign in on the login pages, add a passkey on the
// browsable API's passkeys page. Loaded from a file (the pages' CSP allows no inline script);
// every element it drives names its URLs in data-* attributes.
(function () {
  "use strict";

  function toBytes(text) {
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toText(buffer) {
    let binary = "";
    new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // WebAuthn Level 3's JSON helpers where the browser has them; a small equivalent elsewhere.
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: (json.excludeCredentials || []).map((c) => Object.assign({}, c, { id: toBytes(c.id) })),
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: (json.allowCredentials || []).map((c) => Object.assign({}, c, { id: toBytes(c.id) })),
    });
  }

  function asJSON(credential) {
    if (credential.toJSON) return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) response.attestationObject = toText(r.attestationObject);
    if (r.authenticatorData) response.authenticatorData = toText(r.authenticatorData);
    if (r.signature) response.signature = toText(r.signature);
    if (r.userHandle) response.userHandle = toText(r.userHandle);
    return { id: credential.id, rawId: toText(credential.rawId), type: credential.type, response: response,
             clientExtensionResults: credential.getClientExtensionResults() };
  }

  function csrf() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return match ? decodeURIComponent(match[1]) : (field ? field.value : "");
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body || {}),
    });
    const data = await response.json();
    if (!response.ok || data.success === false) throw new Error((data.error && data.error.message) || data.message);
    return data.data;
  }

  function report(element, text) {
    const target = document.getElementById(element.dataset.status);
    if (target) target.textContent = text;
  }

  async function signIn(button) {
    try {
      const options = await post(button.dataset.options);
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
      const done = await post(button.dataset.finish, { credential: asJSON(credential), next: button.dataset.next });
      window.location.assign(done.next);
    } catch (error) {
      report(button, "Could not sign in with a passkey: " + error.message);
    }
  }

  async function add(button) {
    try {
      const options = await post(button.dataset.options);
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options.publicKey) });
      const name = document.getElementById(button.dataset.nameField).value || "Passkey";
      await post(button.dataset.finish, { name: name, credential: asJSON(credential) });
      window.location.reload();
    } catch (error) {
      report(button, "Could not add the passkey: " + error.message);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const supported = !!window.PublicKeyCredential;
    document.querySelectorAll("[data-passkey]").forEach(function (button) {
      if (!supported) { button.disabled = true; report(button, "This browser has no passkeys."); return; }
      button.addEventListener("click", function (event) {
        event.preventDefault();
        (button.dataset.passkey === "sign-in" ? signIn : add)(button);
      });
    });
  });
})();
