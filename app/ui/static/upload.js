// The upload screen: send the form, then follow the upload's stages until its report.
"use strict";
(() => {
  const section = document.getElementById("upload-progress");
  const form = document.getElementById("upload-form");
  const project = section.dataset.project;
  const api = `/ui/api/p/${encodeURIComponent(project)}/uploads`;
  const POLL_MS = 700;
  const byId = (id) => document.getElementById(id);
  const value = (id) => byId(id).value.trim();
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  // an upload named in the address (a reload, or a link from the earlier uploads)
  const asked = new URLSearchParams(window.location.search).get("source");

  // ---- errors in words ------------------------------------------------------------------
  const HINTS = [
    [/post it\s+to \/sessions/i,
     "This looks like a meeting's chat or transcript. Choose “This is a meeting's chat or " +
     "transcript”, give the meeting's name, and upload it again."],
    [/Batch files go to \/uploads/i,
     "This is not a chat or transcript Weft can read. If it holds one story per row, choose " +
     "“A file of narratives” and upload it again."],
    [/framework definition: import it/i,
     "This is a SenseMaker framework definition on its own. Choose “A file of narratives”, " +
     "pick the SenseMaker data file, and add this one as its framework definition."],
    [/send its framework definition/i,
     "This is a SenseMaker data file: add its framework definition (JSON) under “Files that " +
     "go with it” and upload again."],
    [/more than \d+ rows/i, "The file is longer than Weft reads at once: split it into smaller files."],
    [/no narratives|empty|no text column|binary/i,
     "Weft found no stories it could read in this file. Check it is the export itself " +
     "(not a shortcut or a different file) and that it has a column or lines of text."],
  ];
  const FIELDS = { name: "Meeting name", held_on: "Date of the meeting",
    started_at: "Recording started at", timezone: "Time zone", sheet: "Sheet to read",
    dayfirst: "Dates", file: "The file", format: "Kind of file" };

  function explain(detail) {
    const found = HINTS.find(([pattern]) => pattern.test(detail || ""));
    return found ? found[1] : "Weft could not read this file.";
  }

  function showProblem(box, plain, said) {
    box.replaceChildren();
    const lead = document.createElement("p");
    lead.textContent = plain;
    box.append(lead);
    if (said && said !== plain) {
      const detail = document.createElement("p");
      detail.className = "said";
      detail.textContent = `Weft said: ${said}`;
      box.append(detail);
    }
    box.hidden = false;
  }

  function postProblem(status, detail, maxBytes) {
    if (status === 413) {
      return `That file is too large: Weft takes up to ${Math.round(maxBytes / 1048576)} MB ` +
        "at a time. Split it into smaller files.";
    }
    if (status === 422 && detail) {
      return "Something in the form needs fixing: " +
        detail.replace(/^(\w+):/, (_m, field) => `${FIELDS[field] || field}:`);
    }
    if (status === 0) return "Weft did not answer. Check that it is still running, then try again.";
    return detail || `Weft answered ${status}; try again.`;
  }

  // ---- the form -------------------------------------------------------------------------
  function wireForm() {
    const maxBytes = Number(form.dataset.maxBytes);
    const sessionFields = byId("session-fields");
    const fileFields = byId("file-fields");
    const error = byId("form-error");
    const send = byId("send");
    const kind = () => form.querySelector('input[name="as"]:checked').value;
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) byId("timezone").value = zone;

    function showKind() {
      const session = kind() === "session";
      // a disabled fieldset is left out of the tab order and of validation
      sessionFields.hidden = sessionFields.disabled = !session;
      fileFields.hidden = fileFields.disabled = session;
    }
    form.querySelectorAll('input[name="as"]').forEach((radio) => {
      radio.addEventListener("change", showKind);
    });
    showKind();

    // a spreadsheet is a file of narratives; a .txt, .vtt or .srt is a meeting's
    byId("file").addEventListener("change", () => {
      const chosen = byId("file").files[0];
      const extension = (chosen?.name.split(".").pop() || "").toLowerCase();
      const guess = ["csv", "tsv", "xlsx", "jsonl"].includes(extension) ? "file"
        : ["txt", "vtt", "srt"].includes(extension) ? "session" : null;
      if (guess && guess !== kind()) {
        byId(guess === "file" ? "as-file" : "as-session").checked = true;
        showKind();
      }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      if (!form.reportValidity()) return;
      const session = kind() === "session";
      const body = new FormData();
      const file = byId("file").files[0];
      let size = file.size;
      body.append("file", file, file.name);
      const timezone = value("timezone");
      if (timezone) body.append("timezone", timezone);
      if (session) {
        body.append("name", value("name"));
        const day = value("held_on");
        const start = value("started");
        if (day) body.append("held_on", day);
        if (start && !day) {
          showProblem(error, "Give the meeting's date with the time its recording started.");
          return;
        }
        if (start) body.append("started_at", `${day}T${start}`);
      } else {
        const definition = byId("definition").files[0];
        const votes = byId("votes").files[0];
        if (definition && votes) {
          showProblem(error, "Send either a SenseMaker definition or Polis votes with a file, not both.");
          return;
        }
        if (definition) body.append("definition", definition, definition.name);
        if (votes) {
          const role = /participants/i.test(votes.name) ? "participants_votes" : "votes";
          body.append(role, votes, votes.name);
        }
        size += (definition?.size || 0) + (votes?.size || 0);
        if (value("sheet")) body.append("sheet", value("sheet"));
        body.append("dayfirst", byId("dayfirst").checked ? "true" : "false");
      }
      if (size > maxBytes) {
        showProblem(error, postProblem(413, "", maxBytes));
        return;
      }
      send.disabled = true;
      send.textContent = "Sending…";
      try {
        const answer = await post(`${api}?as=${session ? "session" : "file"}`, body);
        if (answer.problem) {
          showProblem(error, postProblem(answer.status, answer.problem, maxBytes), answer.problem);
          return;
        }
        history.replaceState(null, "", `?source=${answer.source.id}`);
        form.hidden = true;
        follow(answer.source, answer.duplicate, answer.session?.name);
      } finally {
        send.disabled = false;
        send.textContent = "Upload";
      }
    });
  }

  async function post(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-CSRF-Token": Weft.csrf() },
      });
    } catch {
      return { status: 0, problem: "" };
    }
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) return { status: response.status, problem: answer.detail || answer.title };
    return answer;
  }

  // ---- following an upload --------------------------------------------------------------
  const STATUS = {
    parse: (name) => `Reading ${name}…`,
    store: () => "Storing the stories…",
    embed: () => "Preparing the stories for comparison…",
    place: () => "Adding them to the themes…",
  };

  function stageText(stage, source) {
    const report = source.report || {};
    const noun = source.kind === "session" ? ["line", "lines"] : ["row", "rows"];
    const { done, total } = stage;
    if (stage.status === "waiting") return "Waiting";
    if (stage.status === "untracked") return "Not followed here";
    if (stage.status === "failed") return "Failed";
    if (stage.status === "skipped") {
      if (stage.name === "embed") return "Nothing new to prepare";
      return source.progress.queued_analysis_id != null
        ? "No themes yet: Weft is finding them" : "No themes yet";
    }
    if (stage.status === "running") {
      if (stage.name === "parse") {
        return total == null ? `${plural(done, ...noun)} read` : `${done} of ${plural(total, ...noun)}`;
      }
      if (total == null) return "Working…";
      return `${done} of ${total}`;
    }
    // done
    if (stage.name === "parse") {
      return `${plural(done, ...noun)} read` + (report.skipped ? `, ${report.skipped} skipped` : "");
    }
    if (stage.name === "store") {
      const fresh = report.stored ?? done;
      const already = report.duplicates || 0;
      return already ? `${fresh} new, ${already} already stored` : `${plural(fresh, "story", "stories")} stored`;
    }
    if (stage.name === "embed") {
      const shared = report.stored != null && done > report.stored ? " (with other uploads)" : "";
      return `${done} prepared${shared}`;
    }
    return `${done} added`;
  }

  function renderStages(source) {
    for (const stage of source.progress.stages) {
      const row = section.querySelector(`[data-stage="${stage.name}"]`);
      row.dataset.status = stage.status;
      const bar = row.querySelector("progress");
      if (stage.status === "running" && stage.total == null) {
        bar.removeAttribute("value"); // still counting: an indeterminate bar
      } else {
        const total = Math.max(stage.total || 0, 1);
        bar.max = total;
        bar.value = stage.status === "done" ? total : Math.min(stage.done || 0, total);
      }
      row.querySelector(".stage-text").textContent = stageText(stage, source);
    }
  }

  function card(label, count) {
    const box = document.createElement("div");
    box.className = "card";
    const number = document.createElement("div");
    number.className = "n";
    number.textContent = String(count ?? 0);
    const text = document.createElement("div");
    text.className = "label";
    text.textContent = label;
    box.append(number, text);
    return box;
  }

  function renderReport(source, duplicate) {
    const report = source.report || {};
    const session = source.kind === "session";
    const cards = [card("New stories stored", report.stored), card("Already stored before", report.duplicates),
      card("Skipped", report.skipped)];
    if (session || report.private_messages) {
      cards.push(card("Private messages: never stored", report.private_messages));
    }
    if (session || report.low_content) {
      cards.push(card("Short lines (“thanks!”, “+1”): kept, not in themes", report.low_content));
    }
    if (report.system_messages) cards.push(card("System messages left out", report.system_messages));
    if (report.deleted_messages) cards.push(card("Deleted messages left out", report.deleted_messages));
    if (report.reactions) cards.push(card("Reactions kept with their message", report.reactions));
    byId("report-cards").replaceChildren(...cards);

    const issues = (report.issues || []).filter((i) => !/^already stored as narrative/.test(i.reason));
    const shown = issues.slice(0, 10);
    const holder = byId("report-issues");
    holder.replaceChildren();
    if (shown.length) {
      const heading = document.createElement("h3");
      heading.textContent = "What Weft left out, or stored without a value";
      const table = document.createElement("table");
      table.id = "report-issue-table";
      const head = table.createTHead().insertRow();
      for (const [text, scope] of [["Where", "col"], ["Why", "col"]]) {
        const th = document.createElement("th");
        th.textContent = text;
        th.scope = scope;
        head.append(th);
      }
      const bodyRows = table.createTBody();
      for (const issue of shown) {
        const row = bodyRows.insertRow();
        row.insertCell().textContent = issue.location;
        row.insertCell().textContent = issue.reason;
      }
      holder.append(heading, table);
      const more = issues.length - shown.length + (report.issues_not_stored || 0);
      if (more > 0) {
        const note = document.createElement("p");
        note.className = "muted";
        note.textContent = `…and ${plural(more, "more", "more")} not listed here.`;
        holder.append(note);
      }
    }
    const next = [];
    if (duplicate) next.push("You had uploaded this file before: nothing was stored twice.");
    const progress = source.progress;
    if (progress.placed_into_analysis_id != null) {
      next.push("The new stories are already counted in the themes.");
    }
    if (progress.queued_analysis_id != null) {
      next.push("Weft is now finding themes afresh; the overview shows when they are ready.");
    } else if (progress.placed_into_analysis_id == null && report.stored) {
      next.push("There are no themes yet: they appear on the overview once an analysis has run.");
    }
    byId("report-next").textContent = next.join(" ");
    byId("upload-report").hidden = false;
  }

  function render(source, duplicate) {
    const progress = source.progress;
    const name = source.filename || "the file";
    renderStages(source);
    const status = byId("progress-status");
    if (progress.stage === "failed") {
      status.textContent = `Weft could not finish reading ${name}.`;
      showProblem(byId("upload-error"), explain(progress.error), progress.error);
      if (form && !asked) {
        // the form as it was sent, to change what needs changing and send it again
        form.hidden = false;
        byId("upload-another").hidden = true;
      }
    } else if (progress.stage === "done") {
      const stored = source.report?.stored;
      status.textContent = stored == null ? "Done."
        : `Done: ${plural(stored, "new story", "new stories")} stored.`;
      renderReport(source, duplicate);
    } else {
      status.textContent = STATUS[progress.stage](name);
    }
  }

  async function follow(source, duplicate = false, meeting = "") {
    section.hidden = false;
    byId("upload-another")?.removeAttribute("hidden");
    byId("upload-error").hidden = true;
    byId("upload-report").hidden = true;
    const file = source.filename || "the upload";
    byId("progress-title").textContent = meeting ? `${meeting} (${file})` : file;
    let current = source;
    for (;;) {
      render(current, duplicate);
      if (["done", "failed"].includes(current.progress.stage)) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      try {
        current = await Weft.getJSON(`${api}/${current.id}`);
      } catch (problem) {
        showProblem(byId("upload-error"), "Weft stopped answering about this upload; reload the page to see where it is.", problem.message);
        return;
      }
    }
  }

  if (form) wireForm();
  if (asked && /^\d+$/.test(asked)) {
    if (form) form.hidden = true;
    Weft.getJSON(`${api}/${asked}`).then((source) => follow(source)).catch((problem) => {
      section.hidden = false;
      showProblem(byId("upload-error"), "That upload is not one of this project's.", problem.message);
    });
  }
})();
