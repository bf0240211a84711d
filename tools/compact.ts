/**
 * `seglog compact DIR TOPIC`: compact every partition of a compacted topic now, whatever its
 * dirty ratio, and print what each pass did. It opens the partitions for writing, so it fails
 * with a one-line error (exit 2) while another process writes them.
 */
import type { Command } from 'commander'
import { action, CliError, EXIT_OK } from './cli.js'
import { existingTopic, openExistingLog } from './open-log.js'
import { LineWriter } from './output.js'
import { formatBytes } from './table.js'

export interface CompactOptions {
  json?: boolean
}

async function compact(dir: string, topicName: string, options: CompactOptions): Promise<number> {
  const log = await openExistingLog(dir)
  const out = new LineWriter(process.stdout)
  try {
    const topic = await existingTopic(log, topicName)
    const policy = topic.config.cleanupPolicy ?? 'delete'
    if (policy === 'delete') throw new CliError(`topic '${topicName}' has cleanupPolicy 'delete'; only compacted topics can be compacted`)
    for (const result of await log.compact(topicName)) {
      if (options.json === true) await out.line(JSON.stringify({ topic: topicName, ...result }))
      else {
        await out.line(
          `${topicName}/${result.partition}: ${result.passes} pass(es), ${result.segmentsRewritten} segment(s) rewritten, ` +
            `${formatBytes(result.bytesBefore)} → ${formatBytes(result.bytesAfter)}, ${result.recordsRemoved} record(s) removed ` +
            `(${result.tombstonesRemoved} tombstone(s)), compacted below offset ${result.firstDirtyOffset}`,
        )
      }
    }
    await out.flush()
  } finally {
    await log.close()
  }
  return EXIT_OK
}

export function register(program: Command): void {
  program
    .command('compact')
    .description('compact every partition of a compacted topic now: keep the newest record per key')
    .argument('<dir>', 'the log folder')
    .argument('<topic>', 'a topic whose cleanupPolicy includes compact')
    .option('--json', 'one JSON object per partition')
    .action(action('compact', (dir: string, topic: string, options: CompactOptions) => compact(dir, topic, options)))
}
