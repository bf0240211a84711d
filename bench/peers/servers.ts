/**
 * Peer servers (nats-server with JetStream, redis-server with AOF), started by the benchmark on
 * 127.0.0.1 with their data in a temporary folder, and stopped when the scenario ends. A server
 * that cannot start rejects with a one-line reason, which the scenario reports as a skipped row.
 *
 * The scenario process runs in its own process group (run.ts spawns it detached), so a server
 * left behind by a crashed scenario is ended by run.ts with that group.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { nowMs } from '../lib/stats.js'

export interface Server {
  name: string
  port: number
  dir: string
  stop(): Promise<void>
}

const START_TIMEOUT_MS = 10_000

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function launch(name: string, command: string, args: (port: number) => string[], dir: string, ready: (output: string) => boolean): Promise<Server> {
  const port = await freePort()
  fs.mkdirSync(dir, { recursive: true })
  let output = ''
  let exited: string | undefined
  let child: ChildProcess
  try {
    child = spawn(command, args(port), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    throw new Error(`cannot start ${command}: ${(err as Error).message}`)
  }
  const collect = (chunk: Buffer): void => {
    if (output.length < 64 * 1024) output += chunk.toString('utf8')
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  child.once('error', (err) => (exited = `cannot start ${command}: ${err.message}`))
  child.once('exit', (code, signal) => (exited ??= `${command} exited (${signal ?? `code ${code}`}): ${lastLine(output)}`))
  const deadline = nowMs() + START_TIMEOUT_MS
  for (;;) {
    if (exited !== undefined) throw new Error(exited)
    if (ready(output) && (await canConnect(port))) break
    if (nowMs() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${command} did not accept connections on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms: ${lastLine(output)}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await gone
    clearTimeout(timer)
  }
  process.once('exit', () => child.kill('SIGKILL'))
  return { name, port, dir, stop }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n')
  return (lines[lines.length - 1] ?? '').slice(0, 200) || '(no output)'
}

/** nats-server with JetStream, its file store under `dir`. */
export function startNats(dir: string): Promise<Server> {
  const store = path.join(dir, 'jetstream')
  return launch('nats', 'nats-server', (port) => ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], dir, (out) => out.includes('Server is ready'))
}

/** redis-server with an append-only file under `dir`, fsync'd per `appendfsync`. */
export function startRedis(dir: string, appendfsync: 'always' | 'everysec'): Promise<Server> {
  return launch(
    'redis',
    'redis-server',
    (port) => [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--appendonly', 'yes',
      '--appendfsync', appendfsync,
      '--save', '',
      '--daemonize', 'no',
      '--protected-mode', 'yes',
    ],
    dir,
    (out) => out.includes('Ready to accept connections'),
  )
}
