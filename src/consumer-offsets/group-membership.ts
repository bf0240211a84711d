/**
 * Members of a consumer group and the partitions each owns, across the processes of one machine.
 *
 * Files, under `<root>/@groups/<group>/`:
 *
 *   @members/<id>         one per live member, flock'd (exclusive) by it for as long as it lives
 *   @members/.<id>.tmp    a member file being created (locked before it is renamed into place)
 *   <topic>/<partition>/  the offset store of that partition, whose flock is its ownership
 *
 * (The members folder starts with '@' because `members` is a valid topic name.)
 *
 * A member id is `<pid>-<random hex>`. A member file is created locked — written as a temporary
 * file, flock'd, then renamed — so a file named `<id>` is locked from the moment it appears until
 * its process closes it or dies, when the kernel drops the lock. Liveness test: another member
 * tries the lock non-blocking; getting it proves the owner dead, and it unlinks the file.
 *
 * Rebalance, run by every member on a timer:
 *   1. live = the member ids whose files are locked (plus our own), sorted;
 *   2. desired = the (topic, partition) pairs of the subscribed topics sorted by (partition,
 *      topic), pair i going to live[i mod live.length] — equal partition numbers of different
 *      topics land on the same member when the counts match, like Kafka's range assignor;
 *   3. release the owned pairs that are not desired (close their offset stores);
 *   4. acquire the desired pairs not owned (open their offset stores; `ERR_LOCKED` means the old
 *      owner has not let go yet: retry next time).
 * Members may briefly disagree on `live`; exclusivity never depends on agreement, only on the
 * store's flock, so two members can never own one partition. A new member gets its share within
 * about two ticks (its own, then the old owner's); the partitions of a dead member are taken over
 * on the first tick after it died.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { LockedError, StorageError } from '../errors.js'
import * as io from '../file-io.js'
import { groupDir, OffsetStore, type OffsetStoreOptions } from './offset-store.js'

export const MEMBERS_DIR = '@members'
const MEMBER_ID = /^[0-9]{1,10}-[0-9a-f]{16}$/
const TMP_SUFFIX = '.tmp'
/** A temporary member file this old and unlocked was left by a process that died while joining. */
const STALE_TMP_MS = 10_000
/** At most this many member files are examined per tick (bounds the loop over the folder). */
const MEMBERS_MAX = 10_000

export interface TopicPartition {
  topic: string
  partition: number
}

/** A subscribed topic and its partition count. */
export interface TopicPartitions {
  name: string
  partitions: number
}

export interface RebalanceResult {
  /** Pairs acquired this tick, with their freshly opened stores. */
  assigned: Array<TopicPartition & { store: OffsetStore }>
  /** Pairs released this tick. */
  revoked: TopicPartition[]
  /** Live members seen, sorted (for logs and tests). */
  members: string[]
}

export interface MembershipOptions {
  /** Options of the offset stores this member opens. */
  store?: OffsetStoreOptions
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}/${partition}`
}

/**
 * The pairs `me` should own: the partitions of `topics` (topics by name, partitions in order)
 * dealt round-robin over `members` (sorted), as Kafka's round-robin assignor. Every member gets
 * the same count give or take one, each topic is spread as evenly as it can be, and when each
 * topic's partition count is a multiple of the member count, partition p of every topic lands
 * on the same member. Empty if `me` is not a member.
 */
export function assignPartitions(members: readonly string[], me: string, topics: readonly TopicPartitions[]): TopicPartition[] {
  const sorted = [...new Set(members)].sort()
  const index = sorted.indexOf(me)
  if (index < 0) return []
  const all: TopicPartition[] = []
  const byName = [...topics].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const t of byName) for (let p = 0; p < t.partitions; p++) all.push({ topic: t.name, partition: p })
  return all.filter((_, i) => i % sorted.length === index)
}

/**
 * This process's membership in a group: its locked member file and the offset stores it owns.
 * Not safe for concurrent `rebalance()` calls; the consumer serialises them.
 */
export class GroupMember {
  readonly root: string
  readonly group: string
  readonly id: string
  readonly membersDir: string
  #options: MembershipOptions
  #fd: number
  #ino: number
  #owned = new Map<string, OffsetStore>()
  #closed = false

  private constructor(root: string, group: string, id: string, membersDir: string, fd: number, options: MembershipOptions) {
    this.root = root
    this.group = group
    this.id = id
    this.membersDir = membersDir
    this.#fd = fd
    this.#ino = fs.fstatSync(fd).ino
    this.#options = options
  }

  /** Join `group`: create and lock this member's file. */
  static async join(root: string, group: string, options: MembershipOptions = {}): Promise<GroupMember> {
    const membersDir = path.join(groupDir(root, group), MEMBERS_DIR)
    io.mkdir(membersDir, options.store?.dirMode ?? 0o700)
    const id = `${process.pid}-${crypto.randomBytes(8).toString('hex')}`
    const fd = createMemberFile(membersDir, id, options.store?.fileMode ?? 0o600)
    return new GroupMember(root, group, id, membersDir, fd, options)
  }

  /** The pairs owned now, sorted as keys. */
  owned(): TopicPartition[] {
    return [...this.#owned.values()].map((s) => ({ topic: s.topic, partition: s.partition }))
  }

  store(topic: string, partition: number): OffsetStore | undefined {
    return this.#owned.get(tpKey(topic, partition))
  }

  /**
   * The live members, sorted, our own id included. Removes the files of dead members (and of
   * members that died while joining), and recreates our own file if someone removed it.
   */
  liveMembers(): string[] {
    this.#checkOpen()
    this.#keepOwnFile()
    const live = [this.id]
    const names = readNames(this.membersDir)
    for (const name of names.slice(0, MEMBERS_MAX)) {
      if (name === this.id) continue
      if (MEMBER_ID.test(name)) {
        if (isAlive(path.join(this.membersDir, name))) live.push(name)
      } else if (name.startsWith('.') && name.endsWith(TMP_SUFFIX)) {
        removeStaleTmp(path.join(this.membersDir, name))
      }
    }
    return live.sort()
  }

  /**
   * One rebalance tick over the subscribed `topics`. `beforeRelease` runs before a store is closed
   * (the consumer commits there under autoCommit); a failure in it is rethrown after the release.
   */
  async rebalance(topics: readonly TopicPartitions[], beforeRelease: (store: OffsetStore) => Promise<void>): Promise<RebalanceResult> {
    const members = this.liveMembers()
    const desired = new Map(assignPartitions(members, this.id, topics).map((tp) => [tpKey(tp.topic, tp.partition), tp]))
    const revoked: TopicPartition[] = []
    let failure: unknown
    for (const [key, store] of [...this.#owned]) {
      if (desired.has(key)) continue
      try {
        await this.release(store, beforeRelease)
      } catch (err) {
        failure ??= err
      }
      revoked.push({ topic: store.topic, partition: store.partition })
    }
    const assigned: RebalanceResult['assigned'] = []
    for (const [key, tp] of desired) {
      if (this.#owned.has(key)) continue
      try {
        const store = await OffsetStore.open(this.root, this.group, tp.topic, tp.partition, this.#options.store ?? {})
        this.#owned.set(key, store)
        assigned.push({ ...tp, store })
      } catch (err) {
        if (err instanceof LockedError) continue // its owner has not released it yet
        failure ??= err
      }
    }
    if (failure !== undefined) throw failure
    return { assigned, revoked, members }
  }

  /** Stop owning `store`'s partition: run `beforeRelease`, then close the store (always). */
  async release(store: OffsetStore, beforeRelease?: (store: OffsetStore) => Promise<void>): Promise<void> {
    const key = tpKey(store.topic, store.partition)
    if (this.#owned.get(key) !== store) return
    try {
      if (beforeRelease !== undefined) await beforeRelease(store)
    } finally {
      this.#owned.delete(key)
      await store.close()
    }
  }

  /** Release every store (running `beforeRelease` for each), remove the member file. Idempotent. */
  async leave(beforeRelease?: (store: OffsetStore) => Promise<void>): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    let failure: unknown
    for (const store of [...this.#owned.values()]) {
      try {
        await this.release(store, beforeRelease)
      } catch (err) {
        failure ??= err
      }
    }
    try {
      // Unlink while still holding the lock, so nobody can mistake the file for a dead member's.
      if (sameFile(path.join(this.membersDir, this.id), this.#ino)) io.unlinkIfExists(path.join(this.membersDir, this.id))
    } catch (err) {
      failure ??= err
    } finally {
      io.close(this.#fd)
    }
    if (failure !== undefined) throw failure
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError(`Cannot use member ${this.id} of group '${this.group}': it left the group`)
  }

  /** Our own file can vanish only by hand (or a cleaner); recreate it so others still see us. */
  #keepOwnFile(): void {
    if (sameFile(path.join(this.membersDir, this.id), this.#ino)) return
    io.mkdir(this.membersDir, this.#options.store?.dirMode ?? 0o700)
    const fd = createMemberFile(this.membersDir, this.id, this.#options.store?.fileMode ?? 0o600)
    io.close(this.#fd)
    this.#fd = fd
    this.#ino = fs.fstatSync(fd).ino
  }
}

/** Create `dir/id` already locked: write `.id.tmp`, lock it, rename it into place. Returns the fd. */
function createMemberFile(dir: string, id: string, mode: number, attempt = 0): number {
  const tmp = path.join(dir, `.${id}${TMP_SUFFIX}`)
  const fd = io.open(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, mode)
  try {
    if (!io.tryLockExclusive(fd)) throw new LockedError(`Cannot create member file ${tmp}: it is locked by another open`, { file: tmp })
    const text = Buffer.from(`${process.pid}\n`)
    io.pwriteFully(fd, text, 0, text.length, 0)
    // If a cleaner removed the temporary file between open and lock, the rename fails: retry once.
    io.rename(tmp, path.join(dir, id))
    return fd
  } catch (err) {
    io.close(fd)
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 2) return createMemberFile(dir, id, mode, attempt + 1)
    throw err
  }
}

/** Whether the member file `file` is locked by a live member; removes it if its owner is dead. */
function isAlive(file: string): boolean {
  let fd: number
  try {
    fd = io.open(file, fs.constants.O_RDWR)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return false // left already
    return true // cannot tell (permissions, …): count it, which at worst leaves its share unowned
  }
  try {
    if (!io.tryLockExclusive(fd)) return true
    // Dead: remove while holding its lock, so no other member can judge it alive meanwhile. If
    // that fails (permissions), the member is still dead; the next tick tries again.
    try {
      io.unlinkIfExists(file)
    } catch {
      // ignored, see above
    }
    return false
  } finally {
    io.close(fd)
  }
}

function removeStaleTmp(file: string): void {
  let fd: number
  try {
    if (Date.now() - fs.statSync(file).mtimeMs < STALE_TMP_MS) return
    fd = io.open(file, fs.constants.O_RDWR)
  } catch {
    return
  }
  try {
    if (io.tryLockExclusive(fd)) io.unlinkIfExists(file)
  } finally {
    io.close(fd)
  }
}

function sameFile(file: string, ino: number): boolean {
  try {
    return fs.statSync(file).ino === ino
  } catch {
    return false
  }
}

function readNames(dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new StorageError(`Cannot list the members in ${dir}: ${(err as Error).message}`, { file: dir, cause: err })
  }
}
