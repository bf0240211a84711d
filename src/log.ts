/**
 * Log: the public entry point. A root folder holding topics, their partitions, consumer groups'
 * committed offsets and producer ids:
 *
 *   <root>/seglog.json                     format marker, checked on open
 *   <root>/<topic>/topic.json, <topic>/N/  topics and their partitions
 *   <root>/@groups/<group>/…               committed offsets and members of each group
 *   <root>/@producers/                     the next producer id (flock'd while allocated)
 *
 * `@` cannot appear in a topic or group name, so internal folders never collide with topics.
 * Several processes may open the same root: each partition has one writer at a time (flock),
 * any number of readers, and a group spreads its partitions over its members.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Consumer, OffsetStore, GROUPS_DIR, type ConsumerOptions } from './consumer-offsets/index.js'
import { ClosedError, InvalidConfigError, storageErrorOf, UnknownTopicError } from './errors.js'
import * as io from './file-io.js'
import { hashes } from './hash.js'
import { validateName } from './names.js'
import { Partitioner, Producer, readCheckpoint, Topic, writeCheckpoint, type CleanResult, type Partition, type ProducerOptions, type TopicConfig } from './partition/index.js'
import { flockSync } from 'fs-ext'

export const LOG_MARKER_FILE = 'seglog.json'
const FORMAT_VERSION = 1
const PRODUCERS_DIR = '@producers'
const NEXT_PRODUCER_ID_FILE = 'next-producer-id'

export interface LogOptions {
  /** Mode of folders created. Default 0o700. */
  dirMode?: number
}

export interface PartitionDescription {
  partition: number
  logStartOffset: number
  durableOffset: number
  logEndOffset: number
  sizeBytes: number
  segments: number
  /** Compacted topics: the share of sealed bytes not yet compacted. */
  dirtyRatio?: number
}

export interface TopicDescription {
  name: string
  config: TopicConfig
  partitions: PartitionDescription[]
}

export interface GroupPartitionLag {
  topic: string
  partition: number
  /** The next offset the group will read; undefined if it never committed. */
  committed: number | undefined
  durableOffset: number
  /** Records not yet consumed: durable offset − committed (or − log start if never committed). */
  lag: number
}

export interface GroupDescription {
  group: string
  partitions: GroupPartitionLag[]
}

/**
 * @example
 * ```ts
 * const log = await Log.open('./data')
 * await log.createTopic('orders', { partitions: 4 })
 * const producer = log.producer()
 * await producer.send('orders', { key: 'user-7', value: 'hello' })
 * const consumer = log.consumer({ group: 'billing', topics: ['orders'], from: 'earliest' })
 * for await (const msg of consumer) { console.log(msg.value?.toString()); await consumer.commit(msg) }
 * ```
 */
export class Log {
  readonly root: string
  #topics = new Map<string, Topic>()
  #producers = new Set<Producer>()
  #consumers = new Set<Consumer>()
  #partitioner: Partitioner
  #dirMode: number
  #closed = false

  private constructor(root: string, partitioner: Partitioner, dirMode: number) {
    this.root = root
    this.#partitioner = partitioner
    this.#dirMode = dirMode
  }

  /** Open the log in `root`, creating the folder if missing. */
  static async open(root: string, options: LogOptions = {}): Promise<Log> {
    const dirMode = options.dirMode ?? 0o700
    try {
      Log.#prepareRoot(root, dirMode)
    } catch (err) {
      throw storageErrorOf(err, `Cannot open log ${root}`)
    }
    return new Log(root, new Partitioner(await hashes()), dirMode)
  }

  static #prepareRoot(root: string, dirMode: number): void {
    io.mkdir(root, dirMode)
    const marker = path.join(root, LOG_MARKER_FILE)
    if (fs.existsSync(marker)) {
      let format: unknown
      try {
        format = (JSON.parse(fs.readFileSync(marker, 'utf8')) as { format?: unknown }).format
      } catch (err) {
        throw new InvalidConfigError(`Cannot open log ${root}: ${marker} is not valid JSON`, { file: marker, cause: err })
      }
      if (format !== FORMAT_VERSION) throw new InvalidConfigError(`Cannot open log ${root}: format ${String(format)} is not supported (expected ${FORMAT_VERSION})`, { file: marker })
    } else {
      io.writeFileAtomic(root, LOG_MARKER_FILE, JSON.stringify({ format: FORMAT_VERSION }) + '\n')
    }
  }

  /**
   * Create a topic. Creating it again with the same config does nothing; with a different one
   * it fails with `ERR_INVALID_CONFIG`. A bad name fails with `ERR_INVALID_NAME` and touches nothing.
   */
  async createTopic(name: string, config: TopicConfig): Promise<void> {
    this.#checkOpen()
    let topic: Topic
    try {
      topic = await Topic.create(this.root, name, config, this.#dirMode)
    } catch (err) {
      throw storageErrorOf(err, `Cannot create topic '${String(name)}' in ${this.root}`)
    }
    if (!this.#topics.has(name)) this.#topics.set(name, topic)
  }

  /** Names of the topics in this log, sorted. */
  topics(): string[] {
    this.#checkOpen()
    return fs
      .readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('@') && fs.existsSync(path.join(this.root, e.name, 'topic.json')))
      .map((e) => e.name)
      .sort()
  }

  /** The topic `name`, opened once per log. Throws `ERR_UNKNOWN_TOPIC` if it does not exist. */
  async topic(name: string): Promise<Topic> {
    this.#checkOpen()
    validateName('topic', name)
    let topic = this.#topics.get(name)
    if (topic === undefined) {
      topic = Topic.open(this.root, name)
      if (topic === undefined) throw new UnknownTopicError(`Topic '${name}' does not exist in ${this.root}; create it with createTopic() or 'seglog produce --partitions N'`)
      this.#topics.set(name, topic)
    }
    return topic
  }

  /** Per partition: log start, durable and end offsets, bytes, segments. */
  async describe(name: string): Promise<TopicDescription> {
    const topic = await this.topic(name)
    const partitions: PartitionDescription[] = []
    for (let p = 0; p < topic.partitions; p++) {
      const partition: Partition = (await topic.openWriter(p)) ?? (await topic.reader(p))
      partition.refresh() // what another process wrote since
      partitions.push({
        partition: p,
        logStartOffset: partition.logStartOffset,
        durableOffset: partition.durableOffset,
        logEndOffset: partition.logEndOffset,
        sizeBytes: partition.sizeBytes,
        segments: partition.segmentCount,
        ...(topic.config.cleanupPolicy !== undefined && topic.config.cleanupPolicy !== 'delete' ? { dirtyRatio: partition.dirtyRatio() } : {}),
      })
    }
    return { name, config: topic.config, partitions }
  }

  /**
   * Compact every partition of a compacted topic now (opening its writers in this process),
   * whatever the dirty ratio. Resolves with each partition's result.
   */
  async compact(name: string): Promise<Array<CleanResult & { partition: number }>> {
    const topic = await this.topic(name)
    const results: Array<CleanResult & { partition: number }> = []
    for (let p = 0; p < topic.partitions; p++) results.push({ partition: p, ...(await (await topic.writer(p)).compact()) })
    return results
  }

  /** Every consumer group with its committed offset and lag per partition. */
  async groups(): Promise<GroupDescription[]> {
    this.#checkOpen()
    const dir = path.join(this.root, GROUPS_DIR)
    if (!fs.existsSync(dir)) return []
    const groups: GroupDescription[] = []
    for (const group of fs.readdirSync(dir).sort()) {
      const partitions: GroupPartitionLag[] = []
      for (const entry of await OffsetStore.peekGroup(this.root, group)) {
        let description: PartitionDescription | undefined
        try {
          description = (await this.describe(entry.topic)).partitions[entry.partition]
        } catch {
          description = undefined // the topic is gone; its offsets stay until the group is removed
        }
        if (description === undefined) continue
        const committed = entry.committed?.offset
        partitions.push({
          topic: entry.topic,
          partition: entry.partition,
          committed,
          durableOffset: description.durableOffset,
          lag: Math.max(0, description.durableOffset - (committed ?? description.logStartOffset)),
        })
      }
      groups.push({ group, partitions })
    }
    return groups
  }

  /** A producer; see {@link Producer}. */
  producer(options: ProducerOptions = {}): Producer {
    this.#checkOpen()
    const producer = new Producer({ topic: (name) => this.topic(name), allocateProducerId: () => this.#allocateProducerId(), partitioner: this.#partitioner }, options)
    this.#producers.add(producer)
    return producer
  }

  /** A consumer in a group; see {@link Consumer}. */
  consumer(options: ConsumerOptions): Consumer {
    this.#checkOpen()
    validateName('group', options?.group)
    const consumer = new Consumer({ root: this.root, topic: (name) => this.topic(name) }, options)
    this.#consumers.add(consumer)
    return consumer
  }

  /** Producer ids are unique across every process that opens this root (a flock guards the counter). */
  #allocateProducerId(): number {
    const dir = path.join(this.root, PRODUCERS_DIR)
    try {
      io.mkdir(dir, this.#dirMode)
      const fd = io.open(path.join(dir, '.lock'), fs.constants.O_RDWR | fs.constants.O_CREAT)
      try {
        flockSync(fd, 'ex')
        const next = readCheckpoint(dir, NEXT_PRODUCER_ID_FILE)
        const id = next === undefined || Number.isNaN(next) ? 0 : next
        writeCheckpoint(dir, NEXT_PRODUCER_ID_FILE, id + 1, 0o600)
        return id
      } finally {
        io.close(fd)
      }
    } catch (err) {
      throw storageErrorOf(err, `Cannot allocate a producer id in ${dir}`)
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`Cannot use log ${this.root}: it is closed`)
  }

  /** Close consumers, producers (flushing them) and every partition opened through this log. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const c of this.#consumers) await c.close()
    for (const p of this.#producers) await p.close()
    for (const t of this.#topics.values()) await t.close()
    this.#topics.clear()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
