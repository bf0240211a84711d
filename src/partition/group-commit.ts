/**
 * Group commit: at most one fdatasync runs at a time; appends that land while it runs wait for
 * the next one, which then covers all of them. Under load this turns N appends into one fsync
 * per fsync latency, whatever N is.
 *
 * The commit knows only offsets and an opaque "mark" (what a sync covers); the partition says
 * how to capture a mark and how to make it durable.
 */
import { StorageError } from '../errors.js'

interface Waiter {
  offset: number
  resolve: () => void
  reject: (err: Error) => void
}

export interface CommitMark {
  /** Every offset below this is covered. */
  offset: number
}

export class GroupCommit<Mark extends CommitMark> {
  #capture: () => Mark
  #sync: (mark: Mark) => Promise<void>
  #onDurable: (mark: Mark) => void
  #onFailure: (err: StorageError) => void
  #durableOffset: number
  #waiters: Waiter[] = []
  #running: Promise<void> | undefined
  #scheduled = false
  #failure: StorageError | undefined

  constructor(options: {
    durableOffset: number
    capture: () => Mark
    sync: (mark: Mark) => Promise<void>
    onDurable: (mark: Mark) => void
    onFailure: (err: StorageError) => void
  }) {
    this.#durableOffset = options.durableOffset
    this.#capture = options.capture
    this.#sync = options.sync
    this.#onDurable = options.onDurable
    this.#onFailure = options.onFailure
  }

  get durableOffset(): number {
    return this.#durableOffset
  }

  /** Resolves once an fsync covering every offset below `offset` has completed. */
  waitFor(offset: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    if (offset <= this.#durableOffset) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.#waiters.push({ offset, resolve, reject })
      if (this.#running === undefined && !this.#scheduled) this.#start()
    })
  }

  /** Something else (a roll's synchronous fsync) made everything below `mark.offset` durable. */
  covered(mark: Mark): void {
    if (mark.offset <= this.#durableOffset) return
    this.#durableOffset = mark.offset
    this.#onDurable(mark)
    this.#release()
  }

  /** Resolves when no fsync is running (for close). */
  async idle(): Promise<void> {
    while (this.#running !== undefined || this.#scheduled) {
      if (this.#running !== undefined) await this.#running
      else await new Promise((resolve) => setImmediate(resolve))
    }
  }

  /** Fail every waiter, now and later, with `err`. */
  fail(err: StorageError): void {
    if (this.#failure !== undefined) return
    this.#failure = err
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w.reject(err)
  }

  #start(): void {
    const mark = this.#capture()
    this.#running = this.#sync(mark).then(
      () => {
        this.#running = undefined
        if (this.#failure !== undefined) return
        this.covered(mark)
        // The writers just acknowledged append again in their promise callbacks, which run
        // before setImmediate: starting the next fsync there lets it cover them too, instead
        // of splitting the writers into two groups that take turns.
        if (this.#waiters.length > 0) {
          this.#scheduled = true
          setImmediate(() => {
            this.#scheduled = false
            if (this.#running === undefined && this.#failure === undefined && this.#waiters.length > 0) this.#start()
          })
        }
      },
      (cause: unknown) => {
        this.#running = undefined
        const err =
          cause instanceof StorageError
            ? cause
            : new StorageError(`Cannot make appends durable: fdatasync failed (${(cause as Error).message}); the partition refuses appends until reopened`, {
                cause,
              })
        this.fail(err)
        this.#onFailure(err)
      },
    )
  }

  #release(): void {
    let i = 0
    while (i < this.#waiters.length && (this.#waiters[i] as Waiter).offset <= this.#durableOffset) i++
    if (i === 0) return
    const done = this.#waiters.splice(0, i)
    for (const w of done) w.resolve()
  }
}
