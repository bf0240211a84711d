/**
 * Producer: sends records to a topic's partitions, batching per partition so that concurrent
 * `send`s become one batch, one write and one fsync, and resolving each only once its record is
 * durable per the topic's fsync policy.
 *
 * Idempotence (default on), as Kafka: the producer has a producerId and epoch from the log, and
 * numbers its batches per partition (`baseSequence`). After a storage error it reopens the
 * partition (which recovers from disk) and sends the same batch with the same sequence; if the
 * batch had reached the disk after all, the partition answers with its original offsets instead
 * of appending it twice.
 */
import { ClosedError, SeglogError } from '../errors.js'
import type { RecordInput } from '../segment/index.js'
import type { Partitioner } from './partitioner.js'
import type { AppendResult, Partition } from './partition.js'
import type { Topic } from './topic.js'

export interface ProducerOptions {
  /** Wait this long for more records before sending a batch. Default 0 (what arrives in the same tick). */
  lingerMs?: number
  /** Send a partition's batch once it holds about this many bytes. Default 1 MiB. */
  maxBatchBytes?: number
  /** Sequence-numbered batches, deduplicated by the partition. Default true. */
  idempotent?: boolean
  /** Times a batch is resent after a storage error (idempotent producers only). Default 2. */
  retries?: number
}

/** A record to send, with an optional explicit partition. */
export interface Message extends RecordInput {
  partition?: number
}

export interface SendResult {
  topic: string
  partition: number
  offset: number
}

/** What a producer needs from the log that made it. */
export interface ProducerContext {
  topic(name: string): Promise<Topic>
  allocateProducerId(): number
  partitioner: Partitioner
}

interface Pending {
  resolve: (offset: number) => void
  reject: (err: unknown) => void
}

interface Accumulator {
  topic: Topic
  partition: number
  records: RecordInput[]
  pending: Pending[]
  bytes: number
  timer: NodeJS.Timeout | NodeJS.Immediate | undefined
}

const SEQUENCE_LIMIT = 0x8000_0000
const RECORD_OVERHEAD_BYTES = 32

function sizeOf(message: RecordInput): number {
  const len = (b: unknown): number => (typeof b === 'string' ? b.length * 3 : b instanceof Uint8Array ? b.byteLength : 0)
  return len(message.key) + len(message.value) + RECORD_OVERHEAD_BYTES
}

/**
 * @example
 * ```ts
 * const producer = log.producer()
 * const { partition, offset } = await producer.send('orders', { key: 'user-7', value: '{"total":12}' })
 * await producer.close()
 * ```
 */
export class Producer {
  readonly producerId: number
  readonly producerEpoch = 0
  #context: ProducerContext
  #lingerMs: number
  #maxBatchBytes: number
  #idempotent: boolean
  #retries: number
  #accumulators = new Map<string, Accumulator>()
  #sequences = new Map<string, number>()
  #inFlight = new Set<Promise<void>>()
  #closed = false

  constructor(context: ProducerContext, options: ProducerOptions = {}) {
    this.#context = context
    this.#lingerMs = options.lingerMs ?? 0
    this.#maxBatchBytes = options.maxBatchBytes ?? 1024 * 1024
    this.#idempotent = options.idempotent ?? true
    this.#retries = options.retries ?? 2
    if (!Number.isInteger(this.#lingerMs) || this.#lingerMs < 0) throw new RangeError(`Invalid option lingerMs: ${this.#lingerMs}`)
    if (!Number.isInteger(this.#maxBatchBytes) || this.#maxBatchBytes < 1) throw new RangeError(`Invalid option maxBatchBytes: ${this.#maxBatchBytes}`)
    this.producerId = this.#idempotent ? context.allocateProducerId() : -1
  }

  /** Send one record; resolves with its partition and offset once it is durable. */
  async send(topic: string, message: Message): Promise<SendResult> {
    const [result] = await this.sendBatch(topic, [message])
    return result as SendResult
  }

  /** Send several records (each may go to a different partition); resolves when all are durable. */
  async sendBatch(topicName: string, messages: readonly Message[]): Promise<SendResult[]> {
    if (this.#closed) throw new ClosedError('Cannot send: the producer is closed')
    if (!Array.isArray(messages)) throw new TypeError('Cannot send: messages must be an array')
    const topic = await this.#context.topic(topicName)
    const results = messages.map((message) => {
      if (message === null || typeof message !== 'object') throw new TypeError('Cannot send: a message must be an object')
      const partition = this.#context.partitioner.choose(topic.name, topic.partitions, message.key, message.partition)
      const { partition: _explicit, ...record } = message
      return this.#enqueue(topic, partition, record).then((offset) => ({ topic: topic.name, partition, offset }))
    })
    return Promise.all(results)
  }

  #enqueue(topic: Topic, partition: number, record: RecordInput): Promise<number> {
    const key = `${topic.name}/${partition}`
    let acc = this.#accumulators.get(key)
    if (acc === undefined) {
      acc = { topic, partition, records: [], pending: [], bytes: 0, timer: undefined }
      this.#accumulators.set(key, acc)
    }
    const accumulator = acc
    const promise = new Promise<number>((resolve, reject) => accumulator.pending.push({ resolve, reject }))
    accumulator.records.push(record)
    accumulator.bytes += sizeOf(record)
    if (accumulator.bytes >= this.#maxBatchBytes) this.#send(key, accumulator)
    else if (accumulator.timer === undefined) {
      // setTimeout(0) waits at least 1 ms; lingerMs 0 means "what arrives in this turn".
      const send = (): void => this.#send(key, accumulator)
      accumulator.timer = this.#lingerMs === 0 ? setImmediate(send) : setTimeout(send, this.#lingerMs)
    }
    return promise
  }

  #send(key: string, acc: Accumulator): void {
    if (acc.timer !== undefined) {
      clearTimeout(acc.timer as NodeJS.Timeout)
      clearImmediate(acc.timer as NodeJS.Immediate)
    }
    this.#accumulators.delete(key)
    if (acc.records.length === 0) return
    const sequence = this.#idempotent ? (this.#sequences.get(key) ?? 0) : -1
    if (this.#idempotent) this.#sequences.set(key, (sequence + acc.records.length) % SEQUENCE_LIMIT)
    this.#context.partitioner.batchSent(acc.topic.name, acc.partition, acc.topic.partitions)
    const sending = this.#appendWithRetries(acc, sequence).then(
      (result) => {
        acc.pending.forEach((p, i) => p.resolve(result.offsets?.[i] ?? result.baseOffset + i))
      },
      (err: unknown) => {
        for (const p of acc.pending) p.reject(err)
      },
    )
    this.#inFlight.add(sending)
    void sending.finally(() => this.#inFlight.delete(sending))
  }

  async #appendWithRetries(acc: Accumulator, sequence: number): Promise<AppendResult> {
    const options = this.#idempotent ? { producerId: this.producerId, producerEpoch: this.producerEpoch, baseSequence: sequence } : {}
    let partition: Partition = await acc.topic.writer(acc.partition)
    for (let attempt = 0; ; attempt++) {
      try {
        return await partition.append(acc.records, options)
      } catch (err) {
        const retriable = this.#idempotent && err instanceof SeglogError && err.code === 'ERR_STORAGE' && attempt < this.#retries
        if (!retriable) throw err
        partition = await acc.topic.reopenWriter(acc.partition, partition)
      }
    }
  }

  /** Send everything waiting now, and resolve when all sends so far are done. */
  async flush(): Promise<void> {
    for (const [key, acc] of [...this.#accumulators]) this.#send(key, acc)
    await Promise.allSettled([...this.#inFlight])
  }

  /** Flush, then refuse further sends. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.flush()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
