// How a file in a conversation looks, in the widget and the console alike: an image as a thumbnail that
// opens full size in a new tab when clicked, a PDF as a link that downloads it. The file is read through
// ``load`` (files.js fetchFile with the reader's token) into an object URL, since the bridge serves files
// only to a request that carries a token in its headers. Every name is a text node (dom.js h()).

import { h } from "./dom.js";
import { icon } from "./icons.js";
import { fileSize } from "./files.js";

// The largest a thumbnail is drawn (CSS keeps to it too); its shape is the image's own.
const THUMBNAIL_PX = 200;

/**
 * @param {object} attachment the message's data.attachment: {id, type, name, size, width?, height?}
 * @param {() => Promise<Blob>} load reads the file
 * @param {object} words {open, download, loading, unavailable}: the reader's language
 */
export function attachmentElement(attachment, load, words) {
  const name = typeof attachment.name === "string" ? attachment.name : "file";
  const size = Number(attachment.size) || 0;
  if (String(attachment.type).startsWith("image/")) return imageElement(attachment, name, load, words);
  const link = h("a", { class: "attachment attachment--file", href: "#", "data-file": attachment.id, title: `${words.download}: ${name}` },
    icon("file"), h("span", { class: "attachment__name", dir: "auto" }, name),
    h("span", { class: "attachment__size" }, fileSize(size)));
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    try {
      const url = URL.createObjectURL(await load());
      const save = h("a", { href: url, download: name, hidden: true });
      link.after(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      link.dataset.state = "failed";
      link.title = `${words.unavailable}: ${error.message}`;
    }
  });
  return link;
}

function imageElement(attachment, name, load, words) {
  const width = Number(attachment.width) || THUMBNAIL_PX;
  const height = Number(attachment.height) || THUMBNAIL_PX;
  const scale = Math.min(1, THUMBNAIL_PX / Math.max(width, height));
  const image = h("img", {
    class: "attachment__image", alt: name, width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  });
  const status = h("span", { class: "attachment__status" }, words.loading);
  const link = h("a", {
    class: "attachment attachment--image", href: "#", "data-file": attachment.id, "data-state": "loading",
    title: `${words.open}: ${name}`, target: "_blank", rel: "noopener",
  }, image, status);
  link.addEventListener("click", (event) => {
    if (link.dataset.state !== "ready") event.preventDefault();
  });
  load().then((blob) => {
    const url = URL.createObjectURL(blob);
    image.src = url;
    link.href = url;
    link.dataset.state = "ready";
    status.remove();
  }, (error) => {
    link.dataset.state = "failed";
    status.textContent = `${words.unavailable}: ${error.message}`;
  });
  return link;
}

/** A file being sent: its name and how much has gone, then why it failed if it did. */
export function uploadElement(name, words) {
  return h("div", { class: "attachment attachment--upload" },
    icon("file"), h("span", { class: "attachment__name", dir: "auto" }, name),
    h("progress", { class: "attachment__progress", max: 1, value: 0, "aria-label": `${words.uploading}: ${name}` }));
}
