/**
 * A topic: a named set of partitions sharing one configuration, stored in `<root>/<topic>/`:
 *
 *   topic.json     the configuration, validated on every open
 *   0/, 1/, …      one partition folder each
 *
 * Partitions open lazily: a writer when this process first appends to one, a read-only handle
 * when it first reads one.
 */
import fs from 'node:fs'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { InvalidConfigError, StorageError } from '../errors.js'
import * as io from '../file-io.js'
import { validateName } from '../names.js'
import { resolveOptions, type CleanupPolicy, type FsyncPolicy, type PartitionOptions } from './options.js'
import { Partition } from './partition.js'

export const TOPIC_CONFIG_FILE = 'topic.json'
export const PARTITIONS_MAX = 10_000

/** A topic's configuration. Every option but `partitions` defaults as in {@link PartitionOptions}. */
export interface TopicConfig {
  partitions: number
  /** `'delete'` (default), `'compact'` (newest record per key), or both. */
  cleanupPolicy?: CleanupPolicy
  minCleanableDirtyRatio?: number
  deleteRetentionMs?: number
  compactionBufferBytes?: number
  fsync?: FsyncPolicy
  segmentBytes?: number
  segmentMs?: number
  retentionBytes?: number
  retentionMs?: number
  maxRecordBytes?: number
  maxBatchBytes?: number
  compression?: 'none' | 'gzip'
  /** Message-id dedup window (ms); 0 or absent: off. */
  dedupWindowMs?: number
}

const CONFIG_KEYS = [
  'partitions',
  'cleanupPolicy',
  'fsync',
  'segmentBytes',
  'segmentMs',
  'retentionBytes',
  'retentionMs',
  'maxRecordBytes',
  'maxBatchBytes',
  'compression',
  'dedupWindowMs',
  'minCleanableDirtyRatio',
  'deleteRetentionMs',
  'compactionBufferBytes',
] as const

/** Check a config and put it in its stored form (keys sorted, unlimited as absent). */
export function normalizeTopicConfig(config: TopicConfig): TopicConfig {
  if (config === null || typeof config !== 'object') throw new TypeError('Topic config must be an object')
  for (const key of Object.keys(config)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) throw new TypeError(`Unknown topic option '${key}'`)
  }
  const { partitions } = config
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
    throw new RangeError(`Invalid topic option partitions: ${String(partitions)}; expected an integer in [1, ${PARTITIONS_MAX}]`)
  }
  if (config.dedupWindowMs !== undefined && (!Number.isInteger(config.dedupWindowMs) || config.dedupWindowMs < 0)) {
    throw new RangeError(`Invalid topic option dedupWindowMs: ${String(config.dedupWindowMs)}`)
  }
  const { partitions: _p, ...partitionOptions } = config
  resolveOptions(partitionOptions as PartitionOptions) // throws on a bad value
  const out: Record<string, unknown> = {}
  for (const key of CONFIG_KEYS) {
    const value = config[key]
    if (value === undefined || value === Infinity) continue
    out[key] = value
  }
  out.cleanupPolicy ??= 'delete'
  return out as unknown as TopicConfig
}

export class Topic {
  readonly name: string
  readonly dir: string
  readonly config: TopicConfig
  #writers = new Map<number, Promise<Partition>>()
  #readers = new Map<number, Promise<Partition>>()
  #closed = false

  private constructor(name: string, dir: string, config: TopicConfig) {
    this.name = name
    this.dir = dir
    this.config = config
  }

  /**
   * Create `root/name` with `config`, or open it if it exists with the same config. A different
   * stored config is an `InvalidConfigError`; nothing is changed.
   */
  static async create(root: string, name: string, config: TopicConfig, dirMode = 0o700): Promise<Topic> {
    validateName('topic', name)
    const wanted = normalizeTopicConfig(config)
    const dir = path.join(root, name)
    const existing = readTopicConfig(dir)
    if (existing !== undefined) {
      if (!isDeepStrictEqual(existing, wanted)) {
        throw new InvalidConfigError(
          `Cannot create topic '${name}': it exists with a different config (stored ${JSON.stringify(existing)}, given ${JSON.stringify(wanted)})`,
          { file: path.join(dir, TOPIC_CONFIG_FILE) },
        )
      }
      return new Topic(name, dir, existing)
    }
    io.mkdir(dir, dirMode)
    // Partition folders first, config last: a topic is visible only once it is complete.
    const options = partitionOptionsOf(wanted)
    for (let p = 0; p < wanted.partitions; p++) await (await Partition.open(path.join(dir, String(p)), options)).close()
    io.writeFileAtomic(dir, TOPIC_CONFIG_FILE, JSON.stringify(wanted, null, 2) + '\n')
    io.fsyncDir(root)
    return new Topic(name, dir, wanted)
  }

  /** Open an existing topic; `undefined` if there is none. */
  static open(root: string, name: string): Topic | undefined {
    validateName('topic', name)
    const dir = path.join(root, name)
    const config = readTopicConfig(dir)
    return config === undefined ? undefined : new Topic(name, dir, config)
  }

  get partitions(): number {
    return this.config.partitions
  }

  /** Options each partition of this topic is opened with. */
  partitionOptions(): PartitionOptions {
    return partitionOptionsOf(this.config)
  }

  partitionDir(partition: number): string {
    this.#checkPartition(partition)
    return path.join(this.dir, String(partition))
  }

  /** This process's writer of `partition`, opened on first use (and reopened after a failure). */
  writer(partition: number): Promise<Partition> {
    this.#checkPartition(partition)
    let opening = this.#writers.get(partition)
    if (opening === undefined) {
      opening = Partition.open(this.partitionDir(partition), this.partitionOptions())
      this.#writers.set(partition, opening)
      opening.catch(() => this.#writers.delete(partition))
    }
    return opening
  }

  /** Close and forget a writer (after a storage error), so the next `writer()` reopens and recovers. */
  async reopenWriter(partition: number, failed: Partition): Promise<Partition> {
    const current = this.#writers.get(partition)
    if (current !== undefined && (await current.catch(() => undefined)) === failed) {
      this.#writers.delete(partition)
      await failed.close().catch(() => {})
    }
    return this.writer(partition)
  }

  /** A read-only handle on `partition` (no lock; sees what any writer made durable). */
  reader(partition: number): Promise<Partition> {
    this.#checkPartition(partition)
    let opening = this.#readers.get(partition)
    if (opening === undefined) {
      opening = Partition.openReadOnly(this.partitionDir(partition), this.partitionOptions())
      this.#readers.set(partition, opening)
      opening.catch(() => this.#readers.delete(partition))
    }
    return opening
  }

  /** The writer if this process has one open, else undefined. */
  async openWriter(partition: number): Promise<Partition | undefined> {
    const opening = this.#writers.get(partition)
    return opening === undefined ? undefined : opening.catch(() => undefined)
  }

  #checkPartition(partition: number): void {
    if (this.#closed) throw new StorageError(`Cannot use topic '${this.name}': it is closed`)
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.config.partitions) {
      throw new RangeError(`Invalid partition ${partition} of topic '${this.name}': it has partitions 0 to ${this.config.partitions - 1}`)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const all = [...this.#writers.values(), ...this.#readers.values()]
    this.#writers.clear()
    this.#readers.clear()
    const errors: unknown[] = []
    for (const opening of all) {
      const p = await opening.catch(() => undefined)
      if (p !== undefined) await p.close().catch((err: unknown) => errors.push(err))
    }
    if (errors.length > 0) throw errors[0]
  }
}

function partitionOptionsOf(config: TopicConfig): PartitionOptions {
  const { partitions: _p, ...options } = config
  return options as PartitionOptions
}

/** The stored config of the topic in `dir`, undefined if there is none; throws if it is unreadable. */
export function readTopicConfig(dir: string): TopicConfig | undefined {
  // A topic folder that is a symbolic link is refused: its partitions would be written wherever it points.
  if (fs.lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink() === true) {
    throw new StorageError(`Cannot use topic folder ${dir}: it is a symbolic link, which seglog does not follow`, { file: dir })
  }
  const file = path.join(dir, TOPIC_CONFIG_FILE)
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StorageError(`Cannot read ${file}: ${(err as Error).message}`, { file, cause: err })
  }
  try {
    return normalizeTopicConfig(JSON.parse(text) as TopicConfig)
  } catch (err) {
    throw new InvalidConfigError(`Cannot open topic config ${file}: ${(err as Error).message}; fix or remove the file`, { file, cause: err })
  }
}
