/**
 * `seglog recover`, run as users run it: the built CLI (`npm run build` first) in a child process,
 * on partitions written by the library and then torn or damaged byte by byte; `seglog verify`
 * before and after, and the library reading what recover kept.
 */
import { createHash } from 'node:crypto'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SeglogError } from '../../src/errors.js'
import { Partition, type PartitionOptions } from '../../src/partition/index.js'
import { RECORDS_POS } from '../../src/segment/record-batch.js'
import { PROJECT_ROOT } from '../kafka-fixtures-folder.js'

const CLI = path.join(PROJECT_ROOT, 'dist/tools/seglog.js')
const LIBRARY = path.join(PROJECT_ROOT, 'dist/src/seglog.js')

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

interface Problem {
  file: string
  position: number
  kind: string
  message: string
}

function verifyProblems(dir: string): { status: number | null; problems: Problem[] } {
  const run = seglog('verify', '--json', dir)
  if (run.stdout === '') throw new Error(`seglog verify --json printed nothing (exit ${run.status}): ${run.stderr}`)
  return { status: run.status, problems: (JSON.parse(run.stdout) as { problems: Problem[] }).problems }
}

let tmp: string
beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' before the tests`)
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-recover-'))
})
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

let folders = 0
function folder(name = 'd'): string {
  const dir = path.join(tmp, `${name}-${folders++}`)
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

const SMALL: PartitionOptions = { segmentBytes: 2048, indexIntervalBytes: 128, maxIndexBytes: 1024, fsync: 'never' }

async function writePartition(dir: string, batches: number, options: PartitionOptions = SMALL, value = (i: number): string => `value-${i}`): Promise<void> {
  const p = await Partition.open(dir, options)
  try {
    for (let i = 0; i < batches; i++) await p.append([{ key: `k${i}`, value: value(i), timestamp: 1_700_000_000_000 + i }, { value: `v${i}`, timestamp: 1_700_000_000_000 + i }])
  } finally {
    await p.close()
  }
}

function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()
    .map((n) => path.join(dir, n))
}

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

/** Name → SHA-256 of every file in `dir`, to prove a command changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of fs.readdirSync(dir).sort()) out[name] = createHash('sha256').update(fs.readFileSync(path.join(dir, name))).digest('hex')
  return out
}

/** Every offset the library reads back from the partition. */
async function offsetsOf(dir: string): Promise<number[]> {
  const p = await Partition.openReadOnly(dir)
  try {
    const offsets: number[] = []
    for await (const r of p.records({ from: 0 })) offsets.push(r.offset)
    return offsets
  } finally {
    await p.close()
  }
}

const REPORT_FIELDS = ['clean', 'segmentsRecovered', 'indexesRebuilt', 'truncatedBytes', 'truncatedFromOffset', 'segmentsRemoved', 'repaired']

describe('seglog recover: usage', () => {
  it('prints its help, exit 0', () => {
    const help = seglog('recover', '--help')
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('Usage: seglog recover [options] <dir>')
    expect(help.stdout).toContain('--dry-run')
  })

  it('exits 2 with one line for a missing folder, a file, and a folder without partitions', () => {
    const missing = path.join(tmp, 'missing')
    expect(seglog('recover', missing)).toEqual({ status: 2, stdout: '', stderr: `seglog recover: cannot open '${missing}': ENOENT: no such file or directory\n` })
    const file = path.join(folder(), '00000000000000000000.log')
    fs.writeFileSync(file, '')
    expect(seglog('recover', file)).toMatchObject({ status: 2, stdout: '', stderr: `seglog recover: cannot recover '${file}': expected a folder (a partition, or a folder above partitions)\n` })
    const empty = folder()
    expect(seglog('recover', empty)).toMatchObject({
      status: 2,
      stdout: '',
      stderr: `seglog recover: cannot recover '${empty}': no partition folders (folders holding 20-digit .log files) in it or below it\n`,
    })
  })
})

describe('seglog recover', () => {
  it('says there is nothing to recover in a clean partition, with and without --dry-run, and --json gives the report', async () => {
    const dir = folder('clean')
    await writePartition(dir, 40)
    const segments = logFiles(dir).length
    const dry = seglog('recover', '--dry-run', dir)
    expect(dry).toEqual({ status: 0, stderr: '', stdout: `${dir}: nothing to recover (checked ${segments} segments)\n` })
    const json = seglog('recover', '--dry-run', '--json', dir)
    const [line] = ndjson(json.stdout)
    expect(Object.keys(line ?? {})).toEqual(['dir', 'report'])
    expect(Object.keys(line?.report as object)).toEqual(REPORT_FIELDS)
    expect(line).toEqual({
      dir,
      report: { clean: false, segmentsRecovered: segments, indexesRebuilt: 0, truncatedBytes: 0, truncatedFromOffset: null, segmentsRemoved: 0, repaired: [] },
    })
    const run = seglog('recover', dir)
    expect(run).toEqual({ status: 0, stderr: '', stdout: `${dir}: nothing to recover (checked ${segments} segments, rebuilt ${segments} indexes)\n` })
    expect(seglog('verify', dir).status).toBe(0)
  })

  it('cuts a torn tail: verify reports it, --dry-run reports the same bytes and changes nothing, recover cuts them, verify is clean', async () => {
    const dir = folder('torn')
    await writePartition(dir, 60)
    const last = logFiles(dir).at(-1) as string
    const lastBatch = batchesOf(last).at(-1) as { position: number; size: number; baseOffset: number }
    const torn = lastBatch.size - 20
    fs.truncateSync(last, lastBatch.position + torn) // the last batch cut short, as a crash leaves it

    const before = verifyProblems(dir)
    expect(before.status).toBe(1)
    expect(before.problems).toEqual([
      {
        file: last,
        position: lastBatch.position,
        kind: 'torn-tail',
        message: `the last ${torn} bytes are not a whole valid batch (truncated: batch of ${lastBatch.size} bytes but only ${torn} bytes left): a write cut short by a crash; open or 'seglog recover' will cut ${torn} bytes`,
      },
    ])

    const files = snapshot(dir)
    const dry = seglog('recover', '--dry-run', dir)
    expect(dry.status).toBe(0)
    expect(dry.stdout).toBe(`${dir}: would cut ${torn} bytes at the end of the log from offset ${lastBatch.baseOffset} (a torn write)\n${dir}: checked ${logFiles(dir).length} segments\n`)
    const [dryJson] = ndjson(seglog('recover', '--dry-run', '--json', dir).stdout)
    expect(dryJson?.report).toMatchObject({ truncatedBytes: torn, truncatedFromOffset: lastBatch.baseOffset, segmentsRemoved: 0, repaired: [] })
    expect(snapshot(dir)).toEqual(files)

    const run = seglog('recover', dir)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(run.stdout.split('\n')[0]).toBe(`${dir}: cut ${torn} bytes at the end of the log from offset ${lastBatch.baseOffset} (a torn write)`)
    expect(fs.statSync(last).size).toBe(lastBatch.position)
    expect(seglog('verify', dir)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^OK /) })
    expect(await offsetsOf(dir)).toEqual(Array.from({ length: lastBatch.baseOffset }, (_, i) => i))
  })

  it('keeps the valid batches after a damaged batch beyond the torn-write window, and reports the offsets lost', async () => {
    const dir = folder('damaged')
    // 2 MiB segments, about 6.5 MiB in all: damage in the middle of the first is more than the
    // default window (maxUnsyncedBytes, 4 MiB) from the end of the log, so it is corruption.
    await writePartition(dir, 400, { segmentBytes: 2 * 1024 * 1024, fsync: 'never' }, (i) => `${i}:`.padEnd(16 * 1024, 'x'))
    const logs = logFiles(dir)
    expect(logs.length).toBeGreaterThanOrEqual(4)
    const first = logs[0] as string
    const batches = batchesOf(first)
    const index = Math.floor(batches.length / 2)
    const victim = batches[index] as { position: number; size: number; baseOffset: number; lastOffset: number }
    const after = batches[index + 1] as { position: number; baseOffset: number }
    const fd = fs.openSync(first, 'r+')
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, victim.position + RECORDS_POS + 100)
    fs.closeSync(fd)
    const total = 800

    const before = verifyProblems(dir)
    expect(before.status).toBe(1)
    expect(before.problems).toEqual([
      {
        file: first,
        position: victim.position,
        kind: 'corrupt',
        message: expect.stringMatching(
          new RegExp(
            `^${victim.size} invalid bytes \\(bad-crc: .*\\); valid batches follow at position ${after.position} \\(offset ${after.baseOffset}\\), ` +
              `which 'seglog recover' keeps: offsets ${victim.baseOffset} to ${victim.lastOffset} are lost$`,
          ),
        ),
      },
    ])

    // The library refuses to open it (after a crash, when it scans this far) rather than cut 5 MiB.
    const err = await Partition.open(dir, { fullRecovery: true }).then(
      async (p) => {
        await p.close()
        return undefined
      },
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(SeglogError)
    expect((err as SeglogError).code).toBe('ERR_CORRUPT_RECORD')

    const files = snapshot(dir)
    const repaired = { file: first, position: victim.position, bytes: victim.size, lostFromOffset: victim.baseOffset, lostToOffset: victim.lastOffset }
    const [dry] = ndjson(seglog('recover', '--dry-run', '--json', dir).stdout)
    expect(dry?.report).toMatchObject({ truncatedBytes: 0, segmentsRemoved: 0, repaired: [repaired] })
    expect(snapshot(dir)).toEqual(files)

    const run = seglog('recover', dir)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(run.stdout.split('\n')[0]).toBe(
      `${dir}: dropped ${victim.size} damaged bytes at ${first} position ${victim.position}, keeping the valid batches after them: ` +
        `offsets ${victim.baseOffset} to ${victim.lastOffset} lost`,
    )
    const lost = new Set([victim.baseOffset, victim.lastOffset])
    expect(await offsetsOf(dir)).toEqual(Array.from({ length: total }, (_, i) => i).filter((o) => !lost.has(o)))

    // Repair records the offsets it dropped (offset-gaps), so open and verify accept that gap,
    // and only that one.
    expect(fs.readFileSync(path.join(dir, 'offset-gaps'), 'utf8')).toBe(`${victim.baseOffset} ${victim.lastOffset}\n`)
    expect(verifyProblems(dir)).toEqual({ status: 0, problems: [] })
    const reopened = await Partition.open(dir)
    expect(reopened.recovery.repaired).toEqual([])
    await reopened.close()
  })

  it('recovers every partition under a root, one NDJSON object each', async () => {
    const root = folder('root')
    await writePartition(path.join(root, 'a', '0'), 10)
    await writePartition(path.join(root, 'a', '1'), 30)
    await writePartition(path.join(root, 'b', '0'), 5)
    const torn = logFiles(path.join(root, 'a', '1')).at(-1) as string
    const lastBatch = batchesOf(torn).at(-1) as { size: number }
    fs.truncateSync(torn, fs.statSync(torn).size - 3)
    const run = seglog('recover', '--json', root)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const lines = ndjson(run.stdout)
    expect(lines.map((l) => l.dir)).toEqual([path.join(root, 'a', '0'), path.join(root, 'a', '1'), path.join(root, 'b', '0')])
    expect(lines.map((l) => (l.report as { truncatedBytes: number }).truncatedBytes)).toEqual([0, lastBatch.size - 3, 0])
    expect(seglog('verify', root).status).toBe(0)
  })
})

describe('seglog recover beside a writer in another process', () => {
  let child: ChildProcess | undefined
  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
  })

  /** Start a process that opens `dir` for writing, appends, and waits; resolves with its pid once ready. */
  async function startWriter(dir: string): Promise<number> {
    const script = `
      const { Partition } = await import(${JSON.stringify(pathToFileURL(LIBRARY).href)})
      const p = await Partition.open(process.argv[1], { segmentBytes: 2048, indexIntervalBytes: 128 })
      for (let i = 0; i < 40; i++) await p.append([{ value: 'value-' + i, timestamp: 1700000000000 + i }])
      process.stdout.write('ready\\n')
      setInterval(() => {}, 1000)
    `
    child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    await new Promise<void>((resolve, reject) => {
      child?.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes('ready')) resolve()
      })
      child?.once('exit', (code) => reject(new Error(`the writer exited (${code}) before it was ready: ${stderr}`)))
    })
    return child.pid as number
  }

  it('refuses a partition a writer holds (exit 2, one clear line), while --dry-run and verify work beside it', async () => {
    const root = folder('locked')
    const dir = path.join(root, 'topic', '0')
    const pid = await startWriter(dir)
    await writePartition(path.join(root, 'topic', '1'), 5)
    const files = snapshot(dir)

    const run = seglog('recover', root)
    expect(run.status).toBe(2)
    expect(run.stderr).toBe(`seglog recover: cannot recover '${dir}': a writer has it open (process ${pid}); stop it first or use --dry-run\n`)
    // The other partition was recovered all the same.
    expect(run.stdout).toBe(`${path.join(root, 'topic', '1')}: nothing to recover (checked 1 segment, rebuilt 1 index)\n`)

    const json = seglog('recover', '--json', dir)
    expect(json.status).toBe(2)
    expect(ndjson(json.stdout)).toEqual([
      { dir, error: { code: 'ERR_LOCKED', message: `cannot recover '${dir}': a writer has it open (process ${pid}); stop it first or use --dry-run` } },
    ])

    const dry = seglog('recover', '--dry-run', dir)
    expect(dry).toMatchObject({ status: 0, stderr: '', stdout: expect.stringMatching(/: nothing to recover \(checked \d+ segments\)\n$/) })
    expect(seglog('verify', dir)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^OK \(checked \d+ files, 40 batches, 40 records, /) })
    expect(snapshot(dir)).toEqual(files)
  })
})
