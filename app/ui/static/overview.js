// Overview: while Weft works, show the progress of its jobs and reload when they are done.
"use strict";
(() => {
  const region = document.getElementById("work");
  if (!region) return;
  const url = region.dataset.progressUrl;
  const list = region.querySelector("ul.work");

  function line(w) {
    const li = document.createElement("li");
    let text = w.words;
    if (w.status === "queued") text += ": waiting to start";
    else if (w.percent !== null) text += `: ${w.percent}%`;
    else text += ": started";
    li.textContent = text + " ";
    if (w.percent !== null) {
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = w.percent;
      bar.textContent = `${w.percent}%`;
      li.appendChild(bar);
    }
    return li;
  }

  async function poll() {
    try {
      const state = await Weft.getJSON(url);
      if (!state.busy) { window.location.reload(); return; }
      list.replaceChildren(...state.work.map(line));
    } catch (error) {
      list.replaceChildren(Object.assign(document.createElement("li"), {
        textContent: `Progress could not be read (${error.message}); reload the page to try again.`,
      }));
      return;
    }
    window.setTimeout(poll, 2000);
  }
  window.setTimeout(poll, 2000);
})();
