/** The machine a benchmark ran on, printed and stored beside every figure (STYLE.md rule 8). */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import { crc32cImplementation } from '../../src/segment/crc32c.js'

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  os: string
  node: string
  /** Device and filesystem of the benchmark folder ("/dev/vda ext4, 252 GiB"). */
  disk: string
  /** The folder the data was written to. */
  dir: string
  /** The fsync modes the scenarios ran with, seglog's and the peers'. */
  fsyncModes: string
  /** Which CRC-32C serves batches ≥ 256 bytes: 'native' (@node-rs/crc32) or 'js' (crc-32). */
  crc32c: string
  /** Peer versions, where found ("better-sqlite3 12.x (SQLite 3.x)", "nats-server v2.9.10", …). */
  peers: Record<string, string>
  /**
   * The 1-minute load average when the run started: other work on the machine (it has few cores)
   * makes every figure noisier, and this says how busy it was.
   */
  loadAverage1m: number
}

export const FSYNC_MODES =
  "seglog fsync 'never' (append, replay, random-read, recovery), 'always' (fsync-each, group-commit, batch-sweep, end-to-end); " +
  'SQLite WAL synchronous=NORMAL / FULL; Redis AOF appendfsync everysec / always; NATS JetStream file store (its own sync interval)'

function run(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
}

function diskOf(dir: string): string {
  const line = run('df', ['-T', '-B1', dir])?.split('\n')[1]?.split(/\s+/)
  if (line === undefined || line.length < 3) return 'unknown'
  const [device = '?', type = '?', size = '0'] = line
  let kind = ''
  const name = device.replace(/^\/dev\//, '').replace(/[0-9]+$/, '')
  try {
    kind = fs.readFileSync(`/sys/block/${name}/queue/rotational`, 'utf8').trim() === '1' ? ', rotational' : ', non-rotational'
  } catch {
    // not a plain block device (overlay, tmpfs): no kind
  }
  return `${device} ${type}, ${Math.round(Number(size) / 2 ** 30)} GiB${kind}`
}

export function machine(dir: string, peers: Record<string, string> = {}): Machine {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    disk: diskOf(dir),
    dir,
    fsyncModes: FSYNC_MODES,
    crc32c: crc32cImplementation === 'native' ? 'native (@node-rs/crc32) from 256 bytes, crc-32 below' : 'crc-32 (pure JS)',
    peers,
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  }
}

export function describeMachine(m: Machine): string {
  const peers = Object.entries(m.peers)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ')
  return [
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; load average ${m.loadAverage1m} at the start`,
    `disk:    ${m.disk} (data in ${m.dir})`,
    `node:    ${m.node}; CRC-32C ${m.crc32c}`,
    `fsync:   ${m.fsyncModes}`,
    `peers:   ${peers === '' ? 'none' : peers}`,
  ].join('\n')
}

/** Versions of the peers installed here (without starting them). */
export function peerVersions(): Record<string, string> {
  const out: Record<string, string> = {}
  const nats = run('nats-server', ['--version'])
  if (nats !== undefined) out['nats-server'] = nats.replace(/^nats-server:\s*/, '')
  const redis = run('redis-server', ['--version'])?.match(/v=([0-9.]+)/)?.[1]
  if (redis !== undefined) out['redis-server'] = redis
  return out
}

/** The root folder benchmark data goes to: SEGLOG_BENCH_DIR, else the OS temp folder. */
export function benchRoot(): string {
  return process.env.SEGLOG_BENCH_DIR ?? os.tmpdir()
}

export function tempDir(prefix: string, root = benchRoot()): string {
  return fs.mkdtempSync(`${root}/${prefix}`)
}
