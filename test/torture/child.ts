/**
 * The child processes of the torture scenarios, run from `dist/test/torture/child.js`:
 *
 *   node child.js produce <root> <session> <concurrency> <style> <seed>
 *       SIGKILL loop: append to topic `t` partition 0 (style `partition`: a Partition opened
 *       directly, with deleteRecordsBefore and committed offsets; style `producer`: an idempotent
 *       Producer through Log) until killed. Prints, each after it resolved:
 *         ready                          once open
 *         a <seq> <count> <baseOffset>   records s<session>.<seq> … s<session>.<seq+count-1> are durable
 *         d <offset>                     deleteRecordsBefore(<offset>) resolved
 *         c <offset>                     committed offset <offset> of group g is durable
 *   node child.js race <dir> <name>
 *       Exclusion: on each stdin line `go <round>`, try to open <dir> for writing; print
 *       `won <round>` (then append `count` records on `append <count>`, print `appended <base>`,
 *       and close on `close`, printing `closed`), or `locked <round>` / `error <round> <message>`.
 *   node child.js writer <dir> <seconds>
 *       Exclusion, verify beside a writer: append for <seconds>, printing `a <seq> <count> <base>`,
 *       then close and print `done`; `error <message>` if any append fails.
 *   node child.js consume <root> <group> <rebalanceMs>
 *       Consumer offsets under kills: consume topic `t` from the group's committed offsets; print
 *       `p <partition> <offset>` before committing each record and `k <partition> <next>` once the
 *       commit resolved.
 *
 *   node child.js crash-at <dir> <op> <suffix>
 *       A crash at one exact point of a compaction: fill a compacted partition so that its first
 *       segment is compacted to nothing, then compact, SIGKILLing itself at the first file
 *       operation <op> on a file ending in <suffix> (before it runs). Prints `compacting` first.
 *
 * Lines are written with fs.writeSync, so that what was printed before a SIGKILL is all there.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Log } from '../../src/log.js'
import { OffsetStore, Consumer } from '../../src/consumer-offsets/index.js'
import { Partition, Topic } from '../../src/partition/index.js'
import { SeglogError } from '../../src/errors.js'
import { setFaultInjector, type IoOp } from '../../src/file-io.js'
import { Random } from './random.js'
import { COMPACTED_KEYS, RACE_PARTITION, SIGKILL_COMPACTED, SIGKILL_PARTITION, SIGKILL_TOPIC } from './shared.js'


/** Write a line at once (so a SIGKILL loses nothing printed); a full pipe (EAGAIN) is waited out. */
const print = (line: string): void => {
  const bytes = Buffer.from(`${line}\n`)
  for (let done = 0; done < bytes.length; ) {
    try {
      done += fs.writeSync(1, bytes, done)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2)
    }
  }
}

function valueOf(session: number, seq: number): string {
  return `s${session}.${seq}`
}

async function produce(root: string, session: number, concurrency: number, style: string, seed: number): Promise<void> {
  const random = new Random(seed)
  let seq = 0
  // A little padding of varying size, so that batches straddle index intervals and segment ends.
  const pad = (): string => 'x'.repeat(random.int(0, 200))
  if (style === 'producer') {
    const log = await Log.open(root)
    await log.createTopic('t', SIGKILL_TOPIC)
    const producer = log.producer()
    print('ready')
    const inFlight = new Set<Promise<void>>()
    for (;;) {
      while (inFlight.size < concurrency) {
        const mine = seq++
        const sent = producer.send('t', { key: `k${mine % 13}`, value: valueOf(session, mine), headers: { pad: pad() } }).then((r) => {
          print(`a ${mine} 1 ${r.offset}`)
          inFlight.delete(sent)
        })
        inFlight.add(sent)
      }
      await Promise.race(inFlight)
    }
  }
  if (style === 'compact') {
    // A compacted partition: few keys; compaction runs on its timer and explicitly, so kills land in it.
    const p = await Partition.open(path.join(root, 'c', '0'), SIGKILL_COMPACTED)
    print('ready')
    const inFlight = new Set<Promise<void>>()
    let acks = 0
    for (;;) {
      while (inFlight.size < concurrency) {
        const first = seq
        const count = random.int(1, 4)
        seq += count
        const records = Array.from({ length: count }, (_, i) => ({ key: `k${(first + i) % COMPACTED_KEYS}`, value: valueOf(session, first + i), headers: { pad: pad() } }))
        const appended = p.append(records).then(async (r) => {
          print(`a ${first} ${count} ${r.baseOffset}`)
          if (++acks % 6 === 0) {
            await p.compact()
            print('x')
          }
          inFlight.delete(appended)
        })
        inFlight.add(appended)
      }
      await Promise.race(inFlight)
    }
  }
  const dir = path.join(root, 't', '0')
  const p = await Partition.open(dir, SIGKILL_PARTITION)
  const store = await OffsetStore.open(root, 'g', 't', 0)
  print('ready')
  const inFlight = new Set<Promise<void>>()
  let acks = 0
  for (;;) {
    while (inFlight.size < concurrency) {
      const first = seq
      const count = random.int(1, 4)
      seq += count
      const records = Array.from({ length: count }, (_, i) => ({ key: `k${(first + i) % 13}`, value: valueOf(session, first + i), headers: { pad: pad() } }))
      const appended = p.append(records).then(async (r) => {
        print(`a ${first} ${count} ${r.baseOffset}`)
        acks++
        if (acks % 7 === 0) {
          // Commit what is durable: a committed offset never points past the log.
          const offset = p.durableOffset
          await store.commit(Math.max(offset, store.committed()?.offset ?? 0))
          print(`c ${store.committed()?.offset ?? 0}`)
        }
        if (acks % 23 === 0 && p.durableOffset > p.logStartOffset + 50) {
          const before = p.logStartOffset + random.int(1, 20)
          await p.deleteRecordsBefore(before)
          print(`d ${before}`)
        }
        inFlight.delete(appended)
      })
      inFlight.add(appended)
    }
    await Promise.race(inFlight)
  }
}

/** Lines from stdin, one at a time. */
async function* stdinLines(): AsyncGenerator<string> {
  let partial = ''
  for await (const chunk of process.stdin) {
    partial += (chunk as Buffer).toString('utf8')
    const parts = partial.split('\n')
    partial = parts.pop() as string
    for (const line of parts) yield line
  }
}

async function race(dir: string, name: string): Promise<void> {
  let held: Partition | undefined
  print('ready')
  for await (const line of stdinLines()) {
    const [word, arg] = line.split(' ')
    if (word === 'go') {
      try {
        held = await Partition.open(dir, RACE_PARTITION)
        print(`won ${arg}`)
      } catch (err) {
        if (err instanceof SeglogError && err.code === 'ERR_LOCKED') print(`locked ${arg}`)
        else print(`error ${arg} ${String((err as Error).message).replace(/\n/g, ' ')}`)
      }
    } else if (word === 'append' && held !== undefined) {
      const count = Number(arg)
      const base = held.logEndOffset
      const r = await held.append(Array.from({ length: count }, (_, i) => ({ value: `${name}.${base + i}` })))
      print(`appended ${r.baseOffset} ${r.lastOffset}`)
    } else if (word === 'close' && held !== undefined) {
      await held.close()
      held = undefined
      print('closed')
    }
  }
}

async function writer(dir: string, seconds: number): Promise<void> {
  const p = await Partition.open(dir, { fsync: 'always', segmentBytes: 64 * 1024 })
  print('ready')
  const end = Date.now() + seconds * 1000
  let seq = p.logEndOffset
  const inFlight = new Set<Promise<void>>()
  try {
    while (Date.now() < end) {
      while (inFlight.size < 8) {
        const first = seq
        const count = 1 + (first % 3)
        seq += count
        const appended = p.append(Array.from({ length: count }, (_, i) => ({ key: `k${first + i}`, value: `w.${first + i}.${'y'.repeat((first * 7) % 300)}` }))).then((r) => {
          print(`a ${first} ${count} ${r.baseOffset}`)
          inFlight.delete(appended)
        })
        inFlight.add(appended)
      }
      await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
    await p.close()
    print('done')
  } catch (err) {
    print(`error ${String((err as Error).message).replace(/\n/g, ' ')}`)
    process.exitCode = 1
  }
}

async function consume(root: string, group: string, rebalanceMs: number): Promise<void> {
  const topic = Topic.open(root, 't')
  if (topic === undefined) throw new Error(`no topic t in ${root}`)
  const consumer = new Consumer({ root, topic: async () => topic }, { group, topics: ['t'], rebalanceIntervalMs: rebalanceMs, follow: true, from: 'earliest' })
  await consumer.start()
  print('ready')
  for await (const msg of consumer) {
    print(`p ${msg.partition} ${msg.offset}`)
    await consumer.commit(msg)
    print(`k ${msg.partition} ${msg.offset + 1}`)
  }
}

async function crashAt(dir: string, op: IoOp, suffix: string): Promise<void> {
  const p = await Partition.open(dir, { ...SIGKILL_COMPACTED, compactionCheckIntervalMs: 3_600_000 })
  // Keys k0..k9 in the first segments, then all of them again: compaction empties the first ones.
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 60; i++) await p.append([{ key: `k${i % 10}`, value: `v${round}.${i}.${'p'.repeat(100)}` }])
  }
  print('compacting')
  setFaultInjector((o, file) => {
    if (o === op && file.endsWith(suffix)) process.kill(process.pid, 'SIGKILL')
    return undefined
  })
  await p.compact()
  print('compacted') // not reached when the operation came up
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'produce') await produce(args[0] as string, Number(args[1]), Number(args[2]), args[3] as string, Number(args[4]))
else if (mode === 'race') await race(args[0] as string, args[1] as string)
else if (mode === 'writer') await writer(args[0] as string, Number(args[1]))
else if (mode === 'consume') await consume(args[0] as string, args[1] as string, Number(args[2]))
else if (mode === 'crash-at') await crashAt(args[0] as string, args[1] as IoOp, args[2] as string)
else throw new Error(`unknown mode ${String(mode)}`)
