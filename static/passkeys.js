// The site's one script: it drives the WebAuthn ceremonies of the pages (docs/api.md §5)
// and nothing else. Every other flow works without it. Served from our origin; the CSP allows
// `script-src 'self'` and nothing inline.
(() => {
  "use strict";
  const supported =
    window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
  if (!supported) {
    return;
  }

  // The page's CSRF token: cookie-authenticated JSON requests carry it as a header.
  const csrfToken = () => {
    const field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  };

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": csrfToken(),
      },
      body: JSON.stringify(body),
    });
    const data = response.status === 204 ? {} : await response.json();
    if (!response.ok) {
      throw new Error(data.message || "The request failed.");
    }
    return data;
  }

  function show(element, error) {
    element.textContent =
      error.name === "NotAllowedError"
        ? "The passkey prompt was closed or timed out. Try again."
        : error.message;
    element.hidden = false;
  }

  // "Sign in with a passkey" (the sign-in page) and "Use a passkey" (the second step).
  const signIn = document.querySelector("[data-passkey-sign-in]");
  if (signIn) {
    const button = signIn.querySelector("button");
    const error = signIn.querySelector("[data-passkey-error]");
    signIn.hidden = false;
    button.addEventListener("click", async () => {
      error.hidden = true;
      button.disabled = true;
      try {
        const begun = await post("/login/passkey/start", {
          mode: "cookie",
          second_step: signIn.dataset.secondStep,
        });
        const credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begun.publicKey),
        });
        const done = await post("/login/passkey/finish", {
          mode: "cookie",
          challenge_id: begun.challenge_id,
          credential: credential.toJSON(),
          next: signIn.dataset.next || undefined,
        });
        window.location.assign(done.redirect);
      } catch (e) {
        show(error, e);
      } finally {
        button.disabled = false;
      }
    });
  }

  // "Add a passkey" on the dashboard.
  const register = document.querySelector("form[data-passkey-register]");
  if (register) {
    const error = document.querySelector("[data-passkey-register-error]");
    const codes = document.querySelector("[data-passkey-codes]");
    register.hidden = false;
    register.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      const name = register.elements.namedItem("name").value;
      const password = register.elements.namedItem("password").value;
      try {
        const begun = await post("/me/passkeys/register/start", { password });
        const credential = await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(begun.publicKey),
        });
        const added = await post("/me/passkeys/register/finish", {
          challenge_id: begun.challenge_id,
          name,
          credential: credential.toJSON(),
        });
        if (!added.recovery_codes) {
          window.location.assign("/dashboard");
          return;
        }
        // The account's first factor: its recovery codes, shown once, here.
        const list = codes.querySelector("ul");
        for (const code of added.recovery_codes) {
          const item = document.createElement("li");
          const text = document.createElement("code");
          text.textContent = code;
          item.append(text);
          list.append(item);
        }
        register.hidden = true;
        codes.hidden = false;
      } catch (e) {
        show(error, e);
      }
    });
  }
})();
