// Veilbox inbox: live updates over server-sent events.
//
// The page works without this script (forms post and redirect). With it, the page
// listens to /inbox/events; events carry ids only, and for anything shown here the
// script fetches the server-rendered fragment and swaps it in.

const main = document.getElementById("inbox");
if (main) {
  startLive(main);
  enhanceForms();
  enhanceReveals(main);
  scrollThreadToEnd(true);
}

function startLive(main) {
  const conversation = main.dataset.conversation || "";
  const listQuery = main.dataset.list || "";
  const requested = new Map(); // message id -> latest request number
  let listTimer = null;
  let closedTimer = null;

  const source = new EventSource("/inbox/events");
  document.body.dataset.live = "connecting";

  let connectedBefore = false;
  source.addEventListener("open", () => {
    document.body.dataset.live = "on";
    // After a reconnect, events sent while disconnected are lost: catch up once.
    if (connectedBefore) catchUp();
    connectedBefore = true;
  });
  source.addEventListener("error", () => {
    document.body.dataset.live = "off";
    // A closed stream usually means the session ended: the reload shows the sign-in page.
    if (source.readyState === EventSource.CLOSED && closedTimer === null) {
      closedTimer = setTimeout(() => location.reload(), 5000);
    }
  });
  source.addEventListener("message", (event) => {
    const data = parse(event.data);
    if (!data) return;
    if (conversation && data.conversation_id === conversation) {
      refreshMessage(data.message_id);
    }
    scheduleList();
  });
  source.addEventListener("conversation", (event) => {
    if (parse(event.data)) scheduleList();
  });
  source.addEventListener("reload", () => {
    if (hasDraft()) {
      scheduleList();
    } else {
      location.reload();
    }
  });

  async function refreshMessage(messageId) {
    if (!/^[A-Za-z0-9_-]+$/.test(messageId)) return;
    const number = (requested.get(messageId) || 0) + 1;
    requested.set(messageId, number);
    const url = `/inbox/c/${encodeURIComponent(conversation)}/m/${encodeURIComponent(messageId)}?${listQuery}`;
    const node = await fetchFragment(url);
    // A later request for the same message overtook this one: keep the newer state.
    if (!node || requested.get(messageId) !== number) return;
    const existing = document.getElementById(`m-${messageId}`);
    if (existing) {
      existing.replaceWith(node);
      return;
    }
    const list = document.getElementById("messages");
    if (!list) return;
    const nearEnd = isNearEnd();
    const sentAt = Number(node.dataset.sentAt || 0);
    const later = Array.from(list.children).find((li) => Number(li.dataset.sentAt || 0) > sentAt);
    list.insertBefore(node, later || null);
    node.classList.add("arrived");
    if (nearEnd) scrollThreadToEnd(false);
  }

  async function catchUp() {
    scheduleList();
    if (!conversation) return;
    try {
      const response = await fetch(location.href, { credentials: "same-origin", redirect: "error" });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("messages");
      const current = document.getElementById("messages");
      if (fresh && current) {
        const nearEnd = isNearEnd();
        current.replaceChildren(...Array.from(fresh.children));
        if (nearEnd) scrollThreadToEnd(false);
      }
    } catch {
      // Still offline: the next reconnect tries again.
    }
  }

  function scheduleList() {
    if (listTimer !== null) return;
    listTimer = setTimeout(async () => {
      listTimer = null;
      const extra = conversation ? `&c=${encodeURIComponent(conversation)}` : "";
      const node = await fetchFragment(`/inbox/list?${listQuery}${extra}`);
      const current = document.getElementById("list-body");
      if (node && current) {
        const scroller = current.closest(".list");
        const top = scroller ? scroller.scrollTop : 0;
        current.replaceWith(node);
        if (scroller) scroller.scrollTop = top;
      }
    }, 250);
  }
}

async function fetchFragment(url) {
  try {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      redirect: "error",
    });
    if (!response.ok) return null;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    return template.content.firstElementChild;
  } catch {
    return null;
  }
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function hasDraft() {
  const box = document.getElementById("reply-body");
  return Boolean(box && box.value.trim());
}

function threadScroller() {
  return document.getElementById("messages");
}

function isNearEnd() {
  const scroller = threadScroller();
  if (!scroller) return false;
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
}

function scrollThreadToEnd(initial) {
  const scroller = threadScroller();
  if (!scroller) return;
  scroller.scrollTop = scroller.scrollHeight;
  if (initial && window.matchMedia("(max-width: 700px)").matches) {
    const last = scroller.lastElementChild;
    if (last) last.scrollIntoView({ block: "nearest" });
  }
}

function enhanceForms() {
  // One submit per click: a second press while the first is in flight would post twice.
  // Dialog forms only close their dialog: they stay usable.
  for (const form of document.querySelectorAll("form:not([method=dialog])")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) {
        setTimeout(() => {
          button.disabled = true;
        }, 0);
      }
    });
  }
  const box = document.getElementById("reply-body");
  if (box) {
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && box.form) {
        event.preventDefault();
        box.form.requestSubmit();
      }
    });
  }
}

// Reveals. Hidden values are labels in the page; the value itself is not there. A click
// on a revealable label asks for a reason, the server authorises and audits the reveal
// and answers with the value and how long it may be shown; then the label comes back.
function enhanceReveals(main) {
  const conversation = main.dataset.conversation;
  if (!conversation) return;
  revealWithReason("button.masked.revealable", async (button, reason) => {
    try {
      const response = await fetch(`/api/v1/conversations/${encodeURIComponent(conversation)}/reveals`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
        body: JSON.stringify({ ref: button.dataset.ref, ...reason }),
      });
      const data = await response.json().catch(() => null);
      if (response.ok && data) {
        showFor(button, data.value, data.expires_in_seconds);
        return null;
      }
      if (response.status === 403) return "You may not reveal this kind of value here.";
      if (data && data.error) return data.error.replace(/^bad request: /, "");
      return "The value could not be revealed.";
    } catch (_) {
      return "Veilbox could not be reached.";
    }
  });
}

// The one reveal dialog, for values and media alike: a click on a `selector` button asks
// for a reason; on "Reveal", `reveal(button, {reason, note})` runs and answers null when
// done, or the problem to show, and then the dialog asks again.
function revealWithReason(selector, reveal) {
  const dialog = document.getElementById("reveal-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const form = dialog.querySelector("form");
  const error = dialog.querySelector(".error");
  let pending = null;

  document.addEventListener("click", (event) => {
    const button = event.target.closest(selector);
    if (!button || button.dataset.revealed === "1") return;
    pending = button;
    form.reset();
    error.hidden = true;
    dialog.showModal();
  });

  dialog.addEventListener("close", async () => {
    const button = pending;
    pending = null;
    if (!button || dialog.returnValue !== "reveal") return;
    const checked = form.querySelector("input[name=reason]:checked");
    const problem = await reveal(button, {
      reason: checked ? checked.value : "",
      note: form.querySelector("input[name=note]").value,
    });
    if (problem) {
      pending = button;
      error.textContent = problem;
      error.hidden = false;
      dialog.showModal();
    }
  });
}

function showFor(button, value, seconds) {
  const label = button.textContent;
  button.textContent = value;
  button.dataset.revealed = "1";
  button.classList.add("revealed");
  setTimeout(() => {
    button.textContent = label;
    delete button.dataset.revealed;
    button.classList.remove("revealed");
  }, Math.max(1, Number(seconds) || 60) * 1000);
}

function csrfToken() {
  const field = document.querySelector("input[name=csrf]");
  return field ? field.value : "";
}

// ---------------------------------------------------------------------------------------
// Leak prevention and blind placeholders (composer).
//
// As the agent types, the draft is checked (debounced) by POST <#dlp-status data-check>;
// the verdict names kinds and character spans, never values, and is shown under the box:
// blocks in red, warnings with the confirmation checkbox. Placeholder buttons insert
// {{customer.name}} and friends at the cursor; the server fills them in at send time.
// The server checks again on send: this is only a preview.

(function composerChecks() {
  const box = document.getElementById("reply-body");
  const status = document.getElementById("dlp-status");
  if (!box || !status || !box.form) return;
  const form = box.form;
  const csrf = form.elements.namedItem("csrf");
  const confirm = form.querySelector(".dlp-confirm");
  const override = form.querySelector(".dlp-override");
  if (confirm) confirm.hidden = true;
  if (override) override.hidden = true;

  for (const button of form.querySelectorAll("button[data-placeholder]")) {
    button.addEventListener("click", () => {
      const text = button.dataset.placeholder || "";
      const start = box.selectionStart ?? box.value.length;
      const end = box.selectionEnd ?? start;
      box.value = box.value.slice(0, start) + text + box.value.slice(end);
      box.focus();
      box.selectionStart = box.selectionEnd = start + text.length;
      schedule();
    });
  }

  let timer = null;
  let asked = 0;
  function schedule() {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(run, 400);
  }
  box.addEventListener("input", schedule);

  async function run() {
    timer = null;
    const body = box.value;
    const mine = ++asked;
    if (!body.trim()) {
      show({ verdict: "allow", findings: [], can_override: false }, body);
      return;
    }
    try {
      const response = await fetch(status.dataset.check, {
        method: "POST",
        credentials: "same-origin",
        redirect: "error",
        headers: {
          "Content-Type": "application/json",
          "X-CSRF-Token": csrf ? csrf.value : "",
        },
        body: JSON.stringify({ body }),
      });
      if (!response.ok || mine !== asked) return;
      show(await response.json(), body);
    } catch {
      // Offline or signed out: the check on send still applies.
    }
  }

  function show(result, body) {
    status.replaceChildren();
    status.dataset.verdict = result.verdict;
    const flagged = (result.findings || []).filter((f) => f.level !== "allow");
    if (confirm) confirm.hidden = result.verdict !== "warn";
    if (override) override.hidden = !(result.verdict === "block" && result.can_override);
    if (flagged.length === 0) return;
    const chars = Array.from(body);
    const list = document.createElement("ul");
    for (const f of flagged) {
      const item = document.createElement("li");
      item.className = `dlp-${f.level}`;
      // The agent's own draft text, shown back to them only, so they find what to remove.
      const excerpt = chars.slice(f.start, f.end).join("");
      item.textContent = `${f.level === "block" ? "Blocked" : "Check"}: ${f.kind} “${excerpt}”: ${f.reason}`;
      list.append(item);
    }
    status.append(list);
  }
})();

// ---- Media reveals (crate::media) -------------------------------------------------------
// The thread shows a media message's type, size and, for images, a blurred preview of a few
// pixels; the original stays sealed on the server. "Reveal original" asks for a reason in
// the same dialog as text reveals; the server authorises (kind MEDIA), audits and answers
// with the bytes, which are shown from an object URL for the configured time, then removed
// and the URL revoked.
(function enhanceMediaReveals() {
  const main = document.getElementById("inbox");
  const conversation = main && main.dataset.conversation;
  if (!conversation) return;
  revealWithReason("button.media-reveal", async (button, reason) => {
    const path = `/api/v1/conversations/${encodeURIComponent(conversation)}` +
      `/media/${encodeURIComponent(button.dataset.message)}/reveals`;
    try {
      const response = await fetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
        body: JSON.stringify(reason),
      });
      if (response.ok) {
        const seconds = Number(response.headers.get("x-reveal-expires-in")) ||
          Number(main.dataset.revealSeconds) || 60;
        showMediaFor(button, await response.blob(), seconds);
        return null;
      }
      if (response.status === 403) return "You may not reveal media here.";
      const data = await response.json().catch(() => null);
      if (data && data.error) return data.error.replace(/^bad request: /, "");
      return "The media could not be revealed.";
    } catch (_) {
      return "Veilbox could not be reached.";
    }
  });
})();

function showMediaFor(button, blob, seconds) {
  const url = URL.createObjectURL(blob);
  const holder = document.createElement("div");
  holder.className = "media-revealed";
  if (blob.type.startsWith("image/")) {
    const img = document.createElement("img");
    img.src = url;
    img.alt = "Revealed media";
    holder.appendChild(img);
  } else {
    const link = document.createElement("a");
    link.href = url;
    link.download = "";
    link.textContent = "Download the revealed file";
    holder.appendChild(link);
  }
  const note = document.createElement("p");
  note.className = "hint";
  note.textContent = `Shown for ${Math.round(seconds)} seconds; the reveal is in the audit log.`;
  holder.appendChild(note);
  button.dataset.revealed = "1";
  button.hidden = true;
  button.after(holder);
  setTimeout(() => {
    holder.remove();
    URL.revokeObjectURL(url);
    delete button.dataset.revealed;
    button.hidden = false;
  }, Math.max(1, seconds) * 1000);
}
// ---- end of media reveals ---------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Quick replies (composer).
//
// The picker (form.quick-replies) sends the chosen quick reply as it is without this
// script. With it, "Insert into reply" puts the body, placeholders included, into the reply
// box at the cursor, to edit and send like a typed reply; the live check above runs on it.
// The body holds placeholders only: the server fills them in at send time.

(function quickReplies() {
  const picker = document.querySelector("form.quick-replies");
  const box = document.getElementById("reply-body");
  if (!picker || !box) return;
  const select = picker.querySelector("select[name=quick_reply]");
  const insert = picker.querySelector("button.quick-insert");
  if (!select || !insert) return;
  insert.hidden = false;
  insert.addEventListener("click", () => {
    const chosen = select.selectedOptions[0];
    const text = chosen ? chosen.dataset.body || "" : "";
    if (!text) return;
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? start;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = start + text.length;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
