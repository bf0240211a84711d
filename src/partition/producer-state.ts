/**
 * Idempotent-producer state of a partition, as Kafka keeps it: for each producerId, its epoch
 * and the metadata of its last 5 batches. It answers whether an incoming batch is an exact retry
 * of one of those (return the original offsets, append nothing), the next in sequence (append),
 * or out of order (reject).
 *
 * Sequence rules, per producerId:
 * 1. unknown producer: any first sequence is accepted (its state may have been removed with old
 *    segments, and refusing it forever would be worse than not checking its first batch);
 * 2. an epoch lower than the known one: fenced, rejected;
 * 3. a higher epoch: state restarts, sequence must start at 0;
 * 4. same epoch: a batch equal to a cached one (same first and last sequence) is a duplicate;
 *    otherwise its first sequence must be the last one's + 1 (wrapping after 2^31 − 1).
 */
import { OutOfOrderSequenceError } from '../errors.js'

export const BATCHES_PER_PRODUCER = 5
const SEQUENCE_MAX = 0x7fff_ffff

export interface BatchMetadata {
  firstSequence: number
  lastSequence: number
  baseOffset: number
  lastOffset: number
}

export interface ProducerEntry {
  producerId: number
  epoch: number
  batches: BatchMetadata[]
}

export type SequenceCheck = { kind: 'append' } | { kind: 'duplicate'; batch: BatchMetadata }

export class ProducerStateTable {
  #producers = new Map<number, ProducerEntry>()

  get size(): number {
    return this.#producers.size
  }

  /** Decide what to do with a batch from `producerId` (see the rules above). Throws when out of order. */
  check(producerId: number, epoch: number, firstSequence: number, count: number): SequenceCheck {
    const entry = this.#producers.get(producerId)
    if (entry === undefined) return { kind: 'append' }
    const lastSequence = (firstSequence + count - 1) % (SEQUENCE_MAX + 1)
    if (epoch < entry.epoch) {
      throw new OutOfOrderSequenceError(`Cannot append for producer ${producerId}: epoch ${epoch} is fenced by epoch ${entry.epoch}`)
    }
    if (epoch > entry.epoch) {
      if (firstSequence !== 0) {
        throw new OutOfOrderSequenceError(`Cannot append for producer ${producerId}: a new epoch ${epoch} must start at sequence 0, got ${firstSequence}`)
      }
      return { kind: 'append' }
    }
    for (const batch of entry.batches) {
      if (batch.firstSequence === firstSequence && batch.lastSequence === lastSequence) return { kind: 'duplicate', batch }
    }
    const last = entry.batches[entry.batches.length - 1]
    const expected = last === undefined ? firstSequence : (last.lastSequence + 1) % (SEQUENCE_MAX + 1)
    if (firstSequence !== expected) {
      throw new OutOfOrderSequenceError(
        `Cannot append for producer ${producerId}: sequence ${firstSequence} received, ${expected} expected (a batch is missing or was sent out of order)`,
      )
    }
    return { kind: 'append' }
  }

  /** Record an appended (or recovered) batch. */
  record(producerId: number, epoch: number, batch: BatchMetadata): void {
    let entry = this.#producers.get(producerId)
    if (entry === undefined || epoch > entry.epoch) {
      entry = { producerId, epoch, batches: [] }
      this.#producers.set(producerId, entry)
    }
    if (epoch < entry.epoch) return
    entry.batches.push(batch)
    if (entry.batches.length > BATCHES_PER_PRODUCER) entry.batches.shift()
  }

  /** Forget batches at or after `offset` (the log was truncated there). */
  truncateFrom(offset: number): void {
    for (const [id, entry] of this.#producers) {
      entry.batches = entry.batches.filter((b) => b.lastOffset < offset)
      if (entry.batches.length === 0) this.#producers.delete(id)
    }
  }

  entries(): ProducerEntry[] {
    return [...this.#producers.values()].map((e) => ({ ...e, batches: e.batches.map((b) => ({ ...b })) }))
  }

  static from(entries: readonly ProducerEntry[]): ProducerStateTable {
    const table = new ProducerStateTable()
    for (const e of entries) table.#producers.set(e.producerId, { producerId: e.producerId, epoch: e.epoch, batches: e.batches.slice(-BATCHES_PER_PRODUCER) })
    return table
  }
}
