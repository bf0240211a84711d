/**
 * Message-id dedup (NATS JetStream's `Nats-Msg-Id`): a record carrying a `msg-id` header whose
 * id was seen within `windowMs` is not appended again; the caller gets the original offset.
 *
 * The window maps xxHash64(id) → (offset, timestamp), in insertion order so that expiry pops
 * from the front, and holds at most `maxEntries` ids (the oldest go first). A 64-bit hash makes
 * a false duplicate about as likely as two ids colliding among 2^32 in the window.
 */
export const MSG_ID_HEADER = 'msg-id'

interface Seen {
  offset: number
  timestamp: number
}

export class DedupWindow {
  readonly windowMs: number
  readonly maxEntries: number
  // A Map iterates in insertion order: its first key is always the oldest.
  #seen = new Map<bigint, Seen>()

  constructor(windowMs: number, maxEntries: number) {
    this.windowMs = windowMs
    this.maxEntries = maxEntries
  }

  get size(): number {
    return this.#seen.size
  }

  /** The offset an id was appended at, if it is still in the window at time `now`. */
  lookup(hash: bigint, now: number): number | undefined {
    const seen = this.#seen.get(hash)
    if (seen === undefined || seen.timestamp < now - this.windowMs) return undefined
    return seen.offset
  }

  add(hash: bigint, offset: number, timestamp: number): void {
    this.#seen.delete(hash)
    this.#seen.set(hash, { offset, timestamp })
    while (this.#seen.size > this.maxEntries) this.#seen.delete(this.#seen.keys().next().value as bigint)
  }

  /** Drop ids older than the window at time `now`. */
  expire(now: number): void {
    for (const [hash, seen] of this.#seen) {
      if (seen.timestamp >= now - this.windowMs) break
      this.#seen.delete(hash)
    }
  }

  /** Forget ids at or after `offset` (the log was truncated there). */
  truncateFrom(offset: number): void {
    for (const [hash, seen] of this.#seen) if (seen.offset >= offset) this.#seen.delete(hash)
  }
}
