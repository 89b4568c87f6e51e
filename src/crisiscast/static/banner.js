/*! crisiscast emergency banner (Apache-2.0)
 *
 * Embed on every page with ONE tag, as early in <body> as you like:
 *
 *   <script src="https://alerts.example-hospital.org/banner.js" async></script>
 *
 * The script polls the banner feed on its own origin (default "/banner.json"): every 60 s
 * while there is no banner, every 10 s while one is shown, and at once when the tab becomes
 * visible again. It shows the headline, instruction and a "More information" link at the top
 * of the page, in a role="alert" live region that exists (empty) before any content arrives,
 * so screen readers announce a new banner without focus moving. It only touches the DOM when
 * the banner changes (no repeated announcements), never animates or scrolls, wraps on a
 * phone, and removes the banner when it is cleared or its expires_at passes.
 *
 * Options, as attributes of the script tag:
 *   data-feed="/banner-exercise.json"  another feed, relative to the script's own URL
 *   data-poll-ms="500"                 poll interval in ms (both idle and active)
 *   data-lang="es"                     show this translation when the banner has it
 *                                      (default: the page's <html lang>)
 *
 * Colours (text on background) and their WCAG 2.x contrast ratios — all pass AA (>= 4.5:1)
 * for normal-size text, and the link and the Hide button use the same text colour:
 *   Extreme   #FFFFFF on #8B0000   10.01:1
 *   Severe    #FFFFFF on #B3261E    6.54:1
 *   Moderate  #000000 on #FFB000   11.46:1
 *   Minor     #FFFFFF on #0B5394    7.84:1
 *   Unknown   #FFFFFF on #333333   12.63:1
 *   Exercise  #FFFFFF on #4A148C   11.86:1  (any severity; plus a label below)
 *   Label     #000000 on #FFFFFF   21.00:1  ("EXERCISE — this is a drill")
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.crisiscastBanner) {
    return; // loaded twice, or as a module/inline copy without a URL
  }

  // The colour pairs above, as data (kept in sync by the test suite, which checks contrast).
  var COLOURS = {
    Extreme: { fg: "#FFFFFF", bg: "#8B0000" },
    Severe: { fg: "#FFFFFF", bg: "#B3261E" },
    Moderate: { fg: "#000000", bg: "#FFB000" },
    Minor: { fg: "#FFFFFF", bg: "#0B5394" },
    Unknown: { fg: "#FFFFFF", bg: "#333333" },
    Exercise: { fg: "#FFFFFF", bg: "#4A148C" },
    Label: { fg: "#000000", bg: "#FFFFFF" }
  };
  var WORDS = {
    en: { more: "More information", hide: "Hide", drill: "EXERCISE — this is a drill, not a real emergency" },
    es: { more: "Más información", hide: "Ocultar", drill: "SIMULACRO — esto es un ejercicio, no una emergencia real" }
  };
  var IDLE_MS = 60000;
  var ACTIVE_MS = 10000;
  var MAX_TIMER_MS = 2147483647;

  var pollMs = parseInt(script.getAttribute("data-poll-ms") || "", 10);
  var feedUrl = new URL(script.getAttribute("data-feed") || "/banner.json", script.src).href;
  var wantedLang = (script.getAttribute("data-lang") || document.documentElement.lang || "en")
    .toLowerCase().split("-")[0];

  var root, region, hideButton;
  var shownKey = "none";
  var pollTimer = null;
  var expiryTimer = null;

  function css() {
    var id = "#crisiscast-banner";
    return [
      id + "{all:initial;display:block;box-sizing:border-box;width:100%;margin:0;position:relative;" +
        "z-index:2147483647;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;" +
        "font-size:max(16px,1.125rem);line-height:1.45;text-align:left}",
      id + " *{box-sizing:border-box;font-family:inherit;color:inherit;animation:none;transition:none}",
      id + ".cc-active{padding:12px 16px;border-bottom:4px solid currentColor}",
      id + " .cc-inner{max-width:72rem;margin:0 auto;display:flex;flex-wrap:wrap;gap:8px 16px;" +
        "align-items:flex-start}",
      id + " .cc-region{flex:1 1 16rem;min-width:0;overflow-wrap:anywhere;word-break:normal}",
      id + " .cc-label{display:inline-block;margin:0 0 6px;padding:2px 8px;border-radius:3px;" +
        "font-weight:700;letter-spacing:.03em;background:" + COLOURS.Label.bg + ";color:" +
        COLOURS.Label.fg + "}",
      id + " .cc-headline{display:block;margin:0;font-weight:700;font-size:max(18px,1.25rem)}",
      id + " .cc-instruction{display:block;margin:4px 0 0}",
      id + " .cc-link{display:block;margin:6px 0 0}",
      id + " a{color:inherit;text-decoration:underline;font-weight:700}",
      id + " a:focus-visible," + id + " button:focus-visible{outline:3px solid currentColor;outline-offset:2px}",
      id + " .cc-hide{flex:0 0 auto;min-height:44px;min-width:44px;padding:6px 14px;margin:0;cursor:pointer;" +
        "font-size:max(16px,1rem);background:transparent;border:2px solid currentColor;border-radius:4px}",
      id + " [hidden]{display:none}"
    ].join("\n");
  }

  function build() {
    var style = document.createElement("style");
    style.id = "crisiscast-banner-style";
    style.textContent = css();
    (document.head || document.documentElement).appendChild(style);

    root = document.createElement("div");
    root.id = "crisiscast-banner";
    var inner = document.createElement("div");
    inner.className = "cc-inner";
    // The live region is in the page (empty, zero height) before any banner arrives.
    region = document.createElement("div");
    region.className = "cc-region";
    region.setAttribute("role", "alert");
    region.setAttribute("aria-live", "assertive");
    region.setAttribute("aria-atomic", "true");
    // The Hide control sits outside the alert region (WCAG 2.2.2); it hides this banner only.
    hideButton = document.createElement("button");
    hideButton.type = "button";
    hideButton.className = "cc-hide";
    hideButton.hidden = true;
    hideButton.addEventListener("click", clear);
    inner.appendChild(region);
    inner.appendChild(hideButton);
    root.appendChild(inner);
    document.body.insertBefore(root, document.body.firstChild);
  }

  function pick(doc) {
    var t = doc.translations && doc.translations[wantedLang];
    var lang = String(doc.language || "en").split("+")[0];
    if (t && wantedLang !== lang) {
      return { lang: wantedLang, headline: t.headline, instruction: t.instruction, web: t.web || doc.web };
    }
    return { lang: lang, headline: doc.headline, instruction: doc.instruction, web: doc.web };
  }

  function expiresAtMs(doc) {
    var ms = doc.expires_at ? Date.parse(doc.expires_at) : NaN;
    return isNaN(ms) ? null : ms;
  }

  function isActive(doc) {
    var ms = expiresAtMs(doc);
    return doc.status === "active" && (ms === null || ms > Date.now());
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    el.className = className;
    el.textContent = text;
    return el;
  }

  function clear() {
    region.textContent = "";
    hideButton.hidden = true;
    root.className = "";
    root.removeAttribute("data-severity");
    root.style.removeProperty("background-color");
    root.style.removeProperty("color");
  }

  function show(doc) {
    var text = pick(doc);
    var words = WORDS[text.lang] || WORDS.en;
    var colours = doc.exercise ? COLOURS.Exercise : COLOURS[doc.severity] || COLOURS.Unknown;
    region.textContent = "";
    region.setAttribute("lang", text.lang);
    if (doc.exercise) {
      region.appendChild(element("span", "cc-label", words.drill));
    }
    region.appendChild(element("strong", "cc-headline", text.headline || ""));
    if (text.instruction) {
      region.appendChild(element("span", "cc-instruction", text.instruction));
    }
    if (typeof text.web === "string" && /^https?:\/\//i.test(text.web)) {
      var p = element("span", "cc-link", "");
      var a = element("a", "", words.more);
      a.href = text.web;
      p.appendChild(a);
      region.appendChild(p);
    }
    hideButton.textContent = words.hide;
    hideButton.hidden = false;
    root.className = "cc-active" + (doc.exercise ? " cc-exercise" : "");
    root.setAttribute("data-severity", doc.exercise ? "Exercise" : String(doc.severity || "Unknown"));
    root.style.setProperty("background-color", colours.bg, "important");
    root.style.setProperty("color", colours.fg, "important");
  }

  function apply(doc) {
    var active = isActive(doc);
    var key = active
      ? JSON.stringify([doc.id, doc.severity, doc.headline, doc.instruction, doc.web, doc.exercise, doc.expires_at])
      : "none";
    // Only a change touches the DOM, so a screen reader announces each banner once.
    // A banner the reader hid stays hidden until it changes.
    if (key !== shownKey) {
      if (active) {
        show(doc);
      } else {
        clear();
      }
      shownKey = key;
    }
    if (expiryTimer !== null) {
      clearTimeout(expiryTimer);
      expiryTimer = null;
    }
    var expiry = active ? expiresAtMs(doc) : null;
    if (expiry !== null) {
      expiryTimer = setTimeout(function () {
        apply(doc);
      }, Math.min(Math.max(expiry - Date.now(), 0) + 50, MAX_TIMER_MS));
    }
    return active;
  }

  function schedule(active) {
    if (pollTimer !== null) {
      clearTimeout(pollTimer);
    }
    var ms = pollMs > 0 ? pollMs : active ? ACTIVE_MS : IDLE_MS;
    pollTimer = setTimeout(poll, ms);
  }

  function poll() {
    pollTimer = null;
    fetch(feedUrl, { cache: "no-cache", credentials: "omit", mode: "cors" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("banner feed answered " + response.status);
        }
        return response.json();
      })
      .then(function (doc) {
        schedule(apply(doc || {}));
      })
      .catch(function () {
        // Keep what is shown (its own expiry still removes it) and try again later.
        schedule(shownKey !== "none");
      });
  }

  function start() {
    build();
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && pollTimer !== null) {
        clearTimeout(pollTimer);
        poll();
      }
    });
    poll();
  }

  window.crisiscastBanner = { feed: feedUrl, refresh: poll };
  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
