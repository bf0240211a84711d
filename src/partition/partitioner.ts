/**
 * Which partition a record goes to: the explicit one if given; else xxHash32 of the key bytes
 * mod the partition count, so a key always lands on one partition; else, for a null key, the
 * "sticky" partition, which moves round-robin each time a batch is sent, so that records
 * without keys still form large batches (Kafka's sticky partitioner).
 */
import type { Hashes } from '../hash.js'
import type { Bytes } from '../segment/index.js'

export function keyBytes(key: Bytes): Uint8Array {
  return typeof key === 'string' ? Buffer.from(key, 'utf8') : key
}

export class Partitioner {
  #hashes: Hashes
  #sticky = new Map<string, number>()

  constructor(hashes: Hashes) {
    this.#hashes = hashes
  }

  /** The partition of a key among `partitions`. */
  partitionOf(key: Bytes, partitions: number): number {
    return this.#hashes.h32(keyBytes(key)) % partitions
  }

  choose(topic: string, partitions: number, key: Bytes | null | undefined, explicit: number | undefined): number {
    if (explicit !== undefined) {
      if (!Number.isInteger(explicit) || explicit < 0 || explicit >= partitions) {
        throw new RangeError(`Invalid partition ${explicit} of topic '${topic}': it has partitions 0 to ${partitions - 1}`)
      }
      return explicit
    }
    if (key !== undefined && key !== null) return this.partitionOf(key, partitions)
    let sticky = this.#sticky.get(topic)
    if (sticky === undefined || sticky >= partitions) {
      sticky = Math.floor(Math.random() * partitions)
      this.#sticky.set(topic, sticky)
    }
    return sticky
  }

  /** A batch for the sticky partition of `topic` was sent: move on to the next partition. */
  batchSent(topic: string, partition: number, partitions: number): void {
    if (this.#sticky.get(topic) === partition) this.#sticky.set(topic, (partition + 1) % partitions)
  }
}
