// WhatsApp simulator phone page: posts what the customer types and polls the thread.
// Hand-written, no framework; builds the DOM with textContent only.
"use strict";
(function () {
  const root = document.getElementById("chat");
  if (!root) return;
  const waId = root.dataset.waId;
  const thread = document.getElementById("thread");
  const form = document.getElementById("compose");
  const input = document.getElementById("text");
  const presence = document.getElementById("presence");
  const presenceText = presence ? presence.textContent : "";
  const api = "/simulator/api/customers/" + encodeURIComponent(waId);
  const ticks = { pending: "\u{1F553}", accepted: "\u{1F553}", sent: "\u2713", delivered: "\u2713\u2713", read: "\u2713\u2713", failed: "\u26A0" };

  function clock(unix) {
    const s = ((unix % 86400) + 86400) % 86400;
    const pad = (n) => String(n).padStart(2, "0");
    return pad(Math.floor(s / 3600)) + ":" + pad(Math.floor((s % 3600) / 60));
  }

  function bubble(item) {
    const li = document.createElement("li");
    li.className = "msg " + (item.direction === "inbound" ? "mine" : "theirs");
    li.dataset.seq = item.seq;
    if (item.kind !== "text") {
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = item.kind;
      li.appendChild(kind);
    }
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = item.text || "";
    li.appendChild(text);
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.appendChild(document.createTextNode(clock(item.timestamp) + " "));
    const tick = document.createElement("span");
    tick.className = "tick " + item.state;
    tick.title = item.state;
    tick.textContent = ticks[item.state] || "";
    meta.appendChild(tick);
    if (item.error_code) {
      const err = document.createElement("span");
      err.className = "err";
      err.textContent = " error " + item.error_code;
      meta.appendChild(err);
    }
    li.appendChild(meta);
    return li;
  }

  function render(data) {
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    const fresh = document.createDocumentFragment();
    data.items.forEach((item) => fresh.appendChild(bubble(item)));
    thread.replaceChildren(fresh);
    if (presence) {
      presence.textContent = data.customer.business_typing ? "typing\u2026" : presenceText;
    }
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  }

  let busy = false;
  async function poll() {
    if (busy) return;
    busy = true;
    try {
      const response = await fetch(api + "/thread", { headers: { Accept: "application/json" } });
      if (response.ok) render(await response.json());
    } catch (_) {
      // The simulator restarted or the network blinked: try again on the next tick.
    } finally {
      busy = false;
    }
  }

  async function post(body) {
    await fetch(api + "/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    poll();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.value : "text";
    const text = input.value.trim();
    if (action === "photo") {
      post({ image: { caption: text || null } });
    } else if (action === "location") {
      post({ location: { latitude: 51.507351, longitude: -0.127758, name: "Home", address: "Delivery address pin" } });
    } else if (text) {
      post({ text: text });
    } else {
      return;
    }
    input.value = "";
    input.focus();
  });

  window.scrollTo(0, document.body.scrollHeight);
  setInterval(poll, 1000);
})();
