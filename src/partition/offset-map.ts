/**
 * The compaction key map: xxHash64(key) → newest offset, in a fixed-size open-addressing table
 * (Kafka's SkimpyOffsetMap). Every entry is 16 bytes (8 for the hash, 8 for the offset), so
 * `bufferBytes` bounds its memory exactly; it reports full at a 0.9 load factor and the cleaner
 * then compacts what it mapped so far and continues in another pass.
 *
 * Two keys with the same 64-bit hash are treated as one (the older record would be dropped):
 * about one chance in 2^64 / n² for n keys, as in Kafka, whose map stores a digest too.
 */
const ENTRY_BYTES = 16
const LOAD_FACTOR = 0.9
const EMPTY = 0n

export class OffsetMap {
  readonly slots: number
  #hashes: BigUint64Array
  #offsets: Float64Array
  #size = 0
  #limit: number
  /** Largest offset put, -1 if none. */
  latestOffset = -1

  constructor(bufferBytes: number) {
    this.slots = Math.max(16, Math.floor(bufferBytes / ENTRY_BYTES))
    this.#hashes = new BigUint64Array(this.slots)
    this.#offsets = new Float64Array(this.slots)
    this.#limit = Math.floor(this.slots * LOAD_FACTOR)
  }

  get size(): number {
    return this.#size
  }

  get isFull(): boolean {
    return this.#size >= this.#limit
  }

  #slotOf(hash: bigint): number {
    const h = hash === EMPTY ? 1n : hash
    let slot = Number(h % BigInt(this.slots))
    for (;;) {
      const at = this.#hashes[slot] as bigint
      if (at === EMPTY || at === h) return slot
      slot = slot + 1 === this.slots ? 0 : slot + 1
    }
  }

  /** Record `offset` as the newest for `hash`. The caller checks `isFull` first. */
  put(hash: bigint, offset: number): void {
    const h = hash === EMPTY ? 1n : hash
    const slot = this.#slotOf(h)
    if (this.#hashes[slot] === EMPTY) {
      if (this.#size >= this.slots - 1) throw new Error('OffsetMap overflow: check isFull before put')
      this.#hashes[slot] = h
      this.#size++
    }
    this.#offsets[slot] = offset
    if (offset > this.latestOffset) this.latestOffset = offset
  }

  /** The newest offset mapped for `hash`, or -1. */
  get(hash: bigint): number {
    const h = hash === EMPTY ? 1n : hash
    const slot = this.#slotOf(h)
    return this.#hashes[slot] === EMPTY ? -1 : (this.#offsets[slot] as number)
  }

  clear(): void {
    this.#hashes.fill(EMPTY)
    this.#size = 0
    this.latestOffset = -1
  }
}
