/**
 * Opening a log from the command line. `Log.open` creates the folder and its marker when they are
 * missing, which is right for `produce --partitions` but wrong for commands that only read
 * (`consume`, `tail`, `stats`): those must not leave an empty log behind a typo. So they open
 * only a folder that is a log already, and get one clear line otherwise.
 */
import fs from 'node:fs'
import path from 'node:path'
import { LOG_MARKER_FILE } from '../src/log.js'
import { Log, type Topic, UnknownTopicError } from '../src/seglog.js'
import { CliError } from './cli.js'

/** Whether `dir` holds a log (its marker file). */
export function isLog(dir: string): boolean {
  return fs.existsSync(path.join(dir, LOG_MARKER_FILE))
}

/** Open the log in `dir`, which must exist; nothing is created. */
export async function openExistingLog(dir: string): Promise<Log> {
  if (!fs.existsSync(dir)) throw new CliError(`cannot open log '${dir}': no such folder`)
  if (!isLog(dir)) throw new CliError(`cannot open log '${dir}': it is not a seglog log (no ${LOG_MARKER_FILE})`)
  return Log.open(dir)
}

/** The topic `name`, or a one-line error listing the topics there are. */
export async function existingTopic(log: Log, name: string, hint = ''): Promise<Topic> {
  try {
    return await log.topic(name)
  } catch (err) {
    if (!(err instanceof UnknownTopicError)) throw err
    const topics = log.topics()
    const known = topics.length === 0 ? 'it has no topics' : `its topics: ${topics.join(', ')}`
    throw new CliError(`topic '${name}' does not exist in ${log.root} (${known})${hint}`, { cause: err })
  }
}
