// Tonewall agent panel.
//
// Opened as /panel/?call=<call id>#token=<agent token>. The token is moved
// from the fragment into memory at once and the fragment is cleared, so it
// is in no history entry, referrer or server log. The page talks only to
// the controller's API on the same origin. It never receives a card digit:
// fields arrive as counts, and the card as brand and last four.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  const FIELD_NAMES = {
    pan: "Card number",
    expiry: "Expiry date",
    cvv: "Security code",
    postcode: "Postcode",
  };

  const REASONS = {
    too_short: "too few digits",
    too_long: "too many digits",
    bad_length: "wrong number of digits for this card",
    luhn: "not a valid card number",
    unknown_brand: "card type not recognised",
    brand_not_accepted: "card type not accepted",
    bad_month: "the month is not between 01 and 12",
    expired: "the card has expired",
    too_far_ahead: "the expiry date is too far ahead",
    cvv_length: "wrong length for this card's security code",
    postcode: "not a valid postcode",
    not_digits: "only digits can be keyed",
    timeout: "the customer took too long",
    submission_error: "the payment could not be sent",
  };

  const OUTCOMES = {
    submitting: ["Card complete – sending the payment…", "wait"],
    approved: ["Payment approved", "good"],
    recorded: ["Card details accepted", "good"],
    declined: ["Payment declined", "bad"],
    "failed-before-sending": ["Payment not sent – it is safe to try again", "bad"],
    unknown: ["Payment result unknown – check before trying again", "bad"],
    cancelled: ["Capture cancelled", "bad"],
    "caller-hung-up": ["The customer hung up", "bad"],
    "arming-failed": ["Could not protect the call – capture stopped", "bad"],
    "attempts-exhausted": ["Too many failed attempts – capture stopped", "bad"],
  };

  const MASKING = {
    off: "off – you can hear the customer",
    arming: "turning on…",
    on: "on – you hear a tone while the customer keys",
    "left-on": "left on after a problem – the customer cannot be heard",
    disarming: "turning off…",
    "disarm-failed": "could not be turned off",
  };

  const ZERO_DECIMAL = new Set(["JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF"]);
  const THREE_DECIMAL = new Set(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]);

  const EVENT_TYPES = [
    "snapshot", "dropped",
    "call.started", "call.bridged", "call.ended",
    "capture.started", "capture.card_complete", "capture.finished",
    "masking.armed", "masking.failed", "masking.disarmed", "masking.disarm_failed",
    "field.prompted", "field.digit", "field.valid", "field.invalid", "field.timeout", "field.restarted",
    "payment.result", "payment.error",
  ];

  // Session state, in memory only.
  const params = new URLSearchParams(location.search);
  const callID = params.get("call") || "";
  let token = "";
  let current = null; // the capture shown: a CaptureView
  let callState = { live: false, bridged: false };
  let source = null;

  // Take the token out of the fragment and clear it.
  (function takeToken() {
    const frag = new URLSearchParams(location.hash.slice(1));
    token = frag.get("token") || "";
    if (location.hash) {
      history.replaceState(null, "", location.pathname + location.search);
    }
  })();

  function announce(text) {
    const a = $("announcer");
    a.textContent = "";
    // A new text node after clearing makes screen readers speak it again.
    window.setTimeout(() => { a.textContent = text; }, 50);
  }

  function problem(text) {
    const p = $("problem");
    p.textContent = text;
    p.hidden = !text;
  }

  async function api(method, path, body) {
    const opts = { method, headers: { Authorization: "Bearer " + token }, cache: "no-store" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      throw new Error("The controller cannot be reached.");
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const code = data && data.error ? data.error.code : "";
      const err = new Error(errorText(resp.status, code, data && data.error ? data.error.message : ""));
      err.code = code;
      throw err;
    }
    return data;
  }

  function errorText(status, code, message) {
    switch (code) {
      case "unauthorized": return "Your session has expired. Open the panel again from the CRM.";
      case "forbidden": return "This link does not give access to that call.";
      case "call_not_found": return "The call is not live on this controller.";
      case "call_not_ready": return "The call is not connected to you yet.";
      case "capture_in_progress": return "A capture is already running on this call.";
      case "call_ended": return "The call has ended.";
      case "masking_failed": return "The call could not be protected, so the customer was not asked for the card. Masking stays on.";
      case "invalid_request": return "Check the details: " + message;
      default: return "Something went wrong (" + (code || status) + ").";
    }
  }

  // ---- money ----

  function exponent(currency) {
    if (ZERO_DECIMAL.has(currency)) return 0;
    if (THREE_DECIMAL.has(currency)) return 3;
    return 2;
  }

  // toMinor converts "12.50" to 1250 for a two-decimal currency, exactly.
  function toMinor(text, currency) {
    const exp = exponent(currency);
    const m = /^\s*(\d{1,9})(?:[.,](\d+))?\s*$/.exec(text);
    if (!m) return null;
    const frac = m[2] || "";
    if (frac.length > exp) return null;
    const minor = Number(m[1]) * Math.pow(10, exp) + Number((frac + "000").slice(0, exp) || "0");
    return minor > 0 && Number.isSafeInteger(minor) ? minor : null;
  }

  function formatMoney(minor, currency) {
    const exp = exponent(currency);
    const s = String(minor).padStart(exp + 1, "0");
    const major = exp ? s.slice(0, -exp) + "." + s.slice(-exp) : s;
    return major + " " + currency;
  }

  // ---- rendering ----

  function renderCall() {
    const el = $("call-status");
    let text = "connecting…";
    let state = "unknown";
    if (callState.ended) { text = "ended"; state = "ended"; }
    else if (callState.live && callState.bridged) { text = "connected"; state = "live"; }
    else if (callState.live) { text = "waiting for the agent leg"; state = "waiting"; }
    el.dataset.state = state;
    $("call-state").textContent = text;
    $("start").hidden = !!current || state !== "live";
  }

  function isFinished(v) {
    return ["complete", "cancelled", "failed", "hung-up"].includes(v.state) &&
      v.outcome !== "submitting";
  }

  function dots(n) {
    let s = "";
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % 4 === 0) s += " ";
      s += "●";
    }
    return s;
  }

  function fieldStatus(f, v) {
    if (f.valid) return "valid";
    if (f.reason === "timeout" || f.timedOut) return "timeout";
    if (f.reason) return "invalid";
    if (v.field === f.field && !isFinished(v)) return "active";
    return "waiting";
  }

  const STATUS_TEXT = { valid: "accepted", invalid: "not accepted", timeout: "timed out", active: "customer keying", waiting: "to do" };
  const STATUS_MARK = { valid: "✓", invalid: "✗", timeout: "⏱", active: "…", waiting: "○" };

  function renderFields(v) {
    const list = $("fields");
    const keep = document.activeElement && list.contains(document.activeElement) ? document.activeElement.dataset.field : "";
    list.textContent = "";
    for (const f of v.fields || []) {
      const st = fieldStatus(f, v);
      const li = document.createElement("li");
      li.className = "field";
      li.dataset.field = f.field;
      li.dataset.status = st;
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = STATUS_MARK[st];
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = FIELD_NAMES[f.field] || f.field;
      const state = document.createElement("span");
      state.className = "state";
      state.textContent = STATUS_TEXT[st];
      const d = document.createElement("span");
      d.className = "dots";
      d.setAttribute("role", "img");
      d.setAttribute("aria-label", f.digits === 1 ? "1 digit keyed" : f.digits + " digits keyed");
      d.textContent = f.digits ? dots(f.digits) : "–";
      li.append(mark, name, state, d);
      if (f.attempts > 0) {
        const a = document.createElement("span");
        a.className = "attempt";
        a.textContent = "attempt " + (f.attempts + (f.valid ? 0 : 1));
        li.append(a);
      }
      const err = document.createElement("span");
      err.className = "error";
      if (st === "invalid" || st === "timeout") {
        err.textContent = (FIELD_NAMES[f.field] || f.field) + ": " + (REASONS[f.reason] || "not accepted");
      }
      li.append(err);
      if (!isFinished(v) && v.state !== "complete") {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "restart";
        b.dataset.field = f.field;
        b.textContent = f.digits || f.done ? "Ask again" : "Ask now";
        b.setAttribute("aria-label", (f.digits || f.done ? "Ask again for the " : "Ask now for the ") + (FIELD_NAMES[f.field] || f.field).toLowerCase());
        b.addEventListener("click", () => restart(f.field));
        li.append(b);
      }
      list.append(li);
    }
    if (keep) {
      const b = list.querySelector('button[data-field="' + keep + '"]');
      if (b) b.focus();
    }
  }

  function render() {
    renderCall();
    const v = current;
    $("capture").hidden = !v;
    if (!v) return;
    $("summary").textContent = formatMoney(v.amount, v.currency) + " · reference " + v.reference;
    $("masking").dataset.masking = v.masking || "off";
    $("masking-state").textContent = MASKING[v.masking] || v.masking || "off";
    renderFields(v);
    $("card").hidden = !v.brand && !v.last4;
    $("brand").textContent = v.brand ? v.brand.toUpperCase() : "";
    $("last4").textContent = v.last4 ? "ending " + v.last4 : "";
    const outcome = v.outcome || "";
    const [text, kind] = OUTCOMES[outcome] || [outcome, "bad"];
    const reason = v.payment && v.payment.reason ? " (" + (REASONS[v.payment.reason] || v.payment.reason.replace(/_/g, " ")) + ")" : "";
    $("outcome").hidden = !outcome;
    $("outcome").dataset.outcome = outcome;
    $("outcome").dataset.kind = kind;
    $("outcome-text").textContent = text + reason;
    const finished = isFinished(v);
    $("cancel").hidden = finished || v.state === "complete";
    $("new-capture").hidden = !finished || !callState.live;
  }

  // ---- events ----

  function fieldOf(v, name) {
    if (!v.fields) v.fields = [];
    let f = v.fields.find((x) => x.field === name);
    if (!f) {
      f = { field: name, done: false, digits: 0, attempts: 0, valid: false };
      v.fields.push(f);
    }
    return f;
  }

  function onEvent(type, ev) {
    if (type === "snapshot") {
      callState = { live: ev.call.live, bridged: ev.call.bridged, ended: !ev.call.live };
      const caps = ev.captures || [];
      if (caps.length) current = caps[caps.length - 1];
      render();
      return;
    }
    if (type === "dropped") return; // a snapshot follows
    switch (type) {
      case "call.bridged": callState.live = true; callState.bridged = true; break;
      case "call.ended": callState = { live: false, bridged: false, ended: true }; announce("The call has ended."); break;
    }
    if (!ev.capture_id) { render(); return; }
    if (!current || current.id !== ev.capture_id) {
      if (type !== "capture.started") { render(); return; }
      current = { id: ev.capture_id, call_id: ev.call_id, state: "arming", masking: "arming", fields: [], amount: 0, currency: "", reference: "" };
      refresh(ev.capture_id);
    }
    const v = current;
    const name = FIELD_NAMES[ev.field] || ev.field;
    switch (type) {
      case "capture.started":
        for (const f of ev.required || []) fieldOf(v, f);
        break;
      case "masking.armed": v.masking = "on"; v.state = "collecting"; announce("Masking is on. The customer can key the card."); break;
      case "masking.failed": v.masking = "left-on"; announce("The call could not be protected. The capture stopped."); break;
      case "masking.disarmed": v.masking = "off"; break;
      case "masking.disarm_failed": v.masking = "disarm-failed"; break;
      case "field.prompted": v.field = ev.field; announce("Asking the customer for the " + name.toLowerCase() + "."); break;
      case "field.digit": fieldOf(v, ev.field).digits = ev.digits || 0; v.field = ev.field; break;
      case "field.restarted": Object.assign(fieldOf(v, ev.field), { digits: 0, done: false, valid: false, reason: "" }); break;
      case "field.valid": {
        const f = fieldOf(v, ev.field);
        Object.assign(f, { done: true, valid: true, reason: "", digits: ev.digits || f.digits });
        if (ev.brand) v.brand = ev.brand;
        if (ev.last4) v.last4 = ev.last4;
        announce(name + " accepted.");
        break;
      }
      case "field.invalid": {
        const f = fieldOf(v, ev.field);
        Object.assign(f, { done: false, valid: false, reason: ev.reason || "invalid", digits: ev.digits || f.digits });
        f.attempts = Math.max(f.attempts, ev.attempt || f.attempts + 1);
        announce(name + " not accepted: " + (REASONS[ev.reason] || "invalid") + ".");
        break;
      }
      case "field.timeout": {
        const f = fieldOf(v, ev.field);
        Object.assign(f, { done: false, valid: false, reason: "timeout" });
        f.attempts = Math.max(f.attempts, ev.attempt || f.attempts + 1);
        announce(name + ": the customer took too long.");
        break;
      }
      case "capture.card_complete": v.state = "complete"; v.outcome = v.outcome || "submitting"; announce("Card complete. Sending the payment."); break;
      case "capture.finished":
        if (ev.outcome && ev.outcome !== "card-ready") { v.outcome = ev.outcome; announce((OUTCOMES[ev.outcome] || [ev.outcome])[0] + "."); }
        refresh(v.id);
        break;
      case "payment.result":
        v.outcome = ev.outcome;
        v.payment = ev.payment || { outcome: ev.outcome, reason: ev.reason };
        if (ev.brand) v.brand = ev.brand;
        if (ev.last4) v.last4 = ev.last4;
        announce((OUTCOMES[ev.outcome] || [ev.outcome])[0] + ".");
        refresh(v.id);
        break;
      case "payment.error": announce("The payment could not be sent."); break;
    }
    render();
  }

  // refresh reads the capture's full state (the server's word wins).
  // With adopt, it becomes the capture shown.
  async function refresh(id, adopt) {
    try {
      const v = await api("GET", "/v1/captures/" + encodeURIComponent(id));
      if (adopt || (current && current.id === v.id)) { current = v; render(); }
    } catch (e) { /* the stream goes on; the next event corrects it */ }
  }

  function connect() {
    const url = "/v1/calls/" + encodeURIComponent(callID) + "/events?access_token=" + encodeURIComponent(token);
    source = new EventSource(url);
    for (const t of EVENT_TYPES) {
      source.addEventListener(t, (e) => {
        let data;
        try { data = JSON.parse(e.data); } catch (err) { return; }
        onEvent(t, data);
      });
    }
    source.addEventListener("open", () => problem(""));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        problem("Live progress stopped. Your session may have expired: open the panel again from the CRM.");
      }
    });
  }

  // ---- actions ----

  async function start(e) {
    e.preventDefault();
    const currency = $("currency").value;
    const amount = toMinor($("amount").value, currency);
    const reference = $("reference").value.trim();
    let bad = null;
    setFieldError("amount", amount === null ? "Enter an amount such as 12.50 (at most " + exponent(currency) + " decimals)." : "");
    if (amount === null) bad = bad || $("amount");
    setFieldError("reference", reference === "" ? "Enter a reference." : /\d{12}/.test(reference.replace(/[\s-]/g, "")) ? "A reference must not hold a card number." : "");
    if (reference === "" || /\d{12}/.test(reference.replace(/[\s-]/g, ""))) bad = bad || $("reference");
    if (bad) { bad.focus(); return; }
    const button = $("start-button");
    button.disabled = true;
    problem("");
    try {
      const key = self.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now());
      const v = await apiWithKey("/v1/calls/" + encodeURIComponent(callID) + "/captures", { amount, currency, reference }, key);
      current = v;
      render();
      announce("Secure capture started for " + formatMoney(amount, currency) + ".");
      $("capture-title").focus();
    } catch (err) {
      problem(err.message);
    } finally {
      button.disabled = false;
    }
  }

  async function apiWithKey(path, body, key) {
    const resp = await fetch(path, {
      method: "POST",
      cache: "no-store",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify(body),
    }).catch(() => { throw new Error("The controller cannot be reached."); });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const err = data && data.error ? data.error : {};
      throw new Error(errorText(resp.status, err.code || "", err.message || ""));
    }
    return data;
  }

  function setFieldError(id, text) {
    const input = $(id);
    const el = $(id + "-error");
    el.textContent = text;
    el.hidden = !text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  async function restart(field) {
    if (!current) return;
    try {
      current = await api("POST", "/v1/captures/" + encodeURIComponent(current.id) + "/fields/" + field + "/restart");
      announce("Asking the customer for the " + (FIELD_NAMES[field] || field).toLowerCase() + " again.");
      render();
    } catch (err) {
      problem(err.message);
    }
  }

  async function cancel() {
    if (!current) return;
    try {
      current = await api("POST", "/v1/captures/" + encodeURIComponent(current.id) + "/cancel");
      announce("Capture cancelled.");
      render();
      $("new-capture").hidden || $("new-capture").focus();
    } catch (err) {
      problem(err.message);
    }
  }

  function another() {
    current = null;
    $("start-form").reset();
    render();
    $("amount").focus();
  }

  // ---- start ----

  async function init() {
    $("start-form").addEventListener("submit", start);
    $("cancel").addEventListener("click", cancel);
    $("new-capture").addEventListener("click", another);
    if (!callID || !token) {
      problem("This link is incomplete: open the panel from the CRM's call screen.");
      return;
    }
    try {
      const c = await api("GET", "/v1/calls/" + encodeURIComponent(callID));
      callState = { live: true, bridged: c.bridged };
      if (c.capture_id) await refresh(c.capture_id, true);
    } catch (err) {
      callState = { live: false, bridged: false, ended: true };
      problem(err.message);
    }
    render();
    connect();
  }

  init();
})();
