/**
 * Regression tests for what the torture scenarios found, one per finding, each reduced to the
 * smallest reproduction. Findings not fixed yet are `it.fails`: they document the bug and pass
 * while it is there; when a fix lands the test fails — turn it into `it`.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { errnoError, setFaultInjector, type IoOp } from '../../src/file-io.js'
import { InvalidNameError, Log, Partition, SeglogError, StorageError } from '../../src/seglog.js'
import { OffsetStore } from '../../src/consumer-offsets/index.js'
import { ChildProcessLines } from './processes.js'
import { SIGKILL_COMPACTED } from './shared.js'
import { mappingCount, removeScratch, requireBuilt, scratch, verifyHere } from './support.js'

beforeAll(requireBuilt)
afterEach(() => {
  setFaultInjector(undefined)
  removeScratch()
})

/** Fail the `nth` operation `op` on a file whose name ends with `suffix`, once or from then on. */
function failNth(op: IoOp, suffix: string, nth = 1, persistent = false, code = 'EIO'): void {
  let seen = 0
  setFaultInjector((o, file) => {
    if (o !== op || !file.endsWith(suffix)) return undefined
    seen++
    return seen === nth || (persistent && seen > nth) ? errnoError(code, o, file) : undefined
  })
}

async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  throw new Error('expected an error')
}

function expectStorageError(err: unknown, code = 'EIO'): void {
  expect(err).toBeInstanceOf(StorageError)
  expect((err as StorageError).code).toBe('ERR_STORAGE')
  expect(((err as StorageError).cause as NodeJS.ErrnoException).code).toBe(code)
}

describe('fixed: a failed open releases the partition lock (io-faults: ERR_LOCKED for the rest of the process after one EIO)', () => {
  it('after an EIO writing the pid into .lock, the next open succeeds', async () => {
    const dir = path.join(scratch('memory'), 'p')
    failNth('ftruncate', '.lock')
    expectStorageError(await caught(() => Partition.open(dir)))
    setFaultInjector(undefined)
    const p = await Partition.open(dir)
    await p.close()
  })

  it('after an open that fails and whose segments then fail to close (persistent EIO on index ftruncate), the next open succeeds', async () => {
    const dir = path.join(scratch('memory'), 'p')
    const first = await Partition.open(dir, { segmentBytes: 1024 })
    for (let i = 0; i < 30; i++) await first.append([{ value: `r${i}` }])
    await first.close()
    fs.rmSync(path.join(dir, 'clean-shutdown'))
    // Recovery opens the segments, then the first index ftruncate fails, and so do the ones in close().
    failNth('ftruncate', '.index', 1, true)
    expectStorageError(await caught(() => Partition.open(dir, { segmentBytes: 1024 })))
    setFaultInjector(undefined)
    const p = await Partition.open(dir, { segmentBytes: 1024 })
    expect(p.logEndOffset).toBe(30)
    await p.close()
  })
})

describe('fixed: operating errors from open and close are typed StorageErrors, the errno as cause (io-faults: raw EIO escaped)', () => {
  for (const [op, suffix] of [
    ['mkdir', '/p'],
    ['fsync-dir', '/p'],
    ['open', '.timeindex'],
    ['rename', 'recovery-point'],
    ['read', 'log-start-offset'],
  ] as Array<[IoOp, string]>) {
    it(`Partition.open with ${op} failing on ${suffix}`, async () => {
      const dir = path.join(scratch('memory'), 'p')
      const p = await Partition.open(dir, { segmentBytes: 1024 })
      for (let i = 0; i < 30; i++) await p.append([{ value: `r${i}` }])
      await p.deleteRecordsBefore(1)
      await p.close()
      failNth(op, suffix, 1, true)
      expectStorageError(await caught(() => Partition.open(dir, { segmentBytes: 1024 })))
    })
  }

  it('Partition.close with the clean-shutdown marker failing to be written', async () => {
    const dir = path.join(scratch('memory'), 'p')
    const p = await Partition.open(dir)
    await p.append([{ value: 'x' }])
    failNth('write', 'clean-shutdown.tmp')
    expectStorageError(await caught(() => p.close()))
    setFaultInjector(undefined)
    const again = await Partition.open(dir)
    expect(again.recovery.clean).toBe(false)
    expect(again.logEndOffset).toBe(1)
    await again.close()
  })

  it('Log.open, createTopic and a producer id with ENOSPC', async () => {
    const root = path.join(scratch('memory'), 'log')
    failNth('write', 'seglog.json.tmp', 1, false, 'ENOSPC')
    expectStorageError(await caught(() => Log.open(root)), 'ENOSPC')
    setFaultInjector(undefined)
    const log = await Log.open(root)
    failNth('rename', 'topic.json', 1, false, 'ENOSPC')
    expectStorageError(await caught(() => log.createTopic('t', { partitions: 1 })), 'ENOSPC')
    failNth('rename', 'next-producer-id', 1, false, 'ENOSPC')
    expectStorageError(await caught(async () => log.producer()), 'ENOSPC')
    setFaultInjector(undefined)
    await log.close()
  })
})

describe('fixed: a folder replaced by a symbolic link is refused, not followed (hostile-names)', () => {
  it('a topic folder that links elsewhere: producing refuses it and writes nothing there', async () => {
    const base = scratch('memory')
    const victim = await Log.open(path.join(base, 'victim'))
    await victim.createTopic('t', { partitions: 1 })
    await victim.close()
    const before = fs.readdirSync(path.join(base, 'victim', 't', '0')).sort()
    const log = await Log.open(path.join(base, 'root'))
    fs.symlinkSync(path.join(base, 'victim', 't'), path.join(base, 'root', 't'))
    const producer = log.producer()
    const err = await caught(() => producer.send('t', { value: 'through the link' }))
    expect(err).toBeInstanceOf(SeglogError)
    await producer.close()
    await log.close()
    expect(fs.readdirSync(path.join(base, 'victim', 't', '0')).sort()).toEqual(before)
  })

  it('a groups folder (@groups) that links elsewhere: committing refuses it and creates nothing there', async () => {
    const base = scratch('memory')
    fs.mkdirSync(path.join(base, 'victim'))
    const log = await Log.open(path.join(base, 'root'))
    await log.close()
    fs.symlinkSync(path.join(base, 'victim'), path.join(base, 'root', '@groups'))
    expect(await caught(() => OffsetStore.open(path.join(base, 'root'), 'g', 't', 0))).toBeInstanceOf(StorageError)
    expect(fs.readdirSync(path.join(base, 'victim'))).toEqual([])
  })

  it('a segment file that links elsewhere: open refuses it with a typed error, and verify names the link', async () => {
    const base = scratch('memory')
    const dir = path.join(base, 'p')
    const p = await Partition.open(dir)
    await p.append([{ value: 'x' }])
    await p.close()
    const log = path.join(dir, '00000000000000000000.log')
    fs.renameSync(log, path.join(base, 'elsewhere.log'))
    fs.symlinkSync(path.join(base, 'elsewhere.log'), log)
    const err = await caught(() => Partition.open(dir))
    expect(err).toBeInstanceOf(StorageError)
    expect((err as StorageError).message).toMatch(/symbolic link/)
    expect((await verifyHere([dir])).problems.map((x) => x.kind)).toContain('symlink')
  })
})

describe("fixed: a topic may not be named after the log's own file (hostile-names: ENOTDIR instead of ERR_INVALID_NAME)", () => {
  it("createTopic('seglog.json') is ERR_INVALID_NAME and creates nothing", async () => {
    const root = path.join(scratch('memory'), 'log')
    const log = await Log.open(root)
    const before = fs.readdirSync(root).sort()
    expect(await caught(() => log.createTopic('seglog.json', { partitions: 1 }))).toBeInstanceOf(InvalidNameError)
    expect(fs.readdirSync(root).sort()).toEqual(before)
    await log.close()
  })
})

describe('fixed in 9f9d7b5 (producer snapshots are never empty files; verify checks a batch past the durable offset unless it continues the log)', () => {
  // truncation scenario: writeSnapshot wrote an empty producer table as 0 bytes, so a snapshot
  // cut to 0 bytes read as "no producers" and the scan for producer state started after it.
  it('a producer snapshot cut to 0 bytes still lets an idempotent retry of an earlier batch be answered as a duplicate', async () => {
    const dir = path.join(scratch('memory'), 'p')
    const options = { segmentBytes: 1024 }
    const p = await Partition.open(dir, options)
    let sequence = 0
    let last = { baseOffset: 0, records: [] as Array<{ value: string }>, baseSequence: 0 }
    while (p.segmentCount < 2) {
      const records = [{ value: `r${sequence}` }, { value: `r${sequence + 1}` }]
      const r = await p.append(records, { producerId: 7, producerEpoch: 0, baseSequence: sequence })
      last = { baseOffset: r.baseOffset, records, baseSequence: sequence }
      sequence += 2
    }
    await p.close()
    const snapshot = fs.readdirSync(dir).filter((n) => n.endsWith('.snapshot')).sort().pop() as string
    fs.truncateSync(path.join(dir, snapshot), 0)
    const again = await Partition.open(dir, options)
    const retry = await again.append(last.records, { producerId: 7, producerEpoch: 0, baseSequence: last.baseSequence })
    await again.close()
    expect(retry).toEqual({ baseOffset: last.baseOffset, lastOffset: last.baseOffset + 1, duplicate: true })
  })

  // bit-flips scenario: tools/verify-segment.ts stopped checking the last segment at the first batch
  // whose (not CRC-covered) baseOffset was at or past the durable offset a writer published.
  it("seglog verify reports a flipped high bit in the baseOffset of a batch in the middle of a partition's last segment", async () => {
    const dir = path.join(scratch('memory'), 'p')
    const p = await Partition.open(dir)
    for (let i = 0; i < 20; i++) await p.append([{ value: `r${i}` }])
    await p.close() // leaves durable-offset = 20
    const file = path.join(dir, '00000000000000000000.log')
    const bytes = fs.readFileSync(file)
    let at = 0
    for (let b = 0; b < 5; b++) at += bytes.readInt32BE(at + 8) + 12
    bytes[at + 5] = (bytes[at + 5] as number) ^ 0x04 // baseOffset += 2^18
    fs.writeFileSync(file, bytes)
    expect((await verifyHere([dir])).ok).toBe(false)
  })
})

describe('known, not fixed yet', () => {

  // bit-flips, truncation: index files are mapped with @riaskov/mmap-io, which cannot unmap; a
  // mapping goes only when V8 collects its Buffer, and V8 does not count it as memory. A process
  // that opens and closes partitions ~16,000 times between collections passes vm.max_map_count
  // (65530) and dies with std::bad_alloc or "JavaScript heap out of memory" (V8 cannot map heap pages).
  it.fails('opening and closing a partition 2,000 times does not leave thousands of memory mappings behind', async () => {
    const dir = path.join(scratch('memory'), 'p')
    const options = { maxIndexBytes: 64 * 1024 }
    const first = await Partition.open(dir, options)
    await first.append([{ value: 'x' }])
    await first.close()
    const before = mappingCount()
    for (let i = 0; i < 2000; i++) await (await Partition.open(dir, options)).close()
    expect(mappingCount() - before).toBeLessThan(1000)
  })
})

describe('fixed: compaction killed between swapping a segment in and dropping its old indexes (sigkill, compacted lane: a stale time index for good)', () => {
  for (const suffix of ['.index', '.timeindex']) {
    it(`a SIGKILL just before the old ${suffix} is removed leaves no stale index: the reopened log verifies clean`, async () => {
      const dir = path.join(scratch('disk'), 'c')
      const child = new ChildProcessLines(['crash-at', dir, 'unlink', suffix])
      const exit = await child.exited
      expect(child.lines, child.stderr).toContain('compacting')
      expect(exit.signal, child.stderr).toBe('SIGKILL')
      const p = await Partition.open(dir, SIGKILL_COMPACTED)
      expect(p.recovery.repaired).toEqual([])
      await p.close()
      // (verify also reports the offsets compacted away as a gap here: see the next test)
      const verified = await verifyHere([dir])
      expect(verified.problems.filter((x) => x.kind !== 'offset-gap')).toEqual([])
    })
  }
})

describe('fixed: verify after a crash in the first compaction', () => {
  // verify takes gaps as legitimate once the partition has a cleaner-offset checkpoint; the first
  // compaction used to write it only at the end of its pass, so a SIGKILL after a swap left the
  // compacted-away offsets reported as a gap. Partition.compact now writes it before the first rewrite.
  it('a SIGKILL just before the first cleaner-offset checkpoint leaves a partition that seglog verify finds clean', async () => {
    const dir = path.join(scratch('disk'), 'c')
    const child = new ChildProcessLines(['crash-at', dir, 'rename', 'cleaner-offset'])
    const exit = await child.exited
    expect(exit.signal, child.stderr).toBe('SIGKILL')
    const p = await Partition.open(dir, SIGKILL_COMPACTED)
    await p.close()
    expect((await verifyHere([dir])).problems).toEqual([])
  })
})
