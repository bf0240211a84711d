/**
 * A consumer: a member of a consumer group that reads the partitions it owns, in offset order per
 * partition and one read chunk per partition in turn, and commits how far the group got.
 *
 * Delivery is at-least-once: a record is yielded, the loop body processes it, then it is
 * committed (by `commit(msg)`, `commit()`, or `autoCommit`). After a crash, a rebalance or a
 * close without commit, the partition's next owner starts from the committed offset, so records
 * yielded but not committed are delivered again — never lost.
 *
 * Everything that changes ownership runs inside the iterator, between yields (when the loop body
 * has finished with the last record) or while waiting for new records: the rebalance tick, the
 * auto-commit, and the release of partitions. A consumer that is not being iterated keeps what
 * it owns until it is iterated again or closed.
 *
 * Errors:
 * - `commit(msg)` for a partition this consumer no longer owns (it was revoked in a rebalance, or
 *   never owned): `LockedError` (`ERR_LOCKED`). Its new owner redelivers from the committed offset.
 * - starting with `from: 'none'` and no committed offset, or an out-of-range offset with
 *   `from: 'none'`: `OffsetOutOfRangeError`, thrown by the iterator.
 * - any call after `close()`: `ClosedError`.
 */
import { EventEmitter } from 'node:events'
import { ClosedError, LockedError } from '../errors.js'
import type { Partition } from '../partition/index.js'
import type { LogRecord, RecordHeader } from '../segment/index.js'
import { AssignedPartition, type FillContext, type OffsetReset, type SeekTarget } from './assigned-partition.js'
import { resolveConsumerOptions, type ConsumerOptions, type ResolvedConsumerOptions } from './consumer-options.js'
import { GroupMember, tpKey, type TopicPartition, type TopicPartitions } from './group-membership.js'
import type { OffsetStore } from './offset-store.js'

/** What a consumer needs of a topic (the log's `Topic` has it). */
export interface ConsumerTopic {
  readonly name: string
  readonly partitions: number
  /** A read-only handle on a partition, shared and kept open by the topic. */
  reader(partition: number): Promise<Partition>
}

/** What a consumer needs of the log that creates it. */
export interface ConsumerContext {
  /** The log's root folder (offsets live in `<root>/@groups/<group>/`). */
  root: string
  topic(name: string): Promise<ConsumerTopic>
}

/** A record as the consumer yields it. `key` and `value` are views into a read buffer. */
export interface ConsumerMessage {
  topic: string
  partition: number
  offset: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
  timestamp: number
}

export type SeekRequest = TopicPartition & SeekTarget

export interface ConsumerEvents {
  /** Partitions this consumer started owning. */
  assigned: [TopicPartition[]]
  /** Partitions it stopped owning (their uncommitted records go to the next owner). */
  revoked: [TopicPartition[]]
  /** A committed offset or position was out of range and was reset per `from`. */
  'offset-reset': [OffsetReset]
}

/**
 * @example
 * ```ts
 * const consumer = log.consumer({ group: 'billing', topics: ['orders'] })
 * for await (const msg of consumer) {
 *   await handle(msg.value)
 *   await consumer.commit(msg)
 * }
 * await consumer.close()
 * ```
 */
export class Consumer extends EventEmitter<ConsumerEvents> implements AsyncIterable<ConsumerMessage> {
  readonly group: string
  readonly topics: readonly string[]
  #context: ConsumerContext
  #options: ResolvedConsumerOptions
  #member: GroupMember | undefined
  #topics: ConsumerTopic[] = []
  #joining: Promise<void> | undefined
  #assigned = new Map<string, AssignedPartition>()
  /** Keys of #assigned in (partition, topic) order, for the round-robin. */
  #order: string[] = []
  #cursor = 0
  #pendingSeeks = new Map<string, SeekTarget>()
  #paused = new Set<string>()
  #iterating = false
  /** The record the loop body is processing (excluded from close's auto-commit). */
  #inFlight: { key: string; offset: number } | undefined
  #nextTickAt = 0
  #nextAutoCommitAt = 0
  #wakers = new Set<() => void>()
  #serial: Promise<unknown> = Promise.resolve()
  #closing: Promise<void> | undefined

  constructor(context: ConsumerContext, options: ConsumerOptions) {
    super()
    this.#options = resolveConsumerOptions(options)
    if (context === null || typeof context !== 'object' || typeof context.root !== 'string' || typeof context.topic !== 'function') {
      throw new TypeError('Consumer context must be { root: string, topic(name) }')
    }
    this.#context = context
    this.group = this.#options.group
    this.topics = this.#options.topics
    if (this.#options.autoCommitIntervalMs !== undefined) this.#nextAutoCommitAt = Date.now() + this.#options.autoCommitIntervalMs
  }

  /** This member's id in the group (`<pid>-<random>`), once started. */
  get memberId(): string | undefined {
    return this.#member?.id
  }

  /** Join the group and run the first rebalance. Iterating does this by itself. */
  async start(): Promise<void> {
    this.#checkOpen('start')
    await this.#join()
    if (this.#nextTickAt === 0) await this.#rebalance()
  }

  /** The partitions this consumer owns now, sorted by (partition, topic). */
  assignment(): TopicPartition[] {
    return this.#order.map((key) => tpOf(this.#assigned.get(key) as AssignedPartition))
  }

  /** Yield records of the owned partitions. One iteration at a time; breaking out keeps the consumer open. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerMessage, void, undefined> {
    this.#checkOpen('iterate')
    if (this.#iterating) throw new TypeError(`Cannot iterate the consumer of group '${this.group}' twice at once`)
    this.#iterating = true
    try {
      await this.start()
      while (this.#closing === undefined) {
        await this.#housekeeping()
        if (this.#closing !== undefined) return
        const next = this.#nextRecord()
        if (next !== undefined) {
          const { state, record } = next
          this.#inFlight = { key: tpKey(state.topic, state.partition), offset: record.offset }
          yield { topic: state.topic, partition: state.partition, offset: record.offset, key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp }
          this.#inFlight = undefined
          continue
        }
        if (!this.#options.follow) return
        await this.#waitForData()
      }
    } finally {
      this.#iterating = false
      this.#inFlight = undefined
    }
  }

  /**
   * Commit `message.offset + 1` for its partition (with `metadata`), or, without a message, the
   * position of every owned partition (everything yielded so far). Resolves once durable.
   * Throws `LockedError` if the message's partition is no longer owned by this consumer.
   */
  async commit(message?: Pick<ConsumerMessage, 'topic' | 'partition' | 'offset'>, metadata = ''): Promise<void> {
    this.#checkOpen('commit')
    if (message === undefined) {
      await this.#commitPositions()
      return
    }
    const { topic, partition, offset } = message
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`Cannot commit offset ${offset}: expected a safe integer ≥ 0`)
    const state = this.#assigned.get(tpKey(topic, partition))
    if (state === undefined) {
      throw new LockedError(
        `Cannot commit offset ${offset + 1} of ${topic}/${partition} for group '${this.group}': this consumer does not own the partition (it was reassigned to another member, or never assigned here); its uncommitted records will be delivered to its owner again`,
      )
    }
    if (state.position === undefined || offset >= state.position) {
      throw new RangeError(`Cannot commit offset ${offset + 1} of ${topic}/${partition}: record ${offset} was not yielded by this consumer (its position is ${state.position ?? 'unset'})`)
    }
    await state.commit(offset + 1, metadata)
  }

  /**
   * Set the next offset to read of a partition: `{ offset }`, or `{ timestamp }` for the first
   * record at or after it (through the time index). Takes effect at the next read and drops what
   * was read ahead; for a partition not owned yet it is remembered until it is assigned. An
   * offset outside the log is reset per `from`. The next commit may then go backwards.
   */
  seek(request: SeekRequest): void {
    this.#checkOpen('seek')
    const key = this.#checkTp(request, 'seek')
    let target: SeekTarget
    if ('offset' in request) {
      if (!Number.isSafeInteger(request.offset) || request.offset < 0) throw new RangeError(`Cannot seek to offset ${request.offset}: expected a safe integer ≥ 0`)
      target = { offset: request.offset }
    } else if ('timestamp' in request) {
      if (typeof request.timestamp !== 'number' || !Number.isFinite(request.timestamp)) throw new RangeError(`Cannot seek to timestamp ${String(request.timestamp)}`)
      target = { timestamp: request.timestamp }
    } else {
      throw new TypeError('Cannot seek: expected { topic, partition, offset } or { topic, partition, timestamp }')
    }
    const state = this.#assigned.get(key)
    if (state === undefined) this.#pendingSeeks.set(key, target)
    else state.seek(target)
    this.#wake()
  }

  /** Stop reading these partitions (they stay owned) until `resume`. */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#paused.add(this.#checkTp(tp, 'pause'))
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#paused.delete(this.#checkTp(tp, 'resume'))
    this.#wake()
  }

  paused(): TopicPartition[] {
    return [...this.#paused].map((key) => {
      const at = key.lastIndexOf('/')
      return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) }
    })
  }

  /**
   * Stop: end the iteration, commit processed positions under `autoCommit` (not the record the
   * loop body may still be processing), release every owned partition (emitting 'revoked') and
   * leave the group. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    const inFlight = this.#inFlight
    this.#closing = this.#exclusive(async () => {
      const member = this.#member
      if (member === undefined) return
      const owned = this.assignment()
      try {
        await member.leave((store) => this.#beforeRelease(store, inFlight))
      } finally {
        this.#order = []
        if (owned.length > 0) this.emit('revoked', owned)
      }
    })
    this.#wake()
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #checkOpen(what: string): void {
    if (this.#closing !== undefined) throw new ClosedError(`Cannot ${what}: the consumer of group '${this.group}' is closed`)
  }

  #checkTp(tp: TopicPartition, what: string): string {
    if (tp === null || typeof tp !== 'object' || !this.topics.includes(tp.topic)) {
      throw new RangeError(`Cannot ${what} ${String(tp?.topic)}: the consumer of group '${this.group}' is not subscribed to it`)
    }
    if (!Number.isInteger(tp.partition) || tp.partition < 0) throw new RangeError(`Cannot ${what} partition ${tp.partition} of ${tp.topic}`)
    return tpKey(tp.topic, tp.partition)
  }

  /** Run `fn` after every earlier membership operation (join, rebalance, close) has finished. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn)
    this.#serial = run.catch(() => {})
    return run
  }

  #join(): Promise<void> {
    this.#joining ??= this.#exclusive(async () => {
      const topics = await Promise.all(this.topics.map((name) => this.#context.topic(name)))
      this.#checkOpen('join the group')
      this.#topics = topics
      this.#member = await GroupMember.join(this.#context.root, this.group, { store: this.#options.offsetStore })
    }).catch((err: unknown) => {
      this.#joining = undefined // nothing was joined: a later start() may try again
      throw err
    })
    return this.#joining
  }

  async #housekeeping(): Promise<void> {
    if (Date.now() >= this.#nextTickAt) await this.#rebalance()
    const interval = this.#options.autoCommitIntervalMs
    if (interval !== undefined && Date.now() >= this.#nextAutoCommitAt) {
      await this.#commitPositions()
      this.#nextAutoCommitAt = Date.now() + interval
    }
  }

  /** One rebalance tick; emits 'revoked' and 'assigned'. */
  #rebalance(): Promise<void> {
    return this.#exclusive(async () => {
      const member = this.#member
      if (member === undefined || this.#closing !== undefined) return
      this.#nextTickAt = Date.now() + this.#options.rebalanceIntervalMs
      const topics: TopicPartitions[] = this.#topics.map((t) => ({ name: t.name, partitions: t.partitions }))
      const { assigned, revoked } = await member.rebalance(topics, (store) => this.#beforeRelease(store, undefined))
      let failure: unknown
      const added: TopicPartition[] = []
      for (const { topic, partition, store } of assigned) {
        const key = tpKey(topic, partition)
        try {
          const reader = await (this.#topics.find((t) => t.name === topic) as ConsumerTopic).reader(partition)
          const state = new AssignedPartition(store, reader, this.#pendingSeeks.get(key))
          // 'latest' means the durable offset at assignment time: settle the start now.
          state.resolve(this.#fillContext())
          this.#pendingSeeks.delete(key)
          state.watch(() => this.#wake())
          this.#assigned.set(key, state)
          added.push({ topic, partition })
        } catch (err) {
          failure ??= err
          await member.release(store).catch(() => {})
        }
      }
      this.#order = [...this.#assigned.values()].sort(byPartitionThenTopic).map((s) => tpKey(s.topic, s.partition))
      if (added.length > 0 || revoked.length > 0) this.#cursor = 0
      this.#nextTickAt = Date.now() + this.#options.rebalanceIntervalMs
      if (revoked.length > 0) this.emit('revoked', revoked)
      if (added.length > 0) this.emit('assigned', added)
      if (failure !== undefined) throw failure
    })
  }

  /** Forget a partition being released; under autoCommit, commit what was processed first. */
  async #beforeRelease(store: OffsetStore, inFlight: { key: string; offset: number } | undefined): Promise<void> {
    const key = tpKey(store.topic, store.partition)
    const state = this.#assigned.get(key)
    if (state === undefined) return
    this.#assigned.delete(key)
    this.#order = this.#order.filter((k) => k !== key)
    state.close()
    if (this.#options.autoCommitIntervalMs === undefined || state.position === undefined) return
    await state.commit(inFlight?.key === key ? inFlight.offset : state.position, '')
  }

  /** Commit every owned partition's position (everything yielded so far). */
  async #commitPositions(): Promise<void> {
    const commits: Array<Promise<void>> = []
    for (const state of this.#assigned.values()) {
      if (state.position === undefined) continue
      commits.push(state.commit(state.position, ''))
    }
    const results = await Promise.allSettled(commits)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }

  #fillContext(): FillContext {
    return { group: this.group, from: this.#options.from, maxBytes: this.#options.maxBytes, onReset: (reset) => this.emit('offset-reset', reset) }
  }

  /** The next record, taking one read chunk per partition in turn; undefined when all are caught up. */
  #nextRecord(): { state: AssignedPartition; record: LogRecord } | undefined {
    const count = this.#order.length
    const ctx = this.#fillContext()
    for (let i = 0; i < count; i++) {
      const at = (this.#cursor + i) % count
      const key = this.#order[at] as string
      if (this.#paused.has(key)) continue
      const state = this.#assigned.get(key) as AssignedPartition
      if (!state.fill(ctx)) continue
      const record = state.take()
      // Stay on this partition until its chunk is used up, then give the next one its turn.
      this.#cursor = state.buffered > 0 ? at : (at + 1) % count
      return { state, record }
    }
    return undefined
  }

  /** Sleep until a watched partition changes, the poll interval passes, a tick is due, or close/seek/resume. */
  async #waitForData(): Promise<void> {
    const { pollIntervalMs, autoCommitIntervalMs } = this.#options
    let deadline = Math.min(this.#nextTickAt, Date.now() + pollIntervalMs)
    if (autoCommitIntervalMs !== undefined) deadline = Math.min(deadline, this.#nextAutoCommitAt)
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wakers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()))
      this.#wakers.add(done)
    })
  }

  #wake(): void {
    for (const w of [...this.#wakers]) w()
  }
}

function tpOf(state: AssignedPartition): TopicPartition {
  return { topic: state.topic, partition: state.partition }
}

function byPartitionThenTopic(a: TopicPartition, b: TopicPartition): number {
  return a.partition - b.partition || (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)
}
