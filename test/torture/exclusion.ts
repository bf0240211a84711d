/**
 * Scenario 8, exclusion.
 *
 * Race: two long-lived writer processes are told to open the same partition at the same moment,
 * round after round. Exactly one must win and the other get `ERR_LOCKED` at once; the winner
 * appends and closes — or is SIGKILLed holding the lock (the kernel must release it) and replaced.
 * Every so often the parent checks the log: every acknowledged record at its offset, no gap,
 * `seglog verify` clean.
 *
 * Beside a writer: one process appends continuously while `seglog verify` and `seglog dump` run
 * against the same partition, again and again, as separate processes. The writer must never see an
 * error, verify must find nothing wrong in what the writer made durable, dump must not fail, and
 * afterwards every acknowledged record is there.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Partition } from '../../src/partition/index.js'
import { ChildProcessLines } from './processes.js'
import { RACE_PARTITION } from './shared.js'
import { describe, problemsText, removeScratch, Report, requireBuilt, scratch, seglogCliAsync, verifyCli, verifyHere, type Level, type Outcome } from './support.js'

const ROUNDS: Record<Level, number> = { test: 40, quick: 200, full: 1000 }
const BESIDE: Record<Level, number> = { test: 3, quick: 8, full: 30 }

export async function exclusion(level: Level, seed: number): Promise<Outcome> {
  requireBuilt()
  const report = new Report('exclusion', seed)
  try {
    await race(level, report)
    await beside(level, report)
  } catch (err) {
    report.fail(`the scenario threw ${describe(err)} (seed ${seed})`)
  } finally {
    removeScratch()
  }
  return report.done(
    `${report.get('rounds')} races: ${report.get('oneWinner')} with exactly one winner, ${report.get('twoWinners')} with two, ${report.get('noWinner')} with none, ` +
      `${report.get('winnersKilled')} winners SIGKILLed holding the lock, ${report.get('acked')} records acked, ${report.get('lost')} lost, ${report.get('corrupt')} corrupt checks; ` +
      `${report.get('verifyBeside')} verify and ${report.get('dumpBeside')} dump runs beside a writer: ${report.get('writerErrors')} writer errors, ` +
      `${report.get('verifyBesideProblems')} verify problems, ${report.get('dumpBesideFailures')} dump failures`,
  )
}

async function race(level: Level, report: Report): Promise<void> {
  const dir = path.join(scratch('disk'), 'p')
  const spawnRacer = (name: string): ChildProcessLines => new ChildProcessLines(['race', dir, name])
  const racers = [spawnRacer('a0'), spawnRacer('b0')]
  let spawned = 1
  const acked = new Map<number, string>()
  try {
    for (const r of racers) await r.next((l) => l === 'ready')
    for (let round = 1; round <= ROUNDS[level]; round++) {
      report.count('rounds')
      const what = `race round ${round} (seed ${report.seed})`
      for (const r of racers) r.send(`go ${round}`)
      const answers = await Promise.all(racers.map((r) => r.next((l) => l.endsWith(` ${round}`) || l.startsWith(`error ${round} `))))
      const winners = racers.filter((_, i) => (answers[i] as string).startsWith('won'))
      for (const a of answers) if (a.startsWith('error')) report.fail(`${what}: a racer failed to open: ${a}`)
      if (winners.length === 1) report.count('oneWinner')
      else if (winners.length === 2) {
        report.count('twoWinners')
        report.fail(`${what}: both processes opened the partition for writing`)
      } else {
        report.count('noWinner')
        report.fail(`${what}: neither process could open the partition: ${answers.join(' / ')}`)
      }
      for (const winner of winners) {
        const count = 1 + (round % 4)
        winner.send(`append ${count}`)
        const line = await winner.next((l) => l.startsWith('appended '))
        const [, first, last] = line.split(' ').map(Number) as [number, number, number]
        // The child writes `${its name}.${offset}`: its name is racer a/b plus its generation.
        const childName = winner.process.spawnargs.at(-1) as string
        for (let o = first; o <= last; o++) acked.set(o, `${childName}.${o}`)
        report.count('acked', last - first + 1)
        if (round % 10 === 3) {
          // Killed holding the lock: the kernel must let the next round's opener in.
          await winner.kill('SIGKILL')
          report.count('winnersKilled')
          const index = racers.indexOf(winner)
          spawned++
          racers[index] = spawnRacer(`${index === 0 ? 'a' : 'b'}${spawned}`)
          await (racers[index] as ChildProcessLines).next((l) => l === 'ready')
        } else {
          winner.send('close')
          await winner.next((l) => l === 'closed')
        }
      }
      if (round % 50 === 0 || round === ROUNDS[level]) await checkLog(dir, acked, report, what)
    }
  } finally {
    await Promise.all(racers.map((r) => r.kill('SIGKILL')))
  }
}

async function checkLog(dir: string, acked: Map<number, string>, report: Report, what: string): Promise<void> {
  let p: Partition
  try {
    p = await Partition.open(dir, RACE_PARTITION)
  } catch (err) {
    report.count('corrupt')
    report.fail(`${what}: the parent could not open the partition: ${describe(err)}`)
    return
  }
  try {
    let expected = 0
    const seen = new Map<number, string>()
    for (let next = 0; ; ) {
      const { records, nextOffset } = p.read({ from: next, maxBytes: 1 << 20 })
      for (const r of records) {
        if (r.offset !== expected) report.fail(`${what}: offset ${r.offset} follows ${expected - 1}`)
        expected = r.offset + 1
        seen.set(r.offset, r.value?.toString() ?? '')
      }
      if (nextOffset <= next) break
      next = nextOffset
    }
    for (const [offset, value] of acked) {
      if (seen.get(offset) !== value) {
        report.count('lost')
        report.fail(`${what}: acknowledged ${value} at offset ${offset}, found ${String(seen.get(offset))}`)
      }
    }
  } finally {
    await p.close()
  }
  const verified = await verifyHere([dir])
  if (!verified.ok) {
    report.count('corrupt')
    report.fail(`${what}: verify: ${problemsText(verified)}`)
  }
}

async function beside(level: Level, report: Report): Promise<void> {
  const dir = path.join(scratch('disk'), 'p')
  const runs = BESIDE[level]
  // Long enough for the runs below; the writer stops by itself.
  const writer = new ChildProcessLines(['writer', dir, String(3 + runs * 1.5)])
  try {
    await writer.next((l) => l === 'ready')
    for (let i = 0; i < runs && writer.alive; i++) {
      const verified = await verifyCli([dir])
      report.count('verifyBeside')
      if (!verified.ok) {
        report.count('verifyBesideProblems')
        report.fail(`verify beside a writer (run ${i}) reported: ${problemsText(verified)} ${verified.stderr.slice(0, 300)}`)
      }
      const logs = fs.readdirSync(dir).filter((n) => n.endsWith('.log'))
      const dumped = await seglogCliAsync(['dump', '--records', ...logs.map((n) => path.join(dir, n))])
      report.count('dumpBeside')
      // The last segment may end in a batch being written: dump says so (exit 1), that is all.
      if (dumped.status === 2 || dumped.stderr.includes('internal error')) {
        report.count('dumpBesideFailures')
        report.fail(`dump beside a writer (run ${i}) exited ${dumped.status}: ${dumped.stderr.slice(0, 300)}`)
      }
    }
    const exit = await writer.exited
    for (const line of writer.lines) {
      if (line.startsWith('error')) {
        report.count('writerErrors')
        report.fail(`the writer beside verify and dump failed: ${line}`)
      }
    }
    if (exit.code !== 0) report.fail(`the writer beside verify and dump exited with ${exit.code}: ${writer.stderr.slice(0, 500)}`)
    const acked = new Map<number, string>()
    for (const line of writer.lines) {
      const [word, a, b, c] = line.split(' ')
      if (word !== 'a') continue
      const first = Number(a)
      for (let i = 0; i < Number(b); i++) acked.set(Number(c) + i, `w.${first + i}`)
    }
    const p = await Partition.open(dir)
    try {
      for (let next = 0; ; ) {
        const { records, nextOffset } = p.read({ from: next, maxBytes: 1 << 20 })
        for (const r of records) {
          const want = acked.get(r.offset)
          if (want !== undefined && !(r.value?.toString() ?? '').startsWith(`${want}.`)) report.fail(`beside: offset ${r.offset} holds ${r.value?.toString().slice(0, 20)}, acknowledged ${want}`)
          acked.delete(r.offset)
        }
        if (nextOffset <= next) break
        next = nextOffset
      }
    } finally {
      await p.close()
    }
    if (acked.size > 0) {
      report.count('lost', acked.size)
      report.fail(`beside: ${acked.size} acknowledged records missing, e.g. offset ${[...acked.keys()][0]}`)
    }
    const verified = await verifyHere([dir])
    if (!verified.ok) report.fail(`beside: verify after the writer closed: ${problemsText(verified)}`)
  } finally {
    await writer.kill('SIGKILL')
  }
}
