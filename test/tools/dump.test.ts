/**
 * `seglog dump`, run as users run it: the built CLI (`npm run build` first) in a child process,
 * on the real Kafka segments and on files written by hand in a temporary folder.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { crc32c } from '../../src/segment/crc32c.js'
import { ATTRIBUTES_POS, CRC_POS, encodeBatch, MAX_TIMESTAMP_POS } from '../../src/segment/record-batch.js'
import { KAFKA_FIXTURES, kafkaFixturesPresent, PROJECT_ROOT } from '../kafka-fixtures-folder.js'

const CLI = path.join(PROJECT_ROOT, 'dist/tools/seglog.js')
const fixtures = kafkaFixturesPresent()
const fixture = (name: string): string => path.join(KAFKA_FIXTURES, name)

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

function seglog(...args: string[]): Run {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (result.error !== undefined) throw result.error
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

function ndjson(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

const BATCH_FIELDS = [
  'position',
  'baseOffset',
  'lastOffset',
  'count',
  'size',
  'crc',
  'valid',
  'codec',
  'producerId',
  'producerEpoch',
  'baseSequence',
  'isControl',
  'isTransactional',
  'maxTimestamp',
]

let tmp: string
beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' before the tests`)
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-dump-'))
})
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

/** Write `bytes` to a new file in the temporary folder; returns its path. */
function write(name: string, bytes: Uint8Array): string {
  const file = path.join(tmp, name)
  fs.writeFileSync(file, bytes)
  return file
}

describe('seglog', () => {
  it('prints its help and version, exit 0', () => {
    const help = seglog('--help')
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('Usage: seglog [options] [command]')
    expect(help.stdout).toMatch(/dump \[options\] <file\.\.\.>/)
    const dumpHelp = seglog('dump', '--help')
    expect(dumpHelp.status).toBe(0)
    expect(dumpHelp.stdout).toContain('Usage: seglog dump [options] <file...>')
    expect(dumpHelp.stdout).toContain('--values <encoding>')
    const version = seglog('--version')
    expect(version.status).toBe(0)
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }
    expect(version.stdout.trim()).toBe(pkg.version)
  })

  it.each([
    [['dump'], "seglog dump: missing required argument 'file'"],
    [['dump', '--bogus', 'x.log'], "seglog dump: unknown option '--bogus'"],
    [['dump', '--values', 'rot13', 'x.log'], "seglog dump: option '--values <encoding>' argument 'rot13' is invalid"],
    [['frobnicate'], "seglog: unknown command 'frobnicate'"],
    [[], 'Usage: seglog'],
  ])('exits 2 on a usage error: %j', (args, message) => {
    const run = seglog(...args)
    expect(run.status).toBe(2)
    expect(run.stderr).toContain(message)
    expect(run.stdout).toBe('')
  })
})

describe('seglog dump, errors', () => {
  it('exits 2 with one clear line for a missing file', () => {
    const missing = path.join(tmp, 'missing.log')
    const run = seglog('dump', missing)
    expect(run.status).toBe(2)
    expect(run.stderr).toBe(`seglog dump: cannot open '${missing}': ENOENT: no such file or directory\n`)
  })

  it('exits 2 for a file of unknown type and for a folder, and still dumps the other files', () => {
    const other = write('notes.txt', Buffer.from('hello'))
    const good = write('00000000000000000000.log', encodeBatch([{ value: 'v', timestamp: 1 }]))
    const run = seglog('dump', other, tmp + '/', good)
    expect(run.status).toBe(2)
    expect(run.stderr).toContain(`seglog dump: cannot dump '${other}': unknown file type (expected .log, .index or .timeindex)`)
    expect(run.stdout).toContain(`Dumping ${good}`)
    expect(run.stdout).toContain('baseOffset: 0 lastOffset: 0 count: 1')
  })

  it('refuses to follow a symbolic link, as the storage layers do', () => {
    const target = write('target.log', encodeBatch([{ value: 'v', timestamp: 1 }]))
    const link = path.join(tmp, 'link.log')
    fs.symlinkSync(target, link)
    const run = seglog('dump', link)
    expect(run.status).toBe(2)
    expect(run.stderr).toBe(`seglog dump: cannot open '${link}': ELOOP: it is a symbolic link, which seglog does not follow\n`)
  })
})

describe.skipIf(!fixtures)('seglog dump on real Kafka segments', () => {
  const TABLE: Array<[string, number, number, number, number]> = [
    // file, batches, records, control batches, last offset (README table)
    ['test-topic-75B.log', 1, 1, 0, 0],
    ['test-topic-83B.log', 1, 2, 0, 1],
    ['cluster-metadata-2076B.log', 21, 24, 1, 23],
    ['cluster-metadata-2239B.log', 23, 26, 2, 25],
    ['cluster-metadata-5505B.log', 45, 94, 1, 93],
  ]

  it.each(TABLE)('--json --records prints %s as the README says', (name, batches, records, control, lastOffset) => {
    const file = fixture(name)
    const run = seglog('dump', '--json', '--records', file)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const lines = ndjson(run.stdout)
    expect(lines).toHaveLength(batches)
    let next = 0
    let position = 0
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(['file', ...BATCH_FIELDS, 'records'])
      expect(line).toMatchObject({ file, valid: true, codec: 'none', baseOffset: next, position })
      const batchRecords = line.records as Array<Record<string, unknown>>
      expect(batchRecords).toHaveLength(line.count as number)
      for (const record of batchRecords) {
        expect(Object.keys(record)).toEqual(['offset', 'timestamp', 'key', 'value', 'headers'])
        expect(record.offset).toBe(next++)
      }
      expect(line.lastOffset).toBe(next - 1)
      position += line.size as number
    }
    expect(position).toBe(fs.statSync(file).size)
    expect(lines.filter((l) => l.isControl === true)).toHaveLength(control)
    expect(lines.reduce((n, l) => n + (l.count as number), 0)).toBe(records)
    expect(next - 1).toBe(lastOffset)
  })

  it('--json prints the values of test-topic-83B.log and test-topic-75B.log, each object naming its file', () => {
    const run = seglog('dump', '--json', '--records', fixture('test-topic-83B.log'), fixture('test-topic-75B.log'))
    expect(run.status).toBe(0)
    expect(ndjson(run.stdout)).toEqual([
      {
        file: fixture('test-topic-83B.log'),
        position: 0,
        baseOffset: 0,
        lastOffset: 1,
        count: 2,
        size: 83,
        crc: 2895120616,
        valid: true,
        codec: 'none',
        producerId: -1,
        producerEpoch: -1,
        baseSequence: -1,
        isControl: false,
        isTransactional: false,
        maxTimestamp: 11,
        records: [
          { offset: 0, timestamp: 10, key: 'k1', value: 'v1', headers: [] },
          { offset: 1, timestamp: 11, key: 'k2', value: 'v2', headers: [] },
        ],
      },
      {
        file: fixture('test-topic-75B.log'),
        position: 0,
        baseOffset: 0,
        lastOffset: 0,
        count: 1,
        size: 75,
        crc: 3542028468,
        valid: true,
        codec: 'none',
        producerId: -1,
        producerEpoch: -1,
        baseSequence: -1,
        isControl: false,
        isTransactional: false,
        maxTimestamp: -1,
        records: [{ offset: 0, timestamp: -1, key: null, value: 'message', headers: [] }],
      },
    ])
  })

  it('--json without --records prints the batch fields only', () => {
    const lines = ndjson(seglog('dump', '--json', fixture('cluster-metadata-2239B.log')).stdout)
    expect(lines).toHaveLength(23)
    for (const line of lines) expect(Object.keys(line)).toEqual(['file', ...BATCH_FIELDS])
  })

  it('prints one line per batch in text mode, and one per record with --records', () => {
    const file = fixture('test-topic-83B.log')
    const run = seglog('dump', file)
    expect(run.status).toBe(0)
    expect(run.stdout).toBe(
      `Dumping ${file}\n` +
        'baseOffset: 0 lastOffset: 1 count: 2 baseSequence: -1 producerId: -1 producerEpoch: -1 partitionLeaderEpoch: 1' +
        ' isTransactional: false isControl: false position: 0 CreateTime: 11 size: 83 magic: 2 codec: none crc: 2895120616 isvalid: true\n',
    )
    const records = seglog('dump', '--records', file).stdout.split('\n')
    expect(records.slice(2)).toEqual([
      '| offset: 0 timestamp: 10 keySize: 2 valueSize: 2 headers: [] key: k1 value: v1',
      '| offset: 1 timestamp: 11 keySize: 2 valueSize: 2 headers: [] key: k2 value: v2',
      '',
    ])
  })

  it('names the control record type of a KRaft control batch in text mode', () => {
    const run = seglog('dump', '--records', '--values', 'none', fixture('cluster-metadata-2076B.log'))
    expect(run.stdout).toContain('| offset: 0 timestamp: 1702641303506 keySize: 4 valueSize: 19 headers: [] controlType: LEADER_CHANGE\n')
    expect(run.stdout.split('\n').filter((l) => l.startsWith('baseOffset: '))).toHaveLength(21)
  })

  it.each([
    ['hex', '6b31', '7631'],
    ['base64', 'azE=', 'djE='],
    ['none', 2, 2],
  ] as const)('--values %s encodes keys and values', (encoding, key, value) => {
    const file = fixture('test-topic-83B.log')
    const json = ndjson(seglog('dump', '--json', '--records', '--values', encoding, file).stdout)
    expect((json[0]?.records as unknown[])[0]).toEqual({ offset: 0, timestamp: 10, key, value, headers: [] })
    const text = seglog('dump', '--records', '--values', encoding, file).stdout
    if (encoding === 'none') expect(text).toContain('| offset: 0 timestamp: 10 keySize: 2 valueSize: 2 headers: []\n')
    else expect(text).toContain(`| offset: 0 timestamp: 10 keySize: 2 valueSize: 2 headers: [] key: ${key} value: ${value}\n`)
  })

  it('reports trailing garbage as Kafka does, on stderr, after printing the valid batches (exit 1)', () => {
    const file = write('garbage.log', Buffer.concat([fs.readFileSync(fixture('test-topic-83B.log')), Buffer.from('garbage')]))
    const run = seglog('dump', file)
    expect(run.status).toBe(1)
    expect(run.stdout).toContain('baseOffset: 0 lastOffset: 1 count: 2')
    expect(run.stderr).toBe(`found 7 invalid bytes at the end of ${file} (position 83: only 7 bytes left, a batch header needs 61)\n`)
    const json = seglog('dump', '--json', file)
    expect(json.status).toBe(1)
    expect(json.stderr).toBe('')
    expect(ndjson(json.stdout).at(-1)).toEqual({
      file,
      invalidBytes: 7,
      position: 83,
      problem: 'truncated',
      message: 'only 7 bytes left, a batch header needs 61',
    })
  })

  it('stops at a damaged batch in the middle of a file and counts the bytes from there', () => {
    const bytes = fs.readFileSync(fixture('cluster-metadata-2076B.log'))
    const batches = ndjson(seglog('dump', '--json', fixture('cluster-metadata-2076B.log')).stdout)
    const third = batches[2]?.position as number
    bytes[third + 40] = (bytes[third + 40] as number) ^ 0x01 // inside the CRC-covered region
    const file = write('damaged.log', bytes)
    const run = seglog('dump', '--json', file)
    expect(run.status).toBe(1)
    const lines = ndjson(run.stdout)
    expect(lines).toHaveLength(3)
    expect(lines[2]).toMatchObject({ file, invalidBytes: bytes.length - third, position: third, problem: 'bad-crc' })
    expect(lines[2]?.message).toMatch(/^CRC-32C is 0x[0-9a-f]{8}, header says 0x[0-9a-f]{8}$/)
  })
})

describe('seglog dump on hand-written files', () => {
  it('encodes header values, binary values and nulls per --values', () => {
    const batch = encodeBatch(
      [
        { key: Buffer.from([0, 255]), value: null, headers: [['dup', 'a'], ['dup', null], ['bin', Buffer.from([1, 2])]], timestamp: 7 },
        { key: 'line\nbreak', value: '', timestamp: 8 },
      ],
      { baseOffset: 42, producerId: 9, producerEpoch: 1, baseSequence: 3 },
    )
    const file = write('headers.log', batch)
    const hex = ndjson(seglog('dump', '--json', '--records', '--values', 'hex', file).stdout)[0]
    expect(hex).toMatchObject({ baseOffset: 42, lastOffset: 43, producerId: 9, producerEpoch: 1, baseSequence: 3 })
    expect(hex?.records).toEqual([
      { offset: 42, timestamp: 7, key: '00ff', value: null, headers: [['dup', '61'], ['dup', null], ['bin', '0102']] },
      { offset: 43, timestamp: 8, key: Buffer.from('line\nbreak').toString('hex'), value: '', headers: [] },
    ])
    const none = ndjson(seglog('dump', '--json', '--records', '--values', 'none', file).stdout)[0]
    expect((none?.records as unknown[])[0]).toEqual({ offset: 42, timestamp: 7, key: 2, value: null, headers: [['dup', 1], ['dup', null], ['bin', 2]] })
    const text = seglog('dump', '--records', file).stdout.split('\n')
    expect(text[2]).toBe('| offset: 42 timestamp: 7 keySize: 2 valueSize: -1 headers: [dup: a, dup: null, bin: \\u0001\\u0002] key: \\u0000\uFFFD value: null')
    expect(text[3]).toBe('| offset: 43 timestamp: 8 keySize: 10 valueSize: 0 headers: [] key: line\\nbreak value: ')
  })

  it('lists a batch with an unsupported codec as valid, and with --records names the codec instead of records', () => {
    const snappy = encodeBatch([{ value: 'x', timestamp: 5 }], { baseOffset: 3 })
    snappy.writeInt16BE(2, ATTRIBUTES_POS)
    snappy.writeUInt32BE(crc32c(snappy.subarray(ATTRIBUTES_POS)), CRC_POS)
    const file = write('snappy.log', Buffer.concat([encodeBatch([{ value: 'y', timestamp: 4 }], { baseOffset: 2, compression: 'gzip' }), snappy]))
    const plain = seglog('dump', '--json', file)
    expect(plain.status).toBe(0)
    expect(ndjson(plain.stdout).map((l) => [l.codec, l.valid])).toEqual([
      ['gzip', true],
      ['snappy', true],
    ])
    const withRecords = seglog('dump', '--json', '--records', file)
    expect(withRecords.status).toBe(1)
    const [gzip, unsupported] = ndjson(withRecords.stdout)
    expect(gzip?.records).toEqual([{ offset: 2, timestamp: 4, key: null, value: 'y', headers: [] }])
    expect(unsupported?.records).toBeUndefined()
    expect(unsupported?.recordsError).toEqual({
      code: 'ERR_UNSUPPORTED_FORMAT',
      message: "Cannot read batch at offset 3: compression codec 'snappy' is not supported (only none and gzip)",
    })
    const text = seglog('dump', '--records', file)
    expect(text.status).toBe(1)
    expect(text.stdout).toContain("codec: snappy crc: ")
    expect(text.stdout).toContain("| error: Cannot read batch at offset 3: compression codec 'snappy' is not supported (only none and gzip)\n")
  })

  it("gives every record of a log-append-time batch the batch's maxTimestamp, as Kafka does", () => {
    const batch = encodeBatch([{ value: 'a', timestamp: 7 }, { value: 'b', timestamp: 8 }])
    batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_POS) | 0x08, ATTRIBUTES_POS) // timestamp type: LogAppendTime
    batch.writeBigInt64BE(999n, MAX_TIMESTAMP_POS) // the broker's clock at append
    batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_POS)), CRC_POS)
    const file = write('append-time.log', batch)
    const [line] = ndjson(seglog('dump', '--json', '--records', file).stdout)
    expect(line?.maxTimestamp).toBe(999)
    expect((line?.records as Array<{ timestamp: number }>).map((r) => r.timestamp)).toEqual([999, 999])
    expect(seglog('dump', file).stdout).toContain(' LogAppendTime: 999 ')
  })

  /** Entries of an offset index: (relativeOffset u32, position u32). */
  function offsetIndex(entries: Array<[number, number]>, zeroEntries = 0): Buffer {
    const buf = Buffer.alloc((entries.length + zeroEntries) * 8)
    entries.forEach(([rel, pos], i) => {
      buf.writeUInt32BE(rel, i * 8)
      buf.writeUInt32BE(pos, i * 8 + 4)
    })
    return buf
  }

  /** Entries of a time index: (timestamp int64, relativeOffset u32). */
  function timeIndex(entries: Array<[number, number]>, zeroEntries = 0): Buffer {
    const buf = Buffer.alloc((entries.length + zeroEntries) * 12)
    entries.forEach(([timestamp, rel], i) => {
      buf.writeBigInt64BE(BigInt(timestamp), i * 12)
      buf.writeUInt32BE(rel, i * 12 + 8)
    })
    return buf
  }

  it('dumps an .index with absolute offsets from its name, and reports its preallocated zero tail', () => {
    const file = write('00000000000000000100.index', offsetIndex([[3, 4096], [7, 8200]], 5))
    const run = seglog('dump', file)
    expect(run.status).toBe(0)
    expect(run.stdout).toBe(
      `Dumping ${file}\noffset: 103 position: 4096\noffset: 107 position: 8200\n40 zero-filled bytes at the end (preallocated, not yet trimmed)\n`,
    )
    expect(ndjson(seglog('dump', '--json', file).stdout)).toEqual([
      { file, offset: 103, position: 4096 },
      { file, offset: 107, position: 8200 },
      { file, zeroFilledBytes: 40, position: 16 },
    ])
  })

  it('dumps a .timeindex', () => {
    const file = write('00000000000000000100.timeindex', timeIndex([[1_700_000_000_000, 3], [1_700_000_000_500, 7]], 2))
    const run = seglog('dump', file)
    expect(run.status).toBe(0)
    expect(run.stdout).toBe(
      `Dumping ${file}\ntimestamp: 1700000000000 offset: 103\ntimestamp: 1700000000500 offset: 107\n24 zero-filled bytes at the end (preallocated, not yet trimmed)\n`,
    )
    expect(ndjson(seglog('dump', '--json', file).stdout).slice(0, 2)).toEqual([
      { file, timestamp: 1_700_000_000_000, offset: 103 },
      { file, timestamp: 1_700_000_000_500, offset: 107 },
    ])
  })

  it('keeps a first entry (0 → 0) that the next entry follows, and treats an all-zero index as preallocation', () => {
    const first = write('00000000000000000000.index', offsetIndex([[0, 0], [4, 5000]], 1))
    expect(seglog('dump', first).stdout).toBe(
      `Dumping ${first}\noffset: 0 position: 0\noffset: 4 position: 5000\n8 zero-filled bytes at the end (preallocated, not yet trimmed)\n`,
    )
    const empty = write('00000000000000000200.index', Buffer.alloc(80))
    const run = seglog('dump', empty)
    expect(run.status).toBe(0)
    expect(run.stdout).toBe(`Dumping ${empty}\n80 zero-filled bytes at the end (preallocated, not yet trimmed)\n`)
  })

  it('reports an entry that does not follow the previous one, with non-zero bytes after it, as invalid (exit 1)', () => {
    const file = write('00000000000000000300.index', offsetIndex([[3, 4096], [7, 8200], [5, 100]], 1))
    const run = seglog('dump', file)
    expect(run.status).toBe(1)
    expect(run.stdout).toBe(`Dumping ${file}\noffset: 303 position: 4096\noffset: 307 position: 8200\n`)
    expect(run.stderr).toBe(
      `found 16 invalid bytes at the end of ${file} (position 16: entry offset: 305 position: 100 does not follow offset: 307 position: 8200)\n`,
    )
    const json = ndjson(seglog('dump', '--json', file).stdout)
    expect(json.at(-1)).toMatchObject({ file, invalidBytes: 16, position: 16, problem: 'bad-entry' })
  })

  it('reports a partial entry at the end of an index as invalid', () => {
    const file = write('00000000000000000400.timeindex', Buffer.concat([timeIndex([[10, 1]]), Buffer.from([1, 2, 3])]))
    const run = seglog('dump', file)
    expect(run.status).toBe(1)
    expect(run.stderr).toBe(`found 3 invalid bytes at the end of ${file} (position 12: a partial entry of 3 bytes)\n`)
  })

  it('refuses an index whose name is not a 20-digit base offset (exit 2)', () => {
    const file = write('offsets.index', offsetIndex([[1, 1]]))
    const run = seglog('dump', file)
    expect(run.status).toBe(2)
    expect(run.stderr).toContain(`seglog dump: cannot dump '${file}': its name must be a 20-digit base offset`)
  })

  it('exits quietly when its reader goes away (seglog dump … | head -n 1)', () => {
    const batches: Buffer[] = []
    for (let i = 0; i < 2000; i++) batches.push(encodeBatch([{ value: Buffer.alloc(1000, 'x'), timestamp: i }], { baseOffset: i }))
    const file = write('long.log', Buffer.concat(batches))
    const result = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" dump --records "${file}" | head -n 1 > /dev/null; echo "\${PIPESTATUS[0]}"`], {
      encoding: 'utf8',
    })
    expect(result.stderr).toBe('')
    expect(result.stdout.trim()).toBe('0')
  })
})
