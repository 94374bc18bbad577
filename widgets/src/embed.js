// The widget document's script: sizing, amounts, live progress, JSON checkout.
// Without it the form still posts to the campaign page's plain HTML route (target=_top).
(function () {
  "use strict";
  var doc = document.documentElement;
  var cfgNode = document.getElementById("donate-config");
  var cfg = cfgNode ? JSON.parse(cfgNode.textContent) : {};
  var M = cfg.messages || {};
  var hash = new URLSearchParams(location.hash.slice(1));
  var parentOrigin = hash.get("o") || "";
  var wid = hash.get("i") || "";
  var form = document.getElementById("donate-form");

  function send(msg) {
    if (!wid || window.parent === window || !/^https?:\/\//.test(parentOrigin)) return;
    msg.id = wid;
    window.parent.postMessage(msg, parentOrigin);
  }
  var last = 0;
  function height() {
    var h = Math.ceil(doc.getBoundingClientRect().height);
    if (h !== last) { last = h; send({ type: "donate:height", height: h }); }
  }
  if (window.ResizeObserver) new ResizeObserver(height).observe(doc);
  height();
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") send({ type: "donate:escape" });
  });
  window.addEventListener("message", function (e) {
    if (e.origin !== parentOrigin || e.source !== window.parent || !e.data || e.data.id !== wid) return;
    if (e.data.type === "donate:focus-last") {
      var all = document.querySelectorAll("a[href],button,input:not([type=hidden]):not([disabled]),textarea");
      if (all.length) all[all.length - 1].focus();
    }
  });

  var color = doc.getAttribute("data-color");
  if (/^#[0-9a-fA-F]{6}$/.test(color || "")) {
    var n = parseInt(color.slice(1), 16);
    var lum = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
    doc.style.setProperty("--c", color);
    doc.style.setProperty("--t", lum > 150 ? "#111" : "#fff");
  }

  var money = new Intl.NumberFormat(cfg.lang === "en" ? "en-GB" : "fr-FR",
    { style: "currency", currency: cfg.currency || "EUR" });
  function fmt(minor) { return money.format(minor / 100); }
  function plural(n) {
    var many = cfg.lang === "fr" ? n > 1 : n !== 1;
    return (many ? M.donors : M.donor).replace(/\d+/, n);
  }

  // Live progress: the page is cached for a second, the totals endpoint too.
  function refresh() {
    if (document.hidden || !cfg.campaign) return;
    fetch("/api/v1/campaigns/" + cfg.campaign, { credentials: "omit" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (c) {
      if (!c) return;
      var q = function (s) { return document.querySelector(s); };
      if (q("[data-raised]")) q("[data-raised]").textContent = fmt(c.raised_minor);
      if (q("[data-donors]")) q("[data-donors]").textContent = plural(c.donors_count);
      if (c.goal_minor && q("[data-fill]")) {
        var p = Math.min(100, Math.floor(c.raised_minor * 100 / c.goal_minor));
        q("[data-fill]").style.width = p + "%";
        q("[data-percent]").textContent = p + " %";
        q("[role=progressbar]").setAttribute("aria-valuenow", p);
      }
    }).catch(function () {});
  }
  setInterval(refresh, cfg.poll_ms || 15000);
  document.addEventListener("visibilitychange", refresh);
  if (!form) return;

  function parseAmount(text) {
    // "12,50", "12.50", "1 000,50", "12 €": what people type in French and English.
    var t = String(text).replace(/[\s\u00a0\u202f€]/g, "");
    if (!/^\d{1,9}([.,]\d{1,2})?$/.test(t)) return null;
    var parts = t.split(/[.,]/);
    return parseInt(parts[0], 10) * 100 + (parts[1] ? parseInt((parts[1] + "0").slice(0, 2), 10) : 0);
  }
  function val(name) {
    var f = form.elements[name];
    return f ? (f.type === "checkbox" ? f.checked : String(f.value).trim()) : "";
  }
  function chosenAmount() {
    var choice = val("amount");
    if (choice && choice !== "other") return parseInt(choice, 10);
    if (val("amount_other")) return parseAmount(val("amount_other"));
    var tier = (cfg.tiers || {})[val("tier")];
    return tier || null;
  }

  var receipt = form.elements.wants_receipt;
  var address = ["address_line1", "postal_code", "city", "country"];
  function toggleAddress() {
    address.forEach(function (name) {
      var f = form.elements[name];
      if (f) f.closest(".field").hidden = !receipt.checked;
    });
  }
  if (receipt) { receipt.addEventListener("change", toggleAddress); toggleAddress(); }

  var taxLine = document.querySelector("[data-tax-live]");
  function updateTax() {
    var a = chosenAmount();
    if (!taxLine || !cfg.bps || !a) return;
    taxLine.textContent = M.tax.replace("%(gift)s", fmt(a)).replace("%(cost)s", fmt(a - Math.floor(a * cfg.bps / 10000)));
  }
  form.addEventListener("input", updateTax);
  form.addEventListener("change", updateTax);
  var other = form.elements.amount_other;
  if (other) other.addEventListener("input", function () {
    var o = document.getElementById("f-amount-other");
    if (o) o.checked = true;
  });

  var summary = document.getElementById("errors");
  function clearErrors() {
    form.querySelectorAll(".js-error").forEach(function (p) { p.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (f) {
      f.removeAttribute("aria-invalid");
    });
    summary.textContent = "";
    summary.hidden = true;
  }
  function showErrors(errors) {
    var first = null;
    var items = [];
    Object.keys(errors).forEach(function (name) {
      var field = form.elements[name === "amount" ? "amount_other" : name];
      if (field && field.length && !field.tagName) field = field[0];
      if (field && field.tagName) {
        var p = document.createElement("p");
        p.className = "error js-error";
        p.id = "js-" + name + "-error";
        p.textContent = errors[name];
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-describedby", p.id);
        (field.closest(".field,.check,fieldset") || form).appendChild(p);
        first = first || field;
      }
      items.push(errors[name]);
    });
    summary.hidden = false;
    summary.textContent = items.join(" ");
    if (first) first.focus();
  }

  function validate() {
    var errors = {};
    var a = chosenAmount();
    if (a === null) errors.amount = M.amount_format;
    else if (a < cfg.min) errors.amount = M.amount_min;
    else if (a > cfg.max) errors.amount = M.amount_max;
    if (val("tip") && parseAmount(val("tip")) === null) errors.tip = M.tip;
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(val("email"))) errors.email = M.email;
    if (val("wants_receipt")) {
      ["first_name", "last_name", "address_line1", "postal_code", "city"].forEach(function (k) {
        if (!val(k)) errors[k] = M.required_receipt;
      });
    }
    return errors;
  }

  var button = form.querySelector("button[type=submit]");
  var key = null;
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearErrors();
    var errors = validate();
    if (Object.keys(errors).length) { showErrors(errors); return; }
    var body = {
      campaign_id: cfg.campaign,
      amount_minor: chosenAmount(),
      currency: cfg.currency,
      frequency: val("frequency") || "once",
      donor: {
        email: val("email"), first_name: val("first_name"), last_name: val("last_name"),
        address_line1: val("address_line1"), postal_code: val("postal_code"), city: val("city"),
        country: (val("country") || "FR").toUpperCase()
      },
      wants_receipt: !!val("wants_receipt"),
      anonymous: !!val("anonymous"),
      hide_amount: !!val("hide_amount"),
      tip_minor: val("tip") ? parseAmount(val("tip")) : 0,
      cover_fees: !!val("cover_fees"),
      locale: cfg.lang
    };
    if (val("tier")) body.tier_id = val("tier");
    if (val("message")) body.message = val("message");
    var serial = JSON.stringify(body);
    // One key per distinct form content: a double click never opens two checkouts.
    if (!key || key.body !== serial) key = { body: serial, id: crypto.randomUUID() };
    button.disabled = true;
    button.textContent = M.sending;
    fetch("/api/v1/checkouts", {
      method: "POST", credentials: "omit", body: serial,
      headers: { "Content-Type": "application/json", "Idempotency-Key": key.id }
    }).then(function (r) {
      return r.json().then(function (data) { return { status: r.status, data: data }; });
    }).then(function (res) {
      if (res.status === 201 && /^https?:\/\//.test(res.data.checkout_url)) {
        var url = res.data.checkout_url;
        button.textContent = M.redirecting;
        var link = document.createElement("a");
        link.href = url;
        link.target = "_top";
        link.className = "continue";
        link.textContent = M["continue"];
        button.after(link);
        // Hosted checkouts (3-D Secure, bank redirects) need the top-level window.
        try { window.top.location.href = url; } catch (err) { link.focus(); }
        return;
      }
      var errs = {};
      var map = M.fields || {};
      Object.keys(res.data.errors || {}).forEach(function (k) {
        var name = map[k] ? map[k][0] : k.replace(/^donor\./, "");
        errs[name] = map[k] ? map[k][1] : M.check;
      });
      if (!Object.keys(errs).length) errs.form = res.status === 429 ? M.busy : res.status >= 500 ? M.unavailable : M.check;
      button.disabled = false;
      button.textContent = M.give;
      showErrors(errs);
    }).catch(function () {
      button.disabled = false;
      button.textContent = M.give;
      showErrors({ form: M.unavailable });
    });
  });
})();
