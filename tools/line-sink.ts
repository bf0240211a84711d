/**
 * Line output for the commands that stream records as they arrive (`consume`, `tail`, and
 * `produce --echo`), where {@link LineWriter}'s "write when 64 KiB are gathered" is not enough:
 *
 * - Lines must not wait for a full chunk when no more are coming for now (a `tail` that is
 *   caught up): a chunk is also written once the current burst of work is done (`setImmediate`).
 * - `consume --group` commits a record only after its line reached stdout. Each line may carry a
 *   mark; once a chunk's write completed (the stream's write callback: the bytes were handed to
 *   the file descriptor), `onWritten` gets the marks of that chunk's lines, and the next chunk
 *   waits until it has finished (the commit).
 *
 * Writes are serialised and each waits for its callback, so at most one chunk is in the stream's
 * buffer: a slow reader slows the command down instead of filling memory. A reader that went away
 * (EPIPE) raises {@link OutputClosedError}, which the command wrapper turns into a quiet exit.
 */
import type { Writable } from 'node:stream'
import { CHUNK_CHARS, OutputClosedError } from './output.js'

export interface LineSinkOptions<Mark> {
  /** Called with the marks of every chunk once it is written; the next write waits for it. */
  onWritten?: (marks: Mark[]) => Promise<void>
  /** Characters gathered before a write without waiting for the burst to end. Default {@link CHUNK_CHARS}. */
  chunkChars?: number
}

export class LineSink<Mark = never> {
  readonly #stream: Writable
  readonly #onWritten: ((marks: Mark[]) => Promise<void>) | undefined
  readonly #chunkChars: number
  #pending = ''
  #marks: Mark[] = []
  /** The chain of writes: each starts after the one before it finished (and its onWritten). */
  #writing: Promise<void> = Promise.resolve()
  #idleFlush: NodeJS.Immediate | undefined
  #failure: Error | undefined

  constructor(stream: Writable, options: LineSinkOptions<Mark> = {}) {
    this.#stream = stream
    this.#onWritten = options.onWritten
    this.#chunkChars = options.chunkChars ?? CHUNK_CHARS
    // Without a listener an EPIPE would crash the process with an unhandled 'error' event.
    stream.on('error', (err: NodeJS.ErrnoException) => void this.#streamFailed(err))
  }

  /** Queue one line (without its newline) and its mark; waits only when a chunk is full. */
  async line(text: string, mark?: Mark): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    this.#pending += text + '\n'
    if (mark !== undefined) this.#marks.push(mark)
    if (this.#pending.length >= this.#chunkChars) await this.flush()
    else this.#idleFlush ??= setImmediate(() => {
      this.#idleFlush = undefined
      // A failure here is kept and thrown by the next line() or flush().
      this.flush().catch(() => {})
    })
  }

  /** Write what is queued; resolves once it (and everything before it) is written and handed to onWritten. */
  flush(): Promise<void> {
    if (this.#idleFlush !== undefined) clearImmediate(this.#idleFlush)
    this.#idleFlush = undefined
    const chunk = this.#pending
    const marks = this.#marks
    this.#pending = ''
    this.#marks = []
    this.#writing = this.#writing.then(async () => {
      if (this.#failure !== undefined) throw this.#failure
      if (chunk === '') return
      await this.#write(chunk)
      if (this.#onWritten !== undefined && marks.length > 0) await this.#onWritten(marks)
    })
    // Every caller of a failed chain gets the failure, and the chain stays failed.
    this.#writing.catch((err: unknown) => {
      this.#failure ??= err instanceof Error ? err : new Error(String(err))
    })
    return this.#writing
  }

  #write(chunk: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#stream.destroyed) {
        reject(this.#streamFailed(this.#stream.errored))
        return
      }
      this.#stream.write(chunk, (err) => (err === null || err === undefined ? resolve() : reject(this.#streamFailed(err))))
    })
  }

  /**
   * Remember the stream's first failure: EPIPE (or a stream already destroyed) is the reader
   * having gone away; anything else is an operating error naming the write.
   */
  #streamFailed(err: NodeJS.ErrnoException | Error | null): Error {
    if (this.#failure !== undefined) return this.#failure
    const errno = err as NodeJS.ErrnoException | null
    if (errno === null || errno.code === 'EPIPE' || errno.code === 'ERR_STREAM_DESTROYED') {
      this.#failure = new OutputClosedError('output closed')
    } else {
      const wrapped: NodeJS.ErrnoException = new Error(`cannot write output: ${errno.message}`, { cause: err })
      if (errno.code !== undefined) wrapped.code = errno.code
      wrapped.syscall = errno.syscall ?? 'write'
      this.#failure = wrapped
    }
    return this.#failure
  }
}
