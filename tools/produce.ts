/**
 * `seglog produce DIR TOPIC`: append one record per line of stdin to a topic.
 *
 * stdin is streamed (see read-lines.ts: only `\n` ends a line, bytes are kept exactly), and each
 * line is handed to `producer.send` without waiting for the ones before it, up to
 * {@link IN_FLIGHT_MAX} records in flight: the producer then gathers what arrives together into
 * one batch per partition, and the partition's group commit makes one fdatasync cover many
 * batches. The bound keeps memory flat on an endless input, and stdin is not read while the
 * bound is reached (backpressure on the writer of the pipe).
 *
 * `--echo` prints `partition offset` per line in the order of the lines, each as soon as its
 * record and all before it are durable (an interactive session sees each acknowledgement at
 * once). The first failure stops reading; records sent before it are still flushed by the
 * producer's close, and the command exits 2.
 */
import { Option, type Command } from 'commander'
import { MAX_RECORD_BYTES_DEFAULT } from '../src/segment/index.js'
import { Log, type Message, type SendResult, type Topic } from '../src/seglog.js'
import { action, CliError, EXIT_OK } from './cli.js'
import { LineSink } from './line-sink.js'
import { existingTopic, isLog } from './open-log.js'
import { integerIn, keyValuePair } from './parse-options.js'
import { LineTooLongError, readLines } from './read-lines.js'

/** Records sent but not yet durable (or, with --echo, not yet printed), at most. */
export const IN_FLIGHT_MAX = 10_000
/** A `--json` line may be this many times the bytes of its record (JSON escapes, field names). */
const JSON_LINE_EXPANSION_MAX = 8

export interface ProduceOptions {
  keySep?: string
  partitions?: number
  echo?: boolean
  header?: Array<[string, string]>
  json?: boolean
}

/** Records in flight, oldest first: a FIFO on an array with a moving head (Array#shift is O(n)). */
class InFlight {
  #items: Array<Promise<unknown>> = []
  #head = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(done: Promise<unknown>): void {
    // Awaited later, in order; until then a rejection must not count as unhandled.
    done.catch(() => {})
    this.#items.push(done)
  }

  shift(): Promise<unknown> {
    const done = this.#items[this.#head] as Promise<unknown>
    this.#head++
    if (this.#head >= 4096 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return done
  }
}

function formatEcho(result: SendResult): string {
  return `${result.partition} ${result.offset}`
}

/** The topic to write to, created with `--partitions` if missing. */
async function topicToWrite(dir: string, name: string, partitions: number | undefined): Promise<{ log: Log; topic: Topic }> {
  const hint = '; pass --partitions N to create it'
  if (partitions === undefined && !isLog(dir)) throw new CliError(`topic '${name}' does not exist: ${dir} is not a seglog log${hint}`)
  const log = await Log.open(dir)
  try {
    if (partitions === undefined) return { log, topic: await existingTopic(log, name, hint) }
    const existing = log.topics().includes(name) ? await log.topic(name) : undefined
    // The same partition count is fine whatever else the topic was configured with; a different
    // one gets the log's own error (createTopic with a different config).
    if (existing === undefined || existing.partitions !== partitions) await log.createTopic(name, { partitions })
    return { log, topic: await log.topic(name) }
  } catch (err) {
    await log.close()
    throw err
  }
}

const JSON_KEYS = ['key', 'value', 'headers', 'partition']

function headersOf(value: unknown, where: string): Array<[string, string | null]> {
  const pairs: unknown[] = Array.isArray(value) ? value : value !== null && typeof value === 'object' ? Object.entries(value) : []
  if (!Array.isArray(value) && (value === null || typeof value !== 'object')) throw new CliError(`${where}: "headers" must be an object or an array of [key, value] pairs`)
  return pairs.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || (typeof pair[1] !== 'string' && pair[1] !== null)) {
      throw new CliError(`${where}: a header must be a string key with a string or null value`)
    }
    return [pair[0], pair[1] as string | null]
  })
}

/** A `--json` line: `{"key"?, "value", "headers"?, "partition"?}` with string (or null) key and value. */
function jsonMessage(line: Buffer, lineNumber: number, topic: Topic): Message {
  const where = `line ${lineNumber}`
  let parsed: unknown
  try {
    parsed = JSON.parse(line.toString('utf8'))
  } catch (err) {
    throw new CliError(`${where}: invalid JSON (${(err as Error).message})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(`${where}: expected an object {"key"?, "value", "headers"?, "partition"?}`)
  const object = parsed as Record<string, unknown>
  for (const key of Object.keys(object)) if (!JSON_KEYS.includes(key)) throw new CliError(`${where}: unknown field "${key}" (expected key, value, headers, partition)`)
  const { key, value, headers, partition } = object
  if (value === undefined) throw new CliError(`${where}: "value" is missing (null for a tombstone)`)
  if (typeof value !== 'string' && value !== null) throw new CliError(`${where}: "value" must be a string or null`)
  if (key !== undefined && typeof key !== 'string' && key !== null) throw new CliError(`${where}: "key" must be a string or null`)
  const message: Message = { value }
  if (key !== undefined) message.key = key
  if (headers !== undefined) message.headers = headersOf(headers, where)
  if (partition !== undefined) {
    if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition >= topic.partitions) {
      throw new CliError(`${where}: "partition" must be an integer in [0, ${topic.partitions - 1}] (topic '${topic.name}' has ${topic.partitions})`)
    }
    message.partition = partition
  }
  return message
}

/** A text line: the whole line is the value, or `KEY SEP VALUE` split at the first SEP. */
function lineMessage(line: Buffer, keySep: Buffer | undefined): Message {
  if (keySep === undefined) return { value: line }
  const at = line.indexOf(keySep)
  if (at === -1) return { key: null, value: line }
  return { key: line.subarray(0, at), value: line.subarray(at + keySep.length) }
}

function bytesOf(data: Message['key']): number {
  if (data === null || data === undefined) return 0
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength
}

/** The bytes of a record's key, value and headers (its encoding adds a few dozen more). */
function recordBytes(message: Message): number {
  let bytes = bytesOf(message.key) + bytesOf(message.value)
  const headers = message.headers
  if (Array.isArray(headers)) for (const [k, v] of headers as Array<[string, string | null]>) bytes += Buffer.byteLength(k) + bytesOf(v)
  return bytes
}

export async function produce(dir: string, topicName: string, options: ProduceOptions): Promise<number> {
  if (options.json === true && options.keySep !== undefined) throw new CliError('--json and --key-sep cannot be used together (a JSON line has its own "key")')
  if (options.keySep === '') throw new CliError('--key-sep must not be empty')
  const keySep = options.keySep === undefined ? undefined : Buffer.from(options.keySep, 'utf8')
  const extraHeaders = options.header ?? []
  const { log, topic } = await topicToWrite(dir, topicName, options.partitions)
  const maxRecordBytes = topic.config.maxRecordBytes ?? MAX_RECORD_BYTES_DEFAULT
  const echo = options.echo === true ? new LineSink(process.stdout) : undefined
  const producer = log.producer()
  const inFlight = new InFlight()
  // Echo lines are chained in input order and each printed as soon as its record (and every one
  // before it) is durable, so an interactive session sees its acknowledgements at once.
  let echoed: Promise<void> = Promise.resolve()
  let failure: { error: unknown } | undefined
  try {
    let lineNumber = 0
    const maxLineBytes = options.json === true ? maxRecordBytes * JSON_LINE_EXPANSION_MAX : maxRecordBytes
    try {
      for await (const line of readLines(process.stdin, maxLineBytes)) {
        lineNumber++
        if (failure !== undefined) throw failure.error
        if (options.json === true && line.toString('latin1').trim() === '') continue // blank lines between JSON objects
        const message = options.json === true ? jsonMessage(line, lineNumber, topic) : lineMessage(line, keySep)
        if (extraHeaders.length > 0) message.headers = [...((message.headers as Array<[string, string | null]> | undefined) ?? []), ...extraHeaders]
        const bytes = recordBytes(message)
        if (bytes > maxRecordBytes) throw new CliError(`line ${lineNumber}: the record is ${bytes} bytes, more than topic '${topic.name}' accepts (maxRecordBytes ${maxRecordBytes})`)
        const send = producer.send(topic.name, message)
        send.catch((error: unknown) => void (failure ??= { error }))
        if (echo !== undefined) echoed = echoed.then(async () => echo.line(formatEcho(await send)))
        // With --echo a record is done once its line is printed, so a slow stdout slows stdin too.
        inFlight.push(echo !== undefined ? echoed : send)
        if (inFlight.length >= IN_FLIGHT_MAX) await inFlight.shift()
      }
    } catch (err) {
      if (err instanceof LineTooLongError) throw new CliError(`${err.message}, more than topic '${topic.name}' accepts (maxRecordBytes ${maxRecordBytes})`)
      throw err
    }
    while (inFlight.length > 0) await inFlight.shift()
    await echo?.flush()
  } finally {
    // Sends already made are flushed (and made durable) whatever stopped the loop.
    await producer.close()
    await log.close()
  }
  return EXIT_OK
}

export function register(program: Command): void {
  program
    .command('produce')
    .description('append one record per line of stdin to a topic')
    .argument('<dir>', 'the log folder')
    .argument('<topic>', 'the topic to append to')
    .option('--key-sep <sep>', 'split each line at the first SEP into key and value (a line without SEP: null key)')
    .option('--partitions <n>', 'create the topic with N partitions if it does not exist (an existing one must have N)', integerIn(1))
    .option('--header <key=value>', 'add this header to every record (repeatable)', keyValuePair)
    .addOption(new Option('--json', 'each line is a JSON object {"key"?, "value", "headers"?, "partition"?}').conflicts('keySep'))
    .option('--echo', "print 'partition offset' for each record once it is durable, in input order")
    .addHelpText(
      'after',
      `
Each line of stdin is one record; its value is the line's bytes without the '\\n' (only '\\n' ends
a line; an empty line is a record with an empty value). Records are batched per partition and
acknowledged once durable per the topic's fsync policy. Placement: hash of the key, sticky
round-robin for null keys, or "partition" in --json lines. With --json, "key" and "value" are
strings (written as UTF-8) or null, "headers" an object or [key, value] pairs; blank lines are
skipped.

Exit status: 0 every line appended, 2 usage or I/O error (the lines before the failure are kept).

Examples:
  printf 'user-1:signed up\\nuser-2:paid\\n' | seglog produce ./data events --partitions 4 --key-sep :
  seq 1000 | seglog produce ./data numbers --echo
  echo '{"key":"k","value":"v","headers":{"trace":"t1"}}' | seglog produce ./data events --json`,
    )
    .action(action('produce', (dir: string, topic: string, options: ProduceOptions) => produce(dir, topic, options)))
}
