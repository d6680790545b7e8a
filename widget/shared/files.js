// Files in a conversation over HTTP (docs/bridge-protocol.md "Attachments"), for the widget and the
// console alike: an upload with its progress, and a file read back as a Blob (its object URL shows a
// thumbnail or opens it). Who asks goes in the Authorization header, never in a URL: the customer's
// conversation token ("Conversation <token>") or an agent's login token ("Bearer <token>"); a signed-in
// customer's signed identity goes in X-Identity (their conversation's files need it: docs/identity.md).
// The bridge decides what a file is from its content; the checks here only spare a hopeless upload.

export const FILE_TYPES = Object.freeze(["image/png", "image/jpeg", "image/webp", "image/gif", "application/pdf"]);
export const FILE_ACCEPT = FILE_TYPES.join(",");
// The bridge's default HANDOFF_MAX_ATTACHMENT_BYTES; a bridge set lower refuses with too_large anyway.
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

/** An error with the bridge's code (too_large, unsupported_type, disguised_file, malformed_file, unsafe_file,
 *  too_many_uploads, invalid_token, forbidden, not_found, ...; "network" when it could not be reached). */
export class FileError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function filesUrl(server, conversationId, fileId = "") {
  const path = `api/conversations/${encodeURIComponent(conversationId)}/attachments`;
  return new URL(fileId ? `${path}/${encodeURIComponent(fileId)}` : path, server).href;
}

/** What the browser knows of a file before sending it: a refusal the bridge would give, or null. */
export function precheck(file, maxBytes = MAX_FILE_BYTES) {
  if (file.size > maxBytes) return new FileError("too_large", "the file is too large");
  if (file.type && !FILE_TYPES.includes(file.type)) return new FileError("unsupported_type", "this kind of file cannot be sent");
  return null;
}

/**
 * Sends ``file`` to the conversation; resolves with the bridge's {message_id, attachment}.
 * ``onProgress(fraction)`` follows the upload (XMLHttpRequest: fetch cannot report it).
 */
export function uploadFile(server, conversationId, authorization, file, { clientId = "", identity = null, onProgress = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", filesUrl(server, conversationId));
    request.setRequestHeader("Authorization", authorization);
    request.setRequestHeader("X-File-Name", encodeURIComponent(file.name || "file"));
    if (clientId) request.setRequestHeader("X-Client-Id", clientId);
    if (identity) request.setRequestHeader("X-Identity", identity);
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      const body = request.response || {};
      if (request.status === 201) resolve(body);
      else reject(new FileError((body.error && body.error.code) || "network", (body.error && body.error.message) || `HTTP ${request.status}`));
    });
    request.addEventListener("error", () => reject(new FileError("network", "the server could not be reached")));
    request.send(file);
  });
}

/**
 * A stored file as a Blob of the type the bridge stored it as. ``identity``: a signed-in customer's (their
 * conversation's files need it); ``via``: the conversation an agent reads this one through (a contact's history).
 */
export async function fetchFile(server, conversationId, fileId, authorization, { identity = null, via = null } = {}) {
  let reply;
  const headers = identity ? { Authorization: authorization, "X-Identity": identity } : { Authorization: authorization };
  const url = new URL(filesUrl(server, conversationId, fileId));
  if (via) url.searchParams.set("via", via);
  try {
    reply = await fetch(url.href, { headers, credentials: "omit" });
  } catch {
    throw new FileError("network", "the server could not be reached");
  }
  if (!reply.ok) {
    const body = await reply.json().catch(() => ({}));
    throw new FileError((body.error && body.error.code) || "network", (body.error && body.error.message) || `HTTP ${reply.status}`);
  }
  return reply.blob();
}

/** The files a paste or a drop carries (none: an ordinary paste or drop). */
export function filesOf(transfer) {
  return transfer && transfer.files ? [...transfer.files] : [];
}

/** "1.2 MB", "340 KB" */
export function fileSize(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}
