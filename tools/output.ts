/**
 * Line output for the CLI's commands, streamed: a dump of a 1 GiB segment must not be built in
 * memory, and must not outrun a slow reader either.
 *
 * Lines are gathered into chunks of about {@link CHUNK_CHARS} (one write per chunk, not per line),
 * and a write the stream refuses (`write()` returned false) waits for `'drain'`. A reader that went
 * away (EPIPE, as in `seglog dump big.log | head`) raises {@link OutputClosedError}, which the
 * command wrapper turns into a quiet exit; any other write error is an operating error.
 */
import type { Writable } from 'node:stream'

/** Characters gathered before a write: big enough to amortise the syscall, small enough to stream. */
export const CHUNK_CHARS = 64 * 1024

/** The reader of our output went away; stop quietly. */
export class OutputClosedError extends Error {
  override name = 'OutputClosedError'
}

export class LineWriter {
  readonly #stream: Writable
  #pending = ''
  #failure: Error | undefined

  constructor(stream: Writable) {
    this.#stream = stream
    // Without a listener an EPIPE would crash the process with an unhandled 'error' event.
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.#failure ??= err.code === 'EPIPE' ? new OutputClosedError('output closed') : outputError(err)
    })
  }

  /** Queue one line (without its newline); writes when a chunk is full. */
  async line(text: string): Promise<void> {
    this.#pending += text + '\n'
    if (this.#pending.length >= CHUNK_CHARS) await this.flush()
  }

  /** Write everything queued, waiting while the stream is full. */
  async flush(): Promise<void> {
    if (this.#pending === '') return
    const chunk = this.#pending
    this.#pending = ''
    this.#throwIfFailed()
    const accepted = this.#stream.write(chunk)
    // An EPIPE on a synchronous pipe destroys the stream inside write(): check before waiting, or
    // the 'close' we would wait for has already been emitted.
    this.#throwIfFailed()
    if (!accepted) await this.#drained()
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#stream.destroyed) {
      const err = this.#stream.errored as NodeJS.ErrnoException | null
      this.#failure = err === null || err.code === 'EPIPE' ? new OutputClosedError('output closed') : outputError(err)
      throw this.#failure
    }
  }

  #drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.#stream.off('drain', done)
        this.#stream.off('close', done)
        this.#stream.off('error', done)
        try {
          this.#throwIfFailed()
          resolve()
        } catch (err) {
          reject(err)
        }
      }
      this.#stream.on('drain', done)
      this.#stream.on('close', done)
      this.#stream.on('error', done)
    })
  }
}

function outputError(err: NodeJS.ErrnoException): Error {
  const wrapped: NodeJS.ErrnoException = new Error(`cannot write output: ${err.message}`, { cause: err })
  if (err.code !== undefined) wrapped.code = err.code
  wrapped.syscall = err.syscall ?? 'write'
  return wrapped
}
