/**
 * `seglog stats DIR [TOPIC...]`: the topics of a log with, per partition, the log start, durable
 * and end offsets, bytes and segments; then every consumer group with its committed offset and
 * lag per partition. A table, or with `--json` one object `{ topics, groups }` made of
 * `log.describe()`'s TopicDescriptions and `log.groups()`'s GroupDescriptions (a group that never
 * committed a partition has `"committed": null` there).
 *
 * Read-only: partitions and offset stores are opened without their lock (a writer or a consumer
 * in another process keeps running), and nothing is written — not even to a folder that is not a
 * log, which is an error.
 */
import type { Command } from 'commander'
import type { GroupDescription, TopicDescription } from '../src/seglog.js'
import { action, EXIT_OK } from './cli.js'
import { existingTopic, openExistingLog } from './open-log.js'
import { LineWriter } from './output.js'
import { formatBytes, formatTable } from './table.js'

export interface StatsOptions {
  json?: boolean
}

export interface Stats {
  topics: TopicDescription[]
  groups: GroupDescription[]
}

/** The numbers; groups keep only the partitions of `topics` when a list is given. */
export async function collectStats(dir: string, topicNames: readonly string[]): Promise<Stats> {
  const log = await openExistingLog(dir)
  try {
    const names = topicNames.length > 0 ? topicNames : log.topics()
    const topics: TopicDescription[] = []
    for (const name of names) {
      await existingTopic(log, name)
      topics.push(await log.describe(name))
    }
    let groups = await log.groups()
    if (topicNames.length > 0) {
      groups = groups
        .map((g) => ({ group: g.group, partitions: g.partitions.filter((p) => topicNames.includes(p.topic)) }))
        .filter((g) => g.partitions.length > 0)
    }
    return { topics, groups }
  } finally {
    await log.close()
  }
}

function statsJson(stats: Stats): string {
  const groups = stats.groups.map((g) => ({ group: g.group, partitions: g.partitions.map((p) => ({ ...p, committed: p.committed ?? null })) }))
  return JSON.stringify({ topics: stats.topics, groups })
}

function statsText(stats: Stats): string[] {
  const lines: string[] = []
  if (stats.topics.length === 0) lines.push('no topics')
  else {
    const rows = stats.topics.flatMap((t) =>
      t.partitions.map((p) => [
        t.name,
        String(p.partition),
        String(p.logStartOffset),
        String(p.durableOffset),
        String(p.logEndOffset),
        String(p.durableOffset - p.logStartOffset),
        formatBytes(p.sizeBytes),
        String(p.segments),
        p.dirtyRatio === undefined ? '-' : p.dirtyRatio.toFixed(2),
      ]),
    )
    lines.push(
      ...formatTable(
        [
          { header: 'TOPIC' },
          { header: 'PARTITION', right: true },
          { header: 'LOG START', right: true },
          { header: 'DURABLE', right: true },
          { header: 'END', right: true },
          { header: 'RECORDS', right: true },
          { header: 'SIZE', right: true },
          { header: 'SEGMENTS', right: true },
          { header: 'DIRTY', right: true },
        ],
        rows,
      ),
    )
  }
  lines.push('')
  if (stats.groups.length === 0) lines.push('no consumer groups')
  else {
    const rows = stats.groups.flatMap((g) =>
      g.partitions.map((p) => [g.group, p.topic, String(p.partition), p.committed === undefined ? '-' : String(p.committed), String(p.durableOffset), String(p.lag)]),
    )
    lines.push(
      ...formatTable(
        [{ header: 'GROUP' }, { header: 'TOPIC' }, { header: 'PARTITION', right: true }, { header: 'COMMITTED', right: true }, { header: 'DURABLE', right: true }, { header: 'LAG', right: true }],
        rows,
      ),
    )
  }
  return lines
}

export async function stats(dir: string, topics: readonly string[], options: StatsOptions): Promise<number> {
  const collected = await collectStats(dir, topics)
  const out = new LineWriter(process.stdout)
  if (options.json === true) await out.line(statsJson(collected))
  else for (const line of statsText(collected)) await out.line(line)
  await out.flush()
  return EXIT_OK
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('topics, partitions (offsets, sizes, segments) and consumer groups with their lag')
    .argument('<dir>', 'the log folder')
    .argument('[topic...]', 'only these topics (default: all)')
    .option('--json', 'print one JSON object: {"topics": [TopicDescription], "groups": [GroupDescription]}')
    .addHelpText(
      'after',
      `
Per partition: LOG START (first readable offset), DURABLE (readers see offsets below it), END
(next offset to be assigned), RECORDS (durable − log start; offsets may have gaps), SIZE,
SEGMENTS and, for compacted topics, DIRTY (the share of sealed bytes not yet compacted; "-" for
other topics). Per group and partition: COMMITTED (the next offset the group reads; - if never
committed), LAG (durable − committed, or − log start if never committed).
Read-only: takes no lock and writes nothing, so it runs beside producers and consumers.

Exit status: 0 ok, 2 usage or I/O error.

Examples:
  seglog stats ./data
  seglog stats ./data orders --json | jq '.groups[].partitions[].lag'`,
    )
    .action(action('stats', (dir: string, topics: string[], options: StatsOptions) => stats(dir, topics, options)))
}
