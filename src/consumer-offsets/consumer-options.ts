/**
 * Consumer options: defaults, and validation that names the bad option before anything touches
 * the disk (`TypeError` for a wrong kind of value, `RangeError` for a number out of range).
 */
import { validateName } from '../names.js'
import type { StartFrom } from './assigned-partition.js'
import type { OffsetStoreOptions } from './offset-store.js'

export interface ConsumerOptions {
  /** The consumer group: its members share the partitions and the committed offsets. */
  group: string
  /** Topics to consume. */
  topics: string[]
  /**
   * Where a partition starts when the group has no committed offset for it, or when its offset
   * is out of range (retention deleted it): `'earliest'` (log start offset, the default),
   * `'latest'` (the durable offset at that moment), or `'none'` (throw `OffsetOutOfRangeError`).
   */
  from?: StartFrom
  /** Commit the positions of processed records every `intervalMs`, on rebalance and on close. Default: off. */
  autoCommit?: { intervalMs: number }
  /** How often membership is checked and partitions rebalanced. Default 1000 ms. */
  rebalanceIntervalMs?: number
  /** Bytes read per partition per turn (at least one batch). Default 1 MiB. */
  maxBytes?: number
  /** Wait for new records when caught up (default `true`); `false`: finish when caught up on every owned, unpaused partition. */
  follow?: boolean
  /** When caught up, how often partitions are re-read if `fs.watch` reports nothing. Default 20 ms. */
  pollIntervalMs?: number
  /** Options of the offset stores (fsync policy of commits, file modes). */
  offsetStore?: OffsetStoreOptions
}

export interface ResolvedConsumerOptions {
  group: string
  topics: string[]
  from: StartFrom
  autoCommitIntervalMs: number | undefined
  rebalanceIntervalMs: number
  maxBytes: number
  follow: boolean
  pollIntervalMs: number
  offsetStore: OffsetStoreOptions
}

const KEYS = ['group', 'topics', 'from', 'autoCommit', 'rebalanceIntervalMs', 'maxBytes', 'follow', 'pollIntervalMs', 'offsetStore']
const INTERVAL_MS_MAX = 2 ** 31 - 1
const MAX_BYTES_MAX = 2 ** 31 - 1

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Invalid consumer option ${name}: ${String(value)}; expected an integer in [${min}, ${max}]`)
  }
  return value
}

/** Fill in defaults and check every value. */
export function resolveConsumerOptions(options: ConsumerOptions): ResolvedConsumerOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('Consumer options must be an object')
  for (const key of Object.keys(options)) if (!KEYS.includes(key)) throw new TypeError(`Unknown consumer option '${key}'`)
  const group = validateName('group', options.group)
  if (!Array.isArray(options.topics) || options.topics.length === 0) throw new TypeError('Invalid consumer option topics: expected a non-empty array of topic names')
  const topics = [...new Set(options.topics.map((t) => validateName('topic', t)))]
  const from = options.from ?? 'earliest'
  if (from !== 'earliest' && from !== 'latest' && from !== 'none') {
    throw new TypeError(`Invalid consumer option from: ${String(from)}; expected 'earliest', 'latest' or 'none'`)
  }
  let autoCommitIntervalMs: number | undefined
  if (options.autoCommit !== undefined) {
    if (options.autoCommit === null || typeof options.autoCommit !== 'object') throw new TypeError('Invalid consumer option autoCommit: expected { intervalMs }')
    autoCommitIntervalMs = integer('autoCommit.intervalMs', options.autoCommit.intervalMs, 1, INTERVAL_MS_MAX)
  }
  if (options.follow !== undefined && typeof options.follow !== 'boolean') throw new TypeError('Invalid consumer option follow: expected a boolean')
  if (options.offsetStore !== undefined && (options.offsetStore === null || typeof options.offsetStore !== 'object')) {
    throw new TypeError('Invalid consumer option offsetStore: expected an object')
  }
  return {
    group,
    topics,
    from,
    autoCommitIntervalMs,
    rebalanceIntervalMs: integer('rebalanceIntervalMs', options.rebalanceIntervalMs ?? 1000, 1, INTERVAL_MS_MAX),
    maxBytes: integer('maxBytes', options.maxBytes ?? 1024 * 1024, 1, MAX_BYTES_MAX),
    follow: options.follow ?? true,
    pollIntervalMs: integer('pollIntervalMs', options.pollIntervalMs ?? 20, 1, INTERVAL_MS_MAX),
    offsetStore: options.offsetStore ?? {},
  }
}
