/**
 * `seglog consume DIR TOPIC` (and `seglog tail`, the same with `--follow`): print a topic's
 * records on stdout, one line each.
 *
 * Two ways to read:
 * - Without `--group`, every partition (or the one of `--partition`) is read directly through a
 *   read-only handle, from `--from earliest|latest` or `--offset N`: no lock, no commit, nothing
 *   written, so it can run beside any writer and any group. One reader per partition, each
 *   waiting on its own (fs.watch, polling as fallback) when `--follow`ing.
 * - With `--group G`, as a member of the consumer group G: the group's committed offsets say where
 *   to start, other members share the partitions, and a record is committed only after its line
 *   was written to stdout (see line-sink.ts), so a crash or a closed pipe may print a record again
 *   next time but never skips one (at-least-once). Commits are made once per chunk of output, for
 *   the last record of each partition in it, so a commit's fsync covers many records.
 *
 * Per partition, records come in offset order; partitions are interleaved. `--max N` stops after
 * N records; without `--follow` the command ends when it has caught up with every partition.
 * SIGINT / SIGTERM end it cleanly (what was printed is committed) with exit 0.
 */
import { Option, type Command } from 'commander'
import { LockedError, type Consumer, type ConsumerMessage, type Log, type Partition, type Topic } from '../src/seglog.js'
import type { LogRecord } from '../src/segment/index.js'
import { action, CliError, EXIT_OK } from './cli.js'
import { LineSink } from './line-sink.js'
import { existingTopic, openExistingLog } from './open-log.js'
import { integerIn } from './parse-options.js'
import { jsonBytes, textBytes } from './value-encoding.js'

export const CONSUME_VALUE_ENCODINGS = ['utf8', 'hex', 'base64'] as const
type ConsumeEncoding = (typeof CONSUME_VALUE_ENCODINGS)[number]

/** Options as commander gives them: flags not given are absent. */
export interface ConsumeOptions {
  group?: string
  from: 'earliest' | 'latest'
  partition?: number
  offset?: number
  max?: number
  follow?: boolean
  printKey?: boolean
  values: ConsumeEncoding
  json?: boolean
}

/** A record printed: where it is, for the commit that follows its line. */
interface Mark {
  topic: string
  partition: number
  offset: number
}

type Format = (topic: string, partition: number, record: LogRecord) => string

/** `--json`: dump's record fields (`offset, timestamp, key, value, headers`) after topic and partition. */
function formatOf(options: ConsumeOptions): Format {
  const values = options.values
  if (options.json === true) {
    return (topic, partition, r) =>
      JSON.stringify({
        topic,
        partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: jsonBytes(r.key, values),
        value: jsonBytes(r.value, values),
        headers: r.headers.map(([k, v]) => [k, jsonBytes(v, values)]),
      })
  }
  if (options.printKey === true) return (_topic, _partition, r) => `${textBytes(r.key, values)}\t${textBytes(r.value, values)}`
  return (_topic, _partition, r) => textBytes(r.value, values)
}

/** Aborted by the first SIGINT or SIGTERM (a second one ends the process as usual). */
function stopOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const stop = (): void => controller.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    },
  }
}

export async function consume(dir: string, topicName: string, options: ConsumeOptions, follow: boolean): Promise<number> {
  if (options.group !== undefined && (options.partition !== undefined || options.offset !== undefined)) {
    throw new CliError("--partition and --offset read without a group; with --group the group's committed offsets say where to start")
  }
  const log = await openExistingLog(dir)
  const { signal, dispose } = stopOnSignals()
  try {
    const topic = await existingTopic(log, topicName)
    if (options.partition !== undefined && options.partition >= topic.partitions) {
      throw new CliError(`topic '${topic.name}' has partitions 0 to ${topic.partitions - 1}, not ${options.partition}`)
    }
    if (options.offset !== undefined && options.partition === undefined && topic.partitions > 1) {
      throw new CliError(`--offset needs --partition: topic '${topic.name}' has ${topic.partitions} partitions`)
    }
    const max = options.max ?? Infinity
    if (options.group !== undefined) await consumeGroup(log, topic, options.group, options, follow, max, signal)
    else await consumeDirect(topic, options, follow, max, signal)
  } finally {
    dispose()
    await log.close()
  }
  return EXIT_OK
}

/** Read partitions directly, read-only: no group, no commit. */
async function consumeDirect(topic: Topic, options: ConsumeOptions, follow: boolean, max: number, stop: AbortSignal): Promise<void> {
  const format = formatOf(options)
  const sink = new LineSink(process.stdout)
  const partitions = options.partition !== undefined ? [options.partition] : Array.from({ length: topic.partitions }, (_, p) => p)
  const readers = await Promise.all(partitions.map((p) => topic.reader(p)))
  // The start of each partition is fixed now, before anything is printed.
  const starts = readers.map((reader) => {
    reader.refresh()
    if (options.offset !== undefined) return options.offset
    return options.from === 'latest' ? reader.durableOffset : reader.logStartOffset
  })
  // Ends every reader: on a signal, at --max, or when one of them failed.
  const done = new AbortController()
  const onStop = (): void => done.abort()
  stop.addEventListener('abort', onStop, { once: true })
  let count = 0
  const pump = async (reader: Partition, partition: number, from: number): Promise<void> => {
    try {
      for await (const record of reader.records({ from, follow, signal: done.signal })) {
        if (done.signal.aborted || count >= max) break
        count++
        if (count >= max) done.abort()
        await sink.line(format(topic.name, partition, record))
      }
    } catch (err) {
      // The readers' own way of ending a wait when `done` aborts; any other error is a failure.
      if (done.signal.aborted && (err as { name?: unknown } | null)?.name === 'AbortError') return
      done.abort()
      throw err
    }
  }
  try {
    const results = await Promise.allSettled(readers.map((reader, i) => pump(reader, partitions[i] as number, starts[i] as number)))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    await sink.flush()
  } finally {
    stop.removeEventListener('abort', onStop)
  }
}

const STOPPED = Symbol('stopped')

/** The consumer's next message, or {@link STOPPED} as soon as `stop` aborts (the pending read is left to close()). */
function nextOrStop(iterator: AsyncIterator<ConsumerMessage>, stop: AbortSignal): Promise<IteratorResult<ConsumerMessage> | typeof STOPPED> {
  if (stop.aborted) return Promise.resolve(STOPPED)
  return new Promise((resolve, reject) => {
    const onStop = (): void => resolve(STOPPED)
    stop.addEventListener('abort', onStop, { once: true })
    iterator.next().then(
      (result) => {
        stop.removeEventListener('abort', onStop)
        resolve(result)
      },
      (err: unknown) => {
        stop.removeEventListener('abort', onStop)
        reject(err)
      },
    )
  })
}

/** Commit, per partition, the last record of a chunk that reached stdout. */
async function commitWritten(consumer: Consumer, marks: Mark[]): Promise<void> {
  const last = new Map<string, Mark>()
  for (const mark of marks) {
    const key = `${mark.topic}/${mark.partition}`
    const seen = last.get(key)
    if (seen === undefined || mark.offset > seen.offset) last.set(key, mark)
  }
  const results = await Promise.allSettled([...last.values()].map((mark) => consumer.commit(mark)))
  for (const result of results) {
    // A partition taken over by another member since: its new owner prints those records again.
    if (result.status === 'rejected' && !(result.reason instanceof LockedError)) throw result.reason
  }
}

/** Read as a member of `group`, committing what was printed. */
async function consumeGroup(log: Log, topic: Topic, group: string, options: ConsumeOptions, follow: boolean, max: number, stop: AbortSignal): Promise<void> {
  const format = formatOf(options)
  const consumer = log.consumer({ group, topics: [topic.name], from: options.from, follow })
  const sink = new LineSink<Mark>(process.stdout, { onWritten: (marks) => commitWritten(consumer, marks) })
  const iterator = consumer[Symbol.asyncIterator]()
  let count = 0
  try {
    while (count < max) {
      const next = await nextOrStop(iterator, stop)
      if (next === STOPPED || next.done === true) break
      const msg = next.value
      count++
      await sink.line(format(msg.topic, msg.partition, msg), { topic: msg.topic, partition: msg.partition, offset: msg.offset })
    }
    await sink.flush() // and commit: before close() gives the partitions up
  } finally {
    await consumer.close()
    await iterator.return?.()
  }
}

/** Add `name` (`consume` or `tail`) with the options both share. */
export function registerConsume(program: Command, name: 'consume' | 'tail', follow: boolean): void {
  const command = program
    .command(name)
    .description(follow ? 'print the records of a topic and keep waiting for new ones (consume --follow)' : "print a topic's records on stdout, one per line")
    .argument('<dir>', 'the log folder')
    .argument('<topic>', 'the topic to read')
    .option('--group <group>', 'consume as this consumer group: start from its committed offsets and commit each record once printed')
    .addOption(new Option('--from <where>', 'where to start without --offset (and, with --group, where a partition the group never committed starts)').choices(['earliest', 'latest']).default('earliest'))
    .option('--partition <p>', 'read only this partition (not with --group)', integerIn(0))
    .option('--offset <n>', 'start at this offset (with --partition unless the topic has one partition; not with --group)', integerIn(0))
    .option('--max <n>', 'stop after N records', integerIn(1))
  if (follow) command.addOption(new Option('--follow', 'keep waiting for new records (always on for tail)').hideHelp())
  else command.option('--follow', 'keep waiting for new records instead of stopping when caught up')
  command
    .option('--print-key', 'print KEY<TAB>VALUE')
    .addOption(new Option('--values <encoding>', 'how keys, values and header values are printed').choices(CONSUME_VALUE_ENCODINGS).default('utf8'))
    .option('--json', 'print NDJSON: {"topic", "partition", "offset", "timestamp", "key", "value", "headers"} per record')
    .addHelpText(
      'after',
      `
Without --group, partitions are read directly (read-only: no lock, nothing committed or written).
With --group, a record is committed after its line was written to stdout: at-least-once, so an
interrupted run may print some records again next time, never skip one. Per partition, records
come in offset order. Text output escapes control characters (\\n, \\t, \\u0000) so that a record
stays on one line, and prints null for a null key or value; --json or --values base64 give the
exact bytes. SIGINT or SIGTERM stops cleanly (exit 0).

Exit status: 0 ok, 2 usage or I/O error.

Examples:
  seglog ${name} ./data events${follow ? '' : ' --max 10'}
  seglog ${name} ./data events --group billing --print-key
  seglog ${name} ./data events --partition 2 --offset 1000 --json | jq .value`,
    )
    .action(action(name, (dir: string, topic: string, options: ConsumeOptions) => consume(dir, topic, options, follow || options.follow === true)))
}

export function register(program: Command): void {
  registerConsume(program, 'consume', false)
}
