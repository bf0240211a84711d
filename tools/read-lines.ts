/**
 * Lines of a byte stream (stdin for `seglog produce`), streamed and byte-exact.
 *
 * Only `\n` ends a line; it is not part of the line. A last line without `\n` is still a line,
 * and an empty input has no lines ("a\n" is one line, "a\n\n" two, the second empty). Unlike
 * node:readline, a lone `\r` does not end a line and a `\r` before `\n` is kept, and the bytes are
 * not decoded: a record's value is exactly the bytes of its line.
 *
 * Lines are views into the chunks read (or one concatenation, for a line spanning chunks), so
 * memory is what the consumer keeps plus one line; a line longer than `maxLineBytes` is an error
 * raised as soon as that many bytes are buffered, before the rest is read.
 */
import type { Readable } from 'node:stream'

export class LineTooLongError extends Error {
  override name = 'LineTooLongError'
  readonly lineNumber: number
  constructor(lineNumber: number, maxLineBytes: number) {
    super(`line ${lineNumber} is longer than ${maxLineBytes} bytes`)
    this.lineNumber = lineNumber
  }
}

const NEWLINE = 0x0a

export async function* readLines(input: Readable | AsyncIterable<Buffer | string>, maxLineBytes: number): AsyncGenerator<Buffer, void, undefined> {
  /** Pieces of the line being gathered, from earlier chunks. */
  let partial: Buffer[] = []
  let partialBytes = 0
  let lineNumber = 1
  for await (const data of input as AsyncIterable<Buffer | string>) {
    const chunk = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    let start = 0
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start)
      if (end === -1) break
      let line = chunk.subarray(start, end)
      if (partial.length > 0) {
        line = Buffer.concat([...partial, line], partialBytes + line.length)
        partial = []
        partialBytes = 0
      }
      if (line.length > maxLineBytes) throw new LineTooLongError(lineNumber, maxLineBytes)
      yield line
      lineNumber++
      start = end + 1
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start)
      partial.push(rest)
      partialBytes += rest.length
      if (partialBytes > maxLineBytes) throw new LineTooLongError(lineNumber, maxLineBytes)
    }
  }
  if (partial.length > 0) yield Buffer.concat(partial, partialBytes)
}
