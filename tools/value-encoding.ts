/**
 * How the CLI prints keys, values and header values (`--values`).
 *
 * | encoding | JSON                  | text                                                     |
 * |----------|-----------------------|----------------------------------------------------------|
 * | utf8     | string (lossy: invalid UTF-8 becomes U+FFFD) | the same, control characters escaped (`\n`, `\u0000`) so a record stays on one line |
 * | hex      | lower-case hex string | the same                                                 |
 * | base64   | base64 string         | the same                                                 |
 * | none     | size in bytes         | omitted (sizes are printed anyway)                       |
 *
 * `null` stays `null` in every encoding, so a tombstone is never confused with an empty value.
 */

export const VALUE_ENCODINGS = ['utf8', 'hex', 'base64', 'none'] as const
export type ValueEncoding = (typeof VALUE_ENCODINGS)[number]

/** A key, value or header value as it appears in JSON output. */
export function jsonBytes(bytes: Buffer | null, encoding: ValueEncoding): string | number | null {
  if (bytes === null) return null
  if (encoding === 'none') return bytes.length
  return bytes.toString(encoding)
}

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g
const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

function escapeControl(char: string): string {
  return ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
}

/** A key, value or header value as it appears in text output (`none` is handled by the caller). */
export function textBytes(bytes: Buffer | null, encoding: ValueEncoding): string {
  if (bytes === null) return 'null'
  if (encoding === 'none') return String(bytes.length)
  if (encoding === 'utf8') return bytes.toString('utf8').replace(CONTROL_CHARACTERS, escapeControl)
  return bytes.toString(encoding)
}
