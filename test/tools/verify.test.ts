/**
 * `seglog verify`, run as users run it: the built CLI (`npm run build` first) in a child process,
 * on partitions written by the library into temporary folders, on the real Kafka segments, and on
 * copies damaged byte by byte. Torn tails and repair, where verify and recover meet, are in
 * recover.test.ts.
 */
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DURABLE_OFFSET_FILE as LIBRARY_DURABLE_OFFSET_FILE } from '../../src/partition/checkpoints.js'
import { Partition, type PartitionOptions } from '../../src/partition/index.js'
import { crc32c } from '../../src/segment/crc32c.js'
import { ATTRIBUTES_POS, CRC_POS, encodeBatch, RECORDS_POS } from '../../src/segment/record-batch.js'
import { DURABLE_OFFSET_FILE } from '../../tools/verify.js'
import { judgeDamage } from '../../tools/verify-damage.js'
import { KAFKA_FIXTURES, kafkaFixturesPresent, PROJECT_ROOT } from '../kafka-fixtures-folder.js'

const CLI = path.join(PROJECT_ROOT, 'dist/tools/seglog.js')
const fixtures = kafkaFixturesPresent()

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

function seglog(...args: string[]): Run {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (result.error !== undefined) throw result.error
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

interface Problem {
  file: string
  position: number
  kind: string
  message: string
}
interface VerifyJson {
  ok: boolean
  problems: Problem[]
  checked: { files: number; batches: number; records: number; bytes: number }
}

/** `seglog verify --json PATH...`, parsed. */
function verifyJson(...paths: string[]): VerifyJson & { status: number | null; stderr: string } {
  const run = seglog('verify', '--json', ...paths)
  if (run.stdout === '') throw new Error(`seglog verify --json printed nothing (exit ${run.status}): ${run.stderr}`)
  return { ...(JSON.parse(run.stdout) as VerifyJson), status: run.status, stderr: run.stderr }
}

let tmp: string
beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' before the tests`)
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-verify-'))
})
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

let folders = 0
/** A new folder under the temporary folder. */
function folder(name = 'd'): string {
  const dir = path.join(tmp, `${name}-${folders++}`)
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

/** Small enough that a few KiB of records roll several segments and write many index entries. */
const SMALL: PartitionOptions = { segmentBytes: 2048, indexIntervalBytes: 128, maxIndexBytes: 1024, fsync: 'never' }

/** Write `batches` batches of two records each into a new partition at `dir`, and close it. */
async function writePartition(dir: string, batches: number, options: PartitionOptions = SMALL): Promise<void> {
  const p = await Partition.open(dir, options)
  try {
    for (let i = 0; i < batches; i++) {
      await p.append([
        { key: `k${i}`, value: `value-${i}`, timestamp: 1_700_000_000_000 + i },
        { value: `v${i}`, headers: { h: 'x' }, timestamp: 1_700_000_000_000 + i },
      ])
    }
  } finally {
    await p.close()
  }
}

/** The segment files of a partition, oldest first. */
function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()
    .map((n) => path.join(dir, n))
}

/** Positions, sizes and offsets of the batches of a `.log` file, from their headers. */
function batchesOf(file: string): Array<{ position: number; size: number; baseOffset: number; lastOffset: number }> {
  const bytes = fs.readFileSync(file)
  const out: Array<{ position: number; size: number; baseOffset: number; lastOffset: number }> = []
  for (let p = 0; p + 12 <= bytes.length; ) {
    const size = bytes.readInt32BE(p + 8) + 12
    const baseOffset = Number(bytes.readBigInt64BE(p))
    out.push({ position: p, size, baseOffset, lastOffset: baseOffset + bytes.readInt32BE(p + 23) })
    p += size
  }
  return out
}

/** Name → SHA-256 of every file under `dir` (recursively), to prove a command changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name)
    const rel = path.relative(dir, file)
    if (entry.isSymbolicLink()) out[rel] = `-> ${fs.readlinkSync(file)}`
    else if (entry.isFile()) out[rel] = createHash('sha256').update(fs.readFileSync(file)).digest('hex')
    else if (entry.isDirectory()) out[rel] = 'folder'
  }
  return out
}

/** Edit `file` in place. */
function edit(file: string, change: (bytes: Buffer) => unknown): void {
  const bytes = fs.readFileSync(file)
  change(bytes)
  fs.writeFileSync(file, bytes)
}

describe('seglog verify: usage', () => {
  it('prints its help (exit 0), and seglog --help lists verify and recover', () => {
    const help = seglog('verify', '--help')
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('Usage: seglog verify [options] <path...>')
    for (const kind of ['corrupt', 'torn-tail', 'bad-record', 'unsupported-codec', 'offset-gap', 'offset-overlap', 'index-untrimmed', 'symlink']) {
      expect(help.stdout).toContain(`  ${kind} `)
    }
    const top = seglog('--help')
    expect(top.stdout).toMatch(/verify \[options\] <path\.\.\.>/)
    expect(top.stdout).toMatch(/recover \[options\] <dir>/)
  })

  it('exits 2 with one line for a missing path, and still checks the other paths', async () => {
    const missing = path.join(tmp, 'missing')
    const run = seglog('verify', missing)
    expect(run.status).toBe(2)
    expect(run.stderr).toBe(`seglog verify: cannot open '${missing}': ENOENT: no such file or directory\n`)
    expect(run.stdout).toBe('')

    const dir = folder()
    await writePartition(dir, 3)
    const both = seglog('verify', missing, dir)
    expect(both.status).toBe(2)
    expect(both.stderr).toBe(`seglog verify: cannot open '${missing}': ENOENT: no such file or directory\n`)
    expect(both.stdout).toMatch(/^0 problems found, and 1 error \(on stderr\) \(checked \d+ files, 3 batches, 6 records, \d+ bytes\)\n$/)
  })

  it('exits 2 for a file that is not a segment, and for a folder with no segment under it', () => {
    const notes = path.join(folder(), 'notes.txt')
    fs.writeFileSync(notes, 'hello')
    expect(seglog('verify', notes)).toMatchObject({ status: 2, stdout: '', stderr: `seglog verify: cannot verify '${notes}': expected a segment file (.log) or a folder\n` })
    const empty = folder()
    expect(seglog('verify', empty)).toMatchObject({
      status: 2,
      stdout: '',
      stderr: `seglog verify: cannot verify '${empty}': no segment files (.log) in it or in any folder below it\n`,
    })
    expect(seglog('verify', '--max-batch-bytes', '0', empty).status).toBe(2)
  })

  it('names the same durable-offset file as the library', () => {
    expect(DURABLE_OFFSET_FILE).toBe(LIBRARY_DURABLE_OFFSET_FILE)
  })
})

describe('seglog verify: clean logs', () => {
  it('says OK for a clean partition folder, counting what it checked', async () => {
    const dir = folder('partition')
    await writePartition(dir, 60)
    const logs = logFiles(dir)
    expect(logs.length).toBeGreaterThanOrEqual(3)
    const bytes = logs.reduce((sum, f) => sum + fs.statSync(f).size, 0)
    const indexes = fs.readdirSync(dir).filter((n) => /\.(time)?index$/.test(n)).length
    const run = seglog('verify', dir)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(run.stdout).toBe(`OK (checked ${logs.length + indexes} files, 60 batches, 120 records, ${bytes} bytes)\n`)
  })

  it('says OK for a root holding several topics and partitions (gzip, one segment, many), and --json has the documented shape', async () => {
    const root = folder('root')
    await writePartition(path.join(root, 'orders', '0'), 40)
    await writePartition(path.join(root, 'orders', '1'), 5)
    await writePartition(path.join(root, 'events', '0'), 30, { ...SMALL, compression: 'gzip' })
    await writePartition(path.join(root, 'big', '0'), 20, { fsync: 'never' })
    const run = seglog('verify', root)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(run.stdout).toMatch(/^OK \(checked \d+ files, 95 batches, 190 records, \d+ bytes\)\n$/)

    const json = seglog('verify', '--json', root)
    expect(json.status).toBe(0)
    const parsed = JSON.parse(json.stdout) as VerifyJson
    expect(Object.keys(parsed)).toEqual(['ok', 'problems', 'checked'])
    expect(Object.keys(parsed.checked)).toEqual(['files', 'batches', 'records', 'bytes'])
    expect(parsed).toMatchObject({ ok: true, problems: [], checked: { batches: 95, records: 190 } })
    expect(json.stdout.trim().split('\n')).toHaveLength(1)
  })

  it.skipIf(!fixtures)('says OK for the real Kafka segments: the folder, and each file given alone', () => {
    const run = seglog('verify', KAFKA_FIXTURES)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    // Batches and records as the fixtures' README (and dump.test.ts) count them.
    expect(run.stdout).toBe('OK (checked 5 files, 91 batches, 147 records, 9978 bytes)\n')
    const files = fs.readdirSync(KAFKA_FIXTURES).filter((n) => n.endsWith('.log'))
    const each = seglog('verify', ...files.map((n) => path.join(KAFKA_FIXTURES, n)))
    expect(each.status).toBe(0)
    expect(each.stdout).toBe(run.stdout)
  })

  it('says OK beside a writer that has the partition open (preallocated, zero-filled active index)', async () => {
    const dir = folder('open')
    const p = await Partition.open(dir, { segmentBytes: 2048, indexIntervalBytes: 128, maxIndexBytes: 1024 })
    try {
      for (let i = 0; i < 50; i++) await p.append([{ key: `k${i}`, value: `value-${i}`, timestamp: 1_700_000_000_000 + i }])
      const active = logFiles(dir).at(-1) as string
      expect(fs.statSync(active.replace(/\.log$/, '.index')).size).toBe(1024) // preallocated, not trimmed
      expect(fs.existsSync(path.join(dir, DURABLE_OFFSET_FILE))).toBe(true)
      const before = snapshot(dir)
      const run = seglog('verify', dir)
      expect(run.stderr).toBe('')
      expect(run.status).toBe(0)
      expect(run.stdout).toMatch(/^OK \(checked \d+ files, 50 batches, 50 records, \d+ bytes\)\n$/)
      expect(snapshot(dir)).toEqual(before)
    } finally {
      await p.close()
    }
  })

  it('leaves alone the bytes past the durable offset a running writer published', async () => {
    const dir = folder('durable')
    await writePartition(dir, 10, { fsync: 'always' })
    const [log] = logFiles(dir) as [string]
    const batches = batchesOf(log)
    // As a writer at work leaves it: a batch written past the durable offset, half on disk.
    fs.writeFileSync(path.join(dir, DURABLE_OFFSET_FILE), Buffer.from([0, 0, 0, 0, 0, 0, 0, 20]))
    const next = encodeBatch([{ value: 'in flight', timestamp: 1 }], { baseOffset: 20 })
    fs.appendFileSync(log, next.subarray(0, 30))
    expect(seglog('verify', dir)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^OK .*, 10 batches, 20 records, /) })
    // Without a published durable offset the same bytes are a torn tail.
    fs.rmSync(path.join(dir, DURABLE_OFFSET_FILE))
    const torn = verifyJson(dir)
    expect(torn.problems).toEqual([{ file: log, position: (batches.at(-1)?.position ?? 0) + (batches.at(-1)?.size ?? 0), kind: 'torn-tail', message: expect.stringContaining("open or 'seglog recover' will cut 30 bytes") }])
  })
})

describe('seglog verify: damaged segments', () => {
  it('reports a flipped bit in a batch in the middle of a sealed segment as corrupt, at that batch, and changes nothing', async () => {
    const dir = folder('flip')
    await writePartition(dir, 60)
    const sealed = logFiles(dir)[1] as string
    const batches = batchesOf(sealed)
    const victim = batches[Math.floor(batches.length / 2)] as { position: number; size: number; baseOffset: number; lastOffset: number }
    edit(sealed, (b) => {
      b[victim.position + RECORDS_POS + 3] = (b[victim.position + RECORDS_POS + 3] as number) ^ 0x10
    })
    const before = snapshot(dir)
    const run = seglog('verify', dir)
    expect(run.status).toBe(1)
    const lines = run.stdout.split('\n')
    expect(lines[0]).toMatch(
      new RegExp(
        `^${sealed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: position ${victim.position}: corrupt: ${victim.size} invalid bytes \\(bad-crc: CRC-32C is 0x[0-9a-f]{8}, header says 0x[0-9a-f]{8}\\); ` +
          `valid batches follow at position ${victim.position + victim.size}`,
      ),
    )
    expect(lines.at(-2)).toMatch(/^1 problem found \(checked /)
    expect(snapshot(dir)).toEqual(before)
    const json = verifyJson(dir)
    expect(json.status).toBe(1)
    expect(json.ok).toBe(false)
    expect(json.problems).toEqual([{ file: sealed, position: victim.position, kind: 'corrupt', message: expect.any(String) }])
    // The batches after the damage were checked all the same.
    expect(json.checked.batches).toBe(59)
  })

  it('detects every single-bit flip of one small batch', async () => {
    const dir = folder('source')
    await writePartition(dir, 60)
    const name = path.basename(logFiles(dir)[1] as string)
    const original = fs.readFileSync(path.join(dir, name))
    const batches = batchesOf(path.join(dir, name))
    const index = Math.floor(batches.length / 2)
    const victim = batches[index] as { position: number; size: number }
    const next = batches[index + 1] as { position: number }
    // One copy of the partition per bit, all checked by one run.
    const root = folder('bits')
    const bits = victim.size * 8
    for (let bit = 0; bit < bits; bit++) {
      const copy = path.join(root, String(bit).padStart(5, '0'))
      fs.cpSync(dir, copy, { recursive: true })
      const bytes = Buffer.from(original)
      const at = victim.position + (bit >> 3)
      bytes[at] = (bytes[at] as number) ^ (0x80 >> (bit & 7))
      fs.writeFileSync(path.join(copy, name), bytes)
    }
    const json = verifyJson(root)
    expect(json.stderr).toBe('')
    expect(json.status).toBe(1)
    const byCopy = new Map<string, Problem[]>()
    for (const p of json.problems) {
      const copy = path.relative(root, p.file).split(path.sep)[0] as string
      byCopy.set(copy, [...(byCopy.get(copy) ?? []), p])
    }
    const undetected: number[] = []
    for (let bit = 0; bit < bits; bit++) {
      const problems = byCopy.get(String(bit).padStart(5, '0')) ?? []
      const file = path.join(root, String(bit).padStart(5, '0'), name)
      const byte = bit >> 3
      if (byte >= 12 && byte < 16) {
        // partitionLeaderEpoch is outside the CRC: the damage shows as an epoch out of order,
        // at the flipped batch (below -1) or at the next one (below the flipped batch's).
        const hit = problems.find((p) => p.file === file && p.kind === 'leader-epoch' && (p.position === victim.position || p.position === next.position))
        if (hit === undefined) undetected.push(bit)
      } else if (byte < 8) {
        // baseOffset is outside the CRC too: the batch's offsets no longer follow (or are out of range).
        const hit = problems.find((p) => p.file === file && p.position === victim.position && ['offset-gap', 'offset-overlap', 'corrupt'].includes(p.kind))
        if (hit === undefined) undetected.push(bit)
      } else {
        const hit = problems.find((p) => p.file === file && p.position === victim.position && p.kind === 'corrupt')
        if (hit === undefined) undetected.push(bit)
      }
    }
    expect(undetected).toEqual([])
  })

  it('reports a gap and an overlap between segments, giving both offsets', async () => {
    const dir = folder('gap')
    await writePartition(dir, 60)
    const logs = logFiles(dir)
    const [first, second, third] = logs as [string, string, string]
    const firstLast = batchesOf(first).at(-1)?.lastOffset as number
    const thirdBase = batchesOf(third)[0]?.baseOffset as number
    const secondLast = batchesOf(second).at(-1)?.lastOffset as number
    const secondIndexes = [second.replace(/\.log$/, '.index'), second.replace(/\.log$/, '.timeindex')]
    const gap = folder('gap-copy')
    fs.cpSync(dir, gap, { recursive: true })
    for (const f of [second, ...secondIndexes]) fs.rmSync(path.join(gap, path.basename(f)))
    const json = verifyJson(gap)
    expect(json.status).toBe(1)
    expect(json.problems).toEqual([
      {
        file: path.join(gap, path.basename(third)),
        position: 0,
        kind: 'offset-gap',
        message: `offsets ${firstLast + 1} to ${thirdBase - 1} are missing: the batch here starts at offset ${thirdBase}, and the previous segment ${path.join(gap, path.basename(first))} ends at offset ${firstLast}`,
      },
    ])
    expect(thirdBase - 1).toBe(secondLast)

    // The second segment's bytes replaced by the first's: its offsets go backwards (reported once,
    // not once per batch), and the second segment's own offsets are missing before the third.
    const overlap = folder('overlap')
    fs.cpSync(dir, overlap, { recursive: true })
    fs.copyFileSync(first, path.join(overlap, path.basename(second)))
    for (const f of secondIndexes) fs.rmSync(path.join(overlap, path.basename(f)))
    const problems = verifyJson(overlap).problems
    expect(problems.map((p) => [path.basename(p.file), p.position, p.kind])).toEqual([
      [path.basename(second), 0, 'offset-overlap'],
      [path.basename(third), 0, 'offset-gap'],
    ])
    expect(problems[0]?.message).toBe(`the first batch holds offsets 0 to 1, below the segment's base offset ${firstLast + 1} (its name)`)
    expect(problems[1]?.message).toMatch(new RegExp(`^offsets ${firstLast + 1} to ${thirdBase - 1} are missing`))
  })

  it('reports a record that does not decode (CRC fixed up) as bad-record, and a snappy batch as unsupported-codec', () => {
    const dir = folder('records')
    const good = encodeBatch([{ value: 'a', timestamp: 1 }], { baseOffset: 0 })
    const bad = encodeBatch([{ key: 'kk', value: 'b', timestamp: 2 }], { baseOffset: 1 })
    bad[RECORDS_POS + 4] = 0x7e // the key length: far past the record's end
    bad.writeUInt32BE(crc32c(bad.subarray(ATTRIBUTES_POS)), CRC_POS)
    const snappy = encodeBatch([{ value: 'c', timestamp: 3 }], { baseOffset: 2 })
    snappy.writeInt16BE(2, ATTRIBUTES_POS)
    snappy.writeUInt32BE(crc32c(snappy.subarray(ATTRIBUTES_POS)), CRC_POS)
    const file = path.join(dir, '00000000000000000000.log')
    fs.writeFileSync(file, Buffer.concat([good, bad, snappy]))
    const json = verifyJson(file)
    expect(json.status).toBe(1)
    expect(json.problems.map((p) => [p.position, p.kind])).toEqual([
      [good.length, 'bad-record'],
      [good.length + bad.length, 'unsupported-codec'],
    ])
    expect(json.problems[1]?.message).toContain('is compressed with snappy, which seglog does not read')
    expect(json.checked).toMatchObject({ batches: 3, records: 1 })
  })

  it('reports wrong .index and .timeindex entries as index problems', async () => {
    const dir = folder('index')
    await writePartition(dir, 150, { ...SMALL, segmentBytes: 8192 })
    const name = path.basename(logFiles(dir)[0] as string, '.log')
    expect(fs.statSync(path.join(dir, `${name}.index`)).size).toBeGreaterThan(8 * 20)
    /** A copy of the partition with one index file edited; returns the problems verify reports. */
    const damaged = (suffix: string, change: (bytes: Buffer) => void): { file: string; problems: Problem[] } => {
      const copy = folder('index-copy')
      fs.cpSync(dir, copy, { recursive: true })
      const file = path.join(copy, name + suffix)
      edit(file, change)
      const json = verifyJson(copy)
      expect(json.status).toBe(1)
      return { file, problems: json.problems }
    }

    // Entry 1 one byte past the start of its batch.
    const position = damaged('.index', (b) => b.writeUInt32BE(b.readUInt32BE(12) + 1, 12))
    expect(position.problems).toEqual([
      { file: position.file, position: 8, kind: 'index', message: expect.stringMatching(/does not point at a batch boundary \(it is inside the batch at position \d+\)$/) },
    ])
    // Entry 1 at its batch, but naming an offset other than the batch's last.
    const offset = damaged('.index', (b) => b.writeUInt32BE(b.readUInt32BE(8) - 1, 8))
    expect(offset.problems).toEqual([
      { file: offset.file, position: 8, kind: 'index', message: expect.stringContaining("(an entry maps a batch's last offset to the batch's position)") },
    ])
    // Kafka's one entry per append: the offset of a later batch's end, at an earlier batch of the
    // same append (a follower's multi-batch append), is fine; an offset no batch ends at is not.
    const copy = folder('index-kafka')
    fs.cpSync(dir, copy, { recursive: true })
    edit(path.join(copy, `${name}.index`), (b) => b.writeUInt32BE(b.readUInt32BE(8) + 2, 8))
    expect(verifyJson(copy)).toMatchObject({ status: 0, problems: [] })
    const between = damaged('.index', (b) => b.writeUInt32BE(b.readUInt32BE(8) + 1, 8))
    expect(between.problems).toEqual([
      { file: between.file, position: 8, kind: 'index', message: expect.stringMatching(/, and no batch ending at \d+ follows it \(batches up to offset \d+ follow it\)/) },
    ])
    // Entry 1 out of order: below entry 0.
    const order = damaged('.index', (b) => b.writeUInt32BE(0, 12))
    expect(order.problems).toEqual([{ file: order.file, position: 8, kind: 'index', message: expect.stringContaining('entries must strictly increase') }])
    // Time index entry 1 with a timestamp no batch has.
    const time = damaged('.timeindex', (b) => b.writeBigInt64BE(b.readBigInt64BE(12) + 1n, 12))
    expect(time.problems).toEqual([
      { file: time.file, position: 12, kind: 'index', message: expect.stringMatching(/disagrees with the batch holding that offset .* whose maxTimestamp is \d+$/) },
    ])
    // Every entry wrong: the first ten listed, the rest counted in one line.
    const all = damaged('.index', (b) => {
      for (let at = 0; at + 8 <= b.length; at += 8) b.writeUInt32BE(b.readUInt32BE(at + 4) + 1, at + 4)
    })
    const entries = fs.statSync(all.file).size / 8
    expect(entries).toBeGreaterThan(10)
    expect(all.problems).toHaveLength(11)
    expect(all.problems[10]).toEqual({ file: all.file, position: 80, kind: 'index', message: `and ${entries - 10} more problems from here on, not listed` })
  })

  it("reports a sealed segment's untrimmed index as index-untrimmed, but not the last segment's", async () => {
    const dir = folder('untrimmed')
    await writePartition(dir, 60)
    const logs = logFiles(dir)
    const sealedIndex = (logs[0] as string).replace(/\.log$/, '.index')
    const lastIndex = (logs.at(-1) as string).replace(/\.log$/, '.timeindex')
    const entries = fs.statSync(sealedIndex).size
    fs.appendFileSync(sealedIndex, Buffer.alloc(800))
    fs.appendFileSync(lastIndex, Buffer.alloc(240))
    const json = verifyJson(dir)
    expect(json.status).toBe(1)
    expect(json.problems).toEqual([
      {
        file: sealedIndex,
        position: entries,
        kind: 'index-untrimmed',
        message: expect.stringMatching(new RegExp(`^800 zero-filled bytes follow its ${entries / 8} entries`)),
      },
    ])
  })

  it('reports symbolic links as problems and never follows them', async () => {
    const dir = folder('links')
    await writePartition(path.join(dir, 'real', '0'), 5)
    fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'linked-topic'))
    const target = logFiles(path.join(dir, 'real', '0'))[0] as string
    const loose = folder('loose')
    fs.symlinkSync(target, path.join(loose, 'elsewhere.log'))
    const json = verifyJson(dir, loose)
    expect(json.status).toBe(1)
    expect(json.problems.map((p) => [p.file, p.kind])).toEqual([
      [path.join(dir, 'linked-topic'), 'symlink'],
      [path.join(loose, 'elsewhere.log'), 'symlink'],
    ])
    // The real partition was checked once, not again through the link.
    expect(json.checked.batches).toBe(5)
    const direct = verifyJson(path.join(dir, 'linked-topic'))
    expect(direct.problems.map((p) => p.kind)).toEqual(['symlink'])
    expect(direct.checked.batches).toBe(0)
  })

  it('reports garbage at the end of a standalone segment as a torn tail, and never writes a byte', () => {
    const dir = folder('standalone')
    const file = path.join(dir, 'copied-from-kafka.log')
    const batch = encodeBatch([{ value: 'v', timestamp: 5 }], { baseOffset: 7 })
    fs.writeFileSync(file, Buffer.concat([batch, Buffer.from('garbage')]))
    const before = snapshot(dir)
    const run = seglog('verify', file)
    expect(run.status).toBe(1)
    expect(run.stdout).toBe(
      `${file}: position ${batch.length}: torn-tail: the last 7 bytes are not a whole valid batch (truncated: only 7 bytes left, a batch header needs 61): ` +
        `a write cut short by a crash; 7 bytes would be cut\n` +
        `1 problem found (checked 1 file, 1 batch, 1 record, ${batch.length + 7} bytes)\n`,
    )
    expect(snapshot(dir)).toEqual(before)
  })
})

describe('judgeDamage: the torn-vs-corrupt table of verify-damage.ts, over every combination', () => {
  // last, valid batch after, rest of the log within the window → kind, whether the scan goes on
  const TABLE: Array<[boolean, boolean, boolean, 'torn-tail' | 'corrupt', boolean]> = [
    [true, false, false, 'torn-tail', false],
    [true, false, true, 'torn-tail', false],
    [true, true, true, 'torn-tail', false],
    [true, true, false, 'corrupt', true],
    [false, false, true, 'corrupt', false],
    [false, true, true, 'corrupt', true],
    [false, false, false, 'corrupt', false],
    [false, true, false, 'corrupt', true],
  ]
  it.each(TABLE)('last %s, valid batch after %s, within the window %s → %s (go on: %s)', (last, after, within, kind, goOn) => {
    const size = 10_000
    const verdict = judgeDamage({
      position: 1000,
      reason: 'bad-crc: …',
      size,
      resync: after ? { position: 1500, baseOffset: 40 } : undefined,
      expectedOffset: 30,
      last,
      inPartition: true,
      laterBytes: last ? 0 : 5000,
      maxUnsyncedBytes: within ? 1_000_000 : 100,
    })
    expect({ kind: verdict.kind, goOn: verdict.goOn }).toEqual({ kind, goOn })
    if (kind === 'torn-tail') expect(verdict.message).toContain(`open or 'seglog recover' will cut ${size - 1000} bytes`)
    if (kind === 'corrupt' && goOn) expect(verdict.message).toContain("valid batches follow at position 1500 (offset 40), which 'seglog recover' keeps: offsets 30 to 39 are lost")
    // A sealed segment's damage is never a torn write, however close to the end of the log.
    if (!last && !after) expect(verdict.message).toContain('this sealed segment was complete when sealed')
  })
})
