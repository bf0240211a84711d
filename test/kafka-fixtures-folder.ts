/**
 * Where the real Kafka segment files are: `shared/fixtures/kafka` beside the project's root (see
 * that folder's README). Tests read them in place and never copy them into the repository.
 * `SEGLOG_KAFKA_FIXTURES` overrides the folder (pointing it at a missing one shows the skip).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project's root: this file is in `<root>/test/`. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export const KAFKA_FIXTURES = path.resolve(process.env.SEGLOG_KAFKA_FIXTURES ?? path.join(PROJECT_ROOT, '../shared/fixtures/kafka'))

/** Whether the folder is there; when not, say so once per test file that wanted it. */
export function kafkaFixturesPresent(): boolean {
  if (fs.existsSync(KAFKA_FIXTURES)) return true
  console.warn(`Kafka interop tests skipped: ${KAFKA_FIXTURES} is absent (a clone without shared/ beside the project)`)
  return false
}
