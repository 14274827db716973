// The console works without this file; it adds three conveniences. It never sees the API token:
// the session cookie is HttpOnly.
"use strict";

// Sign-in: the browser's time zone, so the pages show times in it.
for (const field of document.querySelectorAll("[data-browser-time-zone]")) {
  field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

// The disconnect dialog comes from the server already open (so it shows without this script);
// here it becomes modal: focus kept inside, Escape closes it.
const dialog = document.querySelector("dialog[data-open-on-load]");
if (dialog) {
  dialog.close();
  dialog.showModal();
  dialog.addEventListener("close", () => {
    const url = new URL(window.location.href);
    url.searchParams.delete("disconnect");
    window.history.replaceState(null, "", url);
  });
  for (const link of dialog.querySelectorAll("[data-closes-dialog]")) {
    link.addEventListener("click", (event) => { event.preventDefault(); dialog.close(); });
  }
}

// A disconnect in progress: its region is asked for again until the disconnect has ended.
async function follow(region) {
  const url = region.dataset.poll;
  if (!url) return;
  const delay = region.dataset.state === "stalled" ? 5000 : 500;
  await new Promise((resolve) => setTimeout(resolve, delay));
  const response = await fetch(url, { headers: { Accept: "text/html" } });
  if (response.redirected) { window.location.assign(response.url); return; }
  if (!response.ok) { setTimeout(() => follow(region), 2000); return; }
  const holder = document.createElement("div");
  holder.innerHTML = await response.text();
  const next = holder.querySelector("#progress");
  if (!next) return;
  region.replaceWith(next);
  follow(next);
}
const progress = document.querySelector("#progress[data-poll]");
if (progress) follow(progress);
