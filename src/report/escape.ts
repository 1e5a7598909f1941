/** Escaping for the HTML report: every string that came from input goes through one of these. */

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

/** Text or attribute value -> HTML that displays exactly that text (quotes escaped for attributes). */
export function escapeHtml(text: unknown): string {
  // Control characters other than tab/newline cannot appear in HTML text; show them as U+FFFD.
  return String(text).replace(
    /[&<>"'`]|[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g,
    (c) => HTML_ESCAPES[c] ?? "\ufffd",
  );
}

/**
 * A value as JSON that is safe inside <script type="application/json">: no "</script", no "<!--",
 * no U+2028/2029 surprises. JSON.parse of the element's text gives the value back.
 */
export function jsonForScript(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}
