/**
 * _kit/text — text from a workload (a log line, an Event's or a termination's message) made safe to
 * show a person, in a terminal, a chat message or a page: escape sequences (colours, cursor moves,
 * window titles) removed, so a log cannot drive a terminal; every other control character, and the
 * bidi overrides that reorder what a reader sees, replaced. Tabs and line breaks stay: callers
 * that want one line flatten them.
 */

/** CSI sequences (`ESC [ … final`), and the two-character ones (`ESC ]`, `ESC (`…). */
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b[@-_]/g;
/** C0 but tab, line feed and carriage return; DEL and C1; the bidi embeddings, overrides and isolates. */
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function safeText(text: string, replacement = '\ufffd'): string {
  return text.replace(ESCAPES, '').replace(CONTROLS, replacement);
}
