/**
 * Scenario 7, hostile names and paths.
 *
 * Names: hundreds of topic and group names — `..`, `/`, `\`, NUL, 250+ bytes, whitespace, Unicode
 * look-alikes of `.`, `/` and letters, shell metacharacters, seglog's own reserved names — go
 * through every API that takes one (createTopic, topic, producer.send, consumer group and topics,
 * OffsetStore, Topic). Each must be refused with `ERR_INVALID_NAME` (bad arguments of the wrong type
 * with TypeError), and nothing may appear on disk, in the log's root or above it.
 *
 * Paths: a partition folder, a segment, an index, a checkpoint, the lock file, a topic folder and
 * the groups folder are each replaced by a symbolic link to a "victim" folder or file outside the
 * log. Opening must refuse with a typed error (or go on without ever using the link), and the
 * victim must not be read into the log or changed; `seglog verify` reports the link.
 */
import fs from 'node:fs'
import path from 'node:path'
import { InvalidNameError } from '../../src/errors.js'
import { Log } from '../../src/log.js'
import { OffsetStore } from '../../src/consumer-offsets/index.js'
import { Partition, Topic } from '../../src/partition/index.js'
import { describe, isTypedError, removeScratch, Report, scratch, tree, verifyHere, type Level, type Outcome } from './support.js'

/** Fragments that make a name hostile wherever they sit in it. */
const FRAGMENTS: readonly string[] = [
  '/', '\\', '\0', '..', ':', '*', '?', '"', '<', '>', '|', ' ', '\t', '\n', '\r', '%', '$', '`', ';', '&', '~', '@', '#', '!', "'",
  '\u00a0', // no-break space
  '\u200b', // zero-width space
  '\u200d', // zero-width joiner
  '\ufeff', // byte order mark
  '\u202e', // right-to-left override
  '\u2215', // division slash ∕
  '\u2044', // fraction slash ⁄
  '\uff0f', // full-width solidus ／
  '\uff3c', // full-width reverse solidus ＼
  '\u2024', // one dot leader ․
  '\u2025', // two dot leader ‥
  '\uff0e', // full-width full stop ．
  '\u3002', // ideographic full stop 。
  '\u2010', // hyphen ‐
  '\u2212', // minus sign −
  '\u0430', // Cyrillic a
  '\u03bf', // Greek omicron
  '\u0131', // dotless i
  '\u212a', // Kelvin sign K
  '\u017f', // long s ſ
  '\ufb01', // ligature ﬁ
  'e\u0301', // e + combining acute
  '\ud83d\ude00', // an emoji
  '\ud800', // a lone surrogate
]

/** Whole names, each hostile on its own. */
const WHOLE: readonly string[] = [
  '', '.', '..', '/', '//', '/etc', '/etc/passwd', '../', '../x', '../../x', 'x/..', 'x/../..', './x', '.\\x', '..\\x', 'C:\\x', 'C:', 'x'.repeat(250), 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(1000), 'x'.repeat(100_000),
  'é'.repeat(125), '\uff54\uff4f\uff50\uff49\uff43', 't\u043epic', '%2e%2e', '%2f', '..%2f..', '\0', 'x\0', '\0x', '@groups', '@producers', '@members', '$(touch pwned)', '`touch pwned`', '\u202etxt.exe',
  'seglog.json',
]

/** Names Kafka's rule allows; they must work, and stay inside the log's root. */
const ACCEPTED: readonly string[] = ['...', 'a..', '..a', '....', '-rf', 'CON', 'NUL', 'AUX', 'COM1', 'LPT1', 'con.txt', 'x'.repeat(249), '-', '_', 'a.b-c_d', 'topic.json']

export function hostileNameList(): string[] {
  const names = new Set<string>(WHOLE)
  for (const f of FRAGMENTS) for (const n of [f, `a${f}`, `${f}a`, `a${f}b`, `${f}${f}`]) names.add(n)
  // '..' inside a longer name ('a..', '....') is a plain name under Kafka's rule: see ACCEPTED.
  return [...names].filter((n) => !/^[a-zA-Z0-9._-]+$/.test(n) || n === '.' || n === '..' || n === 'seglog.json')
}

export async function hostileNames(level: Level, seed: number): Promise<Outcome> {
  const report = new Report('hostile-names', seed)
  const names = hostileNameList()
  try {
    const outside = scratch('memory')
    const root = path.join(outside, 'root')
    const log = await Log.open(root)
    await log.createTopic('ok', { partitions: 1 })
    const producer = log.producer()
    const before = tree(outside)
    for (const name of names) await tryName(log, producer, root, name, report)
    await producer.close()
    await log.close()
    const after = tree(outside)
    const created = after.filter((p) => !before.includes(p) && !/^root\/(ok\/|@producers)/.test(p))
    report.check(created.length === 0, () => `hostile names created ${created.slice(0, 10).join(', ')}`)
    // Names Kafka allows work and stay inside the root.
    const log2 = await Log.open(root)
    for (const name of ACCEPTED) {
      try {
        await log2.createTopic(name, { partitions: 1 })
        report.count('accepted')
      } catch (err) {
        report.fail(`createTopic(${JSON.stringify(name.slice(0, 40))}), a name Kafka's rule allows, threw ${describe(err)}`)
      }
    }
    await log2.close()
    const escaped = tree(outside).filter((p) => !p.startsWith('root/') && !before.includes(p))
    report.check(escaped.length === 0, () => `accepted names created files outside the root: ${escaped.join(', ')}`)
    await symlinks(report)
  } catch (err) {
    report.fail(`the scenario threw ${describe(err)} (seed ${seed})`)
  } finally {
    removeScratch()
  }
  return report.done(
    `${names.length} hostile names through 9 APIs (${report.get('calls')} calls): ${report.get('refused')} refused with ERR_INVALID_NAME, ` +
      `${report.get('notRefused')} not, ${report.get('createdFiles')} files created; ${report.get('accepted')} names Kafka allows accepted inside the root; ` +
      `${report.get('symlinkCases')} symlink cases: ${report.get('symlinkRefused')} refused with a typed error, ${report.get('symlinkIgnored')} never used, ` +
      `${report.get('symlinkFollowed')} followed, ${report.get('victimChanged')} victims changed, ${report.get('symlinkUntyped')} untyped errors`,
  )
}

async function tryName(log: Log, producer: ReturnType<Log['producer']>, root: string, name: string, report: Report): Promise<void> {
  const shown = JSON.stringify(name.length > 30 ? `${name.slice(0, 30)}…(${name.length})` : name)
  const calls: Array<[string, () => unknown]> = [
    ['createTopic', () => log.createTopic(name, { partitions: 1 })],
    ['topic', () => log.topic(name)],
    ['producer.send', () => producer.send(name, { value: 'x' })],
    ['consumer group', () => log.consumer({ group: name, topics: ['ok'] })],
    ['consumer topics', () => log.consumer({ group: 'g', topics: [name] })],
    ['OffsetStore group', () => OffsetStore.open(root, name, 'ok', 0)],
    ['OffsetStore topic', () => OffsetStore.open(root, 'g', name, 0)],
    ['Topic.create', () => Topic.create(root, name, { partitions: 1 })],
    ['Topic.open', () => Topic.open(root, name)],
  ]
  // 'seglog.json' is reserved for topics only (it is the log's marker file in the root); as a group it is fine.
  const topicOnly = name === 'seglog.json'
  for (const [api, call] of calls) {
    if (topicOnly && api.endsWith(' group')) continue
    report.count('calls')
    try {
      const result = await call()
      report.count('notRefused')
      report.fail(`${api}(${shown}) was accepted`)
      // Undo what it opened, so the rest of the run is not disturbed.
      if (result !== null && typeof result === 'object' && 'close' in result) await (result as { close: () => Promise<void> }).close().catch(() => {})
    } catch (err) {
      if (err instanceof InvalidNameError && err.code === 'ERR_INVALID_NAME') report.count('refused')
      else {
        report.count('notRefused')
        report.fail(`${api}(${shown}) threw ${describe(err)}, not ERR_INVALID_NAME`)
      }
    }
  }
}

interface LinkCase {
  name: string
  /** Build the log (in `root`) and the victim (in `victim`), then replace something with a link. */
  setup: (root: string, victim: string) => Promise<void>
  /** What to try; throws to refuse. */
  attempt: (root: string) => Promise<void>
}

const OPTIONS = { segmentBytes: 1024 }

async function partitionWithData(dir: string, records = 30): Promise<void> {
  const p = await Partition.open(dir, OPTIONS)
  for (let i = 0; i < records; i++) await p.append([{ value: `r${i}` }])
  await p.close()
}

function replaceWithLink(target: string, link: string): void {
  fs.rmSync(link, { recursive: true, force: true })
  fs.symlinkSync(target, link)
}

const LINK_CASES: readonly LinkCase[] = [
  {
    name: 'partition folder',
    setup: async (root, victim) => {
      await partitionWithData(path.join(victim, 'p'))
      fs.mkdirSync(root, { recursive: true })
      fs.symlinkSync(path.join(victim, 'p'), path.join(root, 'p'))
    },
    attempt: async (root) => {
      const p = await Partition.open(path.join(root, 'p'), OPTIONS)
      await p.append([{ value: 'through the link' }])
      await p.close()
    },
  },
  {
    name: 'partition folder, read-only',
    setup: async (root, victim) => {
      await partitionWithData(path.join(victim, 'p'))
      fs.mkdirSync(root, { recursive: true })
      fs.symlinkSync(path.join(victim, 'p'), path.join(root, 'p'))
    },
    attempt: async (root) => {
      const p = await Partition.openReadOnly(path.join(root, 'p'))
      await p.close()
    },
  },
  ...(['00000000000000000000.log', '00000000000000000000.index', '00000000000000000000.timeindex', 'log-start-offset', 'recovery-point', '.lock', 'durable-offset', 'clean-shutdown'] as const).map(
    (file): LinkCase => ({
      name: `the partition's ${file}`,
      setup: async (root, victim) => {
        const dir = path.join(root, 'p')
        await partitionWithData(dir)
        const p = await Partition.open(dir, OPTIONS) // so that the log-start-offset and recovery-point checkpoints exist
        await p.deleteRecordsBefore(1)
        await p.close()
        fs.mkdirSync(victim, { recursive: true })
        fs.copyFileSync(path.join(dir, fs.existsSync(path.join(dir, file)) ? file : '00000000000000000000.log'), path.join(victim, 'target'))
        replaceWithLink(path.join(victim, 'target'), path.join(dir, file))
      },
      attempt: async (root) => {
        const p = await Partition.open(path.join(root, 'p'), { ...OPTIONS, fullRecovery: true })
        await p.append([{ value: 'after' }])
        await p.close()
      },
    }),
  ),
  {
    name: 'topic folder',
    setup: async (root, victim) => {
      const log = await Log.open(victim)
      await log.createTopic('t', { partitions: 1 })
      await log.close()
      const mine = await Log.open(root)
      await mine.close()
      fs.symlinkSync(path.join(victim, 't'), path.join(root, 't'))
    },
    attempt: async (root) => {
      const log = await Log.open(root)
      try {
        const producer = log.producer()
        await producer.send('t', { value: 'through the link' })
        await producer.close()
      } finally {
        await log.close()
      }
    },
  },
  {
    name: 'groups folder (@groups)',
    setup: async (root, victim) => {
      const log = await Log.open(root)
      await log.createTopic('t', { partitions: 1 })
      await log.close()
      fs.mkdirSync(path.join(victim, '@groups'), { recursive: true })
      fs.symlinkSync(path.join(victim, '@groups'), path.join(root, '@groups'))
    },
    attempt: async (root) => {
      const store = await OffsetStore.open(root, 'g', 't', 0)
      await store.commit(1)
      await store.close()
    },
  },
]

async function symlinks(report: Report): Promise<void> {
  for (const c of LINK_CASES) {
    report.count('symlinkCases')
    const base = scratch('memory')
    const root = path.join(base, 'root')
    const victim = path.join(base, 'victim')
    await c.setup(root, victim)
    const victimBefore = snapshot(victim)
    let outcome: 'refused' | 'went on'
    try {
      await c.attempt(root)
      outcome = 'went on'
    } catch (err) {
      outcome = 'refused'
      if (!isTypedError(err)) {
        report.count('symlinkUntyped')
        report.fail(`symlinked ${c.name}: refused with an untyped ${describe(err)}`)
      }
    }
    const victimAfter = snapshot(victim)
    const changed = victimBefore !== victimAfter
    if (changed) {
      report.count('victimChanged')
      report.count('symlinkFollowed')
      report.fail(`symlinked ${c.name}: the link was followed: the victim outside the log changed (${diff(victimBefore, victimAfter)})`)
    } else if (outcome === 'refused') report.count('symlinkRefused')
    else report.count('symlinkIgnored')
    // verify names the link rather than reading through it.
    if (fs.existsSync(root)) {
      const verified = await verifyHere([root])
      const named = verified.problems.some((p) => p.kind === 'symlink')
      // verify checks segments and indexes; other files of a partition are not its business.
      const itsBusiness = !c.name.startsWith("the partition's ") || /\.(log|index|timeindex)$/.test(c.name)
      if (!named && !changed && itsBusiness) report.fail(`symlinked ${c.name}: seglog verify did not report the symbolic link (${verified.problems.map((p) => p.kind).join(', ') || 'no problems'})`)
    }
  }
}

/** Names, sizes and contents of every file below `dir`, as one string. */
function snapshot(dir: string): string {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) out.push(`${path.relative(dir, p)}:${fs.readFileSync(p).toString('base64')}`)
      else out.push(`${path.relative(dir, p)}:link`)
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  return out.join('\n')
}

function diff(before: string, after: string): string {
  const a = new Set(before.split('\n'))
  const b = new Set(after.split('\n'))
  const changed = [...b].filter((x) => !a.has(x)).map((x) => x.slice(0, x.indexOf(':')))
  const gone = [...a].filter((x) => !b.has(x)).map((x) => x.slice(0, x.indexOf(':')))
  return `changed or new: ${[...new Set(changed)].slice(0, 5).join(', ') || '-'}; gone: ${[...new Set(gone)].filter((g) => !changed.includes(g)).slice(0, 5).join(', ') || '-'}`
}

