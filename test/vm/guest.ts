/**
 * Runs a shell script as root inside a QEMU guest that boots Debian's own kernel
 * (`linux-image-amd64`) with this machine's root filesystem, read-only over virtio-9p, under a
 * writable tmpfs overlay. The guest has the modules this host's kernel lacks (ipip, xfrm, esp4,
 * sch_netem, ...), so the kernel data plane can be tested here. See docs/vm.md.
 *
 * Boot path: a small initramfs built here (cached under /tmp, keyed by kernel version and content)
 * holds Debian's busybox-static, the kernel's own virtio/9p/overlay modules and an /init that mounts
 * the host root at /newroot (9p, read-only), puts an overlay with a tmpfs upper layer over it,
 * mounts the share directory, and switch_roots into a second stage that runs the script, writes its
 * exit code and output into the share, and powers the guest off.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface GuestResult {
  /** Exit code of the script (-1 when it did not finish: timeout, crash, no result). */
  exitCode: number;
  /** The script's stdout and stderr, interleaved as written. */
  output: string;
  /** Every regular file the script left in the share directory (path relative to it → text). */
  files: Record<string, string>;
  /** Whole serial console: kernel messages, init messages and the script's output. */
  console: string;
  /** From starting qemu until the script started in the guest. */
  bootMs: number;
  /** From starting qemu until qemu exited. */
  totalMs: number;
  /** 'kvm' or 'tcg'. */
  accel: 'kvm' | 'tcg';
  timedOut: boolean;
}

export interface GuestOptions {
  /** sh script, run as root in the guest with `set -e` off; VM_SHARE names the share directory. */
  script: string;
  /** Kill the guest after this long (default 150 s). */
  timeoutMs?: number;
  /** Guest memory (default 1024 MiB). */
  memoryMb?: number;
  /** Virtual CPUs (default 2). */
  cpus?: number;
  /**
   * Host directory mounted read-write in the guest at the same path (and named by VM_SHARE), for
   * results. Default: a fresh directory under /tmp, removed afterwards (its files are returned).
   */
  shareDir?: string;
  /** Extra environment variables for the script. */
  env?: Record<string, string>;
  /** Print the serial console live (also when ROAMD_VM_VERBOSE=1). */
  verbose?: boolean;
}

type Availability = { ok: true; kernel: string; modules: string; version: string; qemu: string; busybox: string } | { ok: false; why: string };

/**
 * Modules the e2e world needs in the guest, loaded up front (`modprobe -a $GUEST_MODULES`): on demand
 * the crypto ones cost 6-15 s under TCG in the middle of the first move.
 */
export const GUEST_MODULES = 'ipip tunnel4 xfrm_user xfrm4_tunnel esp4 authenc echainiv seqiv cbc aes_generic aesni_intel sha256_generic sha256_ssse3 hmac '
  + 'sch_netem sch_ingress cls_flower act_gact act_tunnel_key act_mirred nf_tables nft_chain_nat nf_nat nft_masq veth bridge tun';

const QEMU = process.env.ROAMD_VM_QEMU ?? '/usr/bin/qemu-system-x86_64';
const BUSYBOX = '/bin/busybox';
/** Modules the initramfs loads (with their dependencies from modules.dep) to reach the root. */
const BOOT_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];
const MARK = 'ROAMD-VM';

function versionCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Whether the lane can run here: qemu, a Debian kernel with its modules, busybox-static. */
export function vmAvailable(): Availability {
  if (!existsSync(QEMU)) return { ok: false, why: `${QEMU} not found (Debian package qemu-system-x86)` };
  if (!existsSync(BUSYBOX)) return { ok: false, why: `${BUSYBOX} not found (Debian package busybox-static)` };
  const bb = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
  if (bb.status !== 0 || !/^switch_root$/m.test(bb.stdout) || !/^insmod$/m.test(bb.stdout)) return { ok: false, why: `${BUSYBOX} lacks switch_root/insmod (need busybox-static)` };
  if (statSync(BUSYBOX).size < 1_000_000 || /interpreter/.test(spawnSync('file', [BUSYBOX], { encoding: 'utf8' }).stdout ?? '')) {
    return { ok: false, why: `${BUSYBOX} is not the static build (Debian package busybox-static)` };
  }
  const kernels = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-.+-amd64$/.test(f)).sort(versionCompare) : [];
  for (const k of kernels.reverse()) {
    const version = k.slice('vmlinuz-'.length);
    const modules = join('/lib/modules', version);
    if (!existsSync(join(modules, 'modules.dep'))) continue;
    try {
      readFileSync(join('/boot', k), { flag: 'r' }).subarray(0, 1);
    } catch {
      continue;
    }
    return { ok: true, kernel: join('/boot', k), modules, version, qemu: QEMU, busybox: BUSYBOX };
  }
  return { ok: false, why: 'no /boot/vmlinuz-*-amd64 with /lib/modules/<version>/modules.dep (Debian package linux-image-amd64)' };
}

// ---------------------------------------------------------------------------------------------
// initramfs (cpio "newc", uncompressed: the kernel unpacks it directly)

interface CpioEntry { name: string; mode: number; data?: Buffer; rdev?: [number, number] }

function cpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  let ino = 1;
  const push = (e: CpioEntry): void => {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(e.name + '\0');
    const f = [ino++, e.mode, 0, 0, (e.mode & 0o170000) === 0o040000 ? 2 : 1, 0, data.length, 0, 0, e.rdev?.[0] ?? 0, e.rdev?.[1] ?? 0, name.length, 0];
    const header = Buffer.from('070701' + f.map((v) => v.toString(16).padStart(8, '0')).join(''), 'ascii');
    parts.push(header, name, pad(header.length + name.length), data, pad(data.length));
  };
  entries.forEach(push);
  push({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(parts);
}

/** Modules to insmod, dependencies first, as paths relative to the module directory. */
function moduleOrder(modulesDir: string, wanted: string[]): string[] {
  const dep = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    dep.set(m[1]!, m[2]!.split(/\s+/).filter(Boolean));
    byName.set(m[1]!.replace(/^.*\//, '').replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_'), m[1]!);
  }
  const builtin = existsSync(join(modulesDir, 'modules.builtin')) ? readFileSync(join(modulesDir, 'modules.builtin'), 'utf8') : '';
  const out: string[] = [];
  const visit = (path: string): void => {
    if (out.includes(path)) return;
    for (const d of dep.get(path) ?? []) visit(d);
    out.push(path);
  };
  for (const w of wanted) {
    const path = byName.get(w.replace(/-/g, '_'));
    if (path) visit(path);
    else if (!new RegExp(`/${w}\\.ko`).test(builtin)) throw new Error(`kernel module ${w} not found in ${modulesDir}`);
  }
  for (const p of out) if (/\.ko\.\w+$/.test(p)) throw new Error(`compressed module ${p}: busybox insmod cannot load it`);
  return out;
}

function initScript(version: string, modules: string[]): string {
  return `#!/bin/busybox sh
# roamd VM lane, stage 1 (initramfs): reach the host root, then switch_root into stage 2.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot /lower /upper
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
fail() { echo "${MARK} stage1 failed: $*"; echo o > /proc/sysrq-trigger; sleep 5; reboot -f; }
for m in ${modules.map((m) => `/lib/modules/${version}/${m}`).join(' ')}; do
  insmod "$m" || fail "insmod $m"
done
share=$(sed -n 's/.*roamd.share=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /lower || fail "mount hostroot"
mount -t tmpfs -o mode=755 upper /upper || fail "tmpfs upper"
mkdir -p /upper/u /upper/w
if mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot; then
  echo "${MARK} root: overlay (9p read-only + tmpfs)"
else
  echo "${MARK} root: overlay failed, 9p read-only with tmpfs on /tmp /run /var/tmp /var/log /root"
  mount --move /lower /newroot
  for d in tmp var/tmp var/log root; do mount -t tmpfs tmpfs /newroot/$d; done
fi
mkdir -p "/newroot$share" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none share "/newroot$share" || fail "mount share"
mount -t tmpfs -o mode=755 run /newroot/run
cp "/newroot$share/.vm/stage2.sh" /newroot/run/roamd-vm-stage2.sh || fail "stage2 missing"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/sh /run/roamd-vm-stage2.sh "$share"
`;
}

function stage2Script(): string {
  return `# roamd VM lane, stage 2 (host root as /): run the script, record its exit code, power off.
share="$1"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup /run/netns /run/lock
mount -t devpts -o newinstance,ptmxmode=666 devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
mkdir -p "$share" && mountpoint -q "$share" || mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none share "$share"
hostname roamd-vm
ip link set lo up
echo 0 > /proc/sys/kernel/printk_ratelimit 2>/dev/null
. "$share/.vm/env.sh"
echo "${MARK} start $(cut -d' ' -f1 /proc/uptime)"
# Output goes to a file, not a pipe: daemons the script leaves running must not keep stage 2 waiting.
: > "$share/.vm/output"
tail -s 0.2 -f "$share/.vm/output" > /dev/console 2>&1 &
tailpid=$!
(cd / && VM_SHARE="$share" exec sh "$share/.vm/run.sh") < /dev/null > "$share/.vm/output" 2>&1
echo $? > "$share/.vm/rc"
sleep 0.5
kill $tailpid 2>/dev/null
sync
echo "${MARK} exit $(cat "$share/.vm/rc" 2>/dev/null)"
echo o > /proc/sysrq-trigger
sleep 10
reboot -f
`;
}

/** Builds (or reuses) the initramfs for this kernel; returns its path. */
export function buildInitramfs(version: string, modulesDir: string): string {
  const modules = moduleOrder(modulesDir, BOOT_MODULES);
  const init = initScript(version, modules);
  const bb = statSync(BUSYBOX);
  const key = createHash('sha256').update(init).update(`${bb.size}:${bb.mtimeMs}`).update(modules.map((m) => `${m}:${statSync(join(modulesDir, m)).mtimeMs}`).join()).digest('hex').slice(0, 12);
  const path = `/tmp/roamd-vm-initramfs-${version}-${key}.cpio`;
  if (existsSync(path)) return path;
  const dirs = new Set<string>();
  const entries: CpioEntry[] = [];
  const dir = (d: string): void => {
    const parts = d.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!dirs.has(p)) {
        dirs.add(p);
        entries.push({ name: p, mode: 0o040755 });
      }
    }
  };
  for (const d of ['bin', 'dev', 'proc', 'sys', 'newroot', 'lower', 'upper']) dir(d);
  entries.push({ name: 'dev/console', mode: 0o020600, rdev: [5, 1] });
  entries.push({ name: 'dev/null', mode: 0o020666, rdev: [1, 3] });
  entries.push({ name: 'bin/busybox', mode: 0o100755, data: readFileSync(BUSYBOX) });
  entries.push({ name: 'init', mode: 0o100755, data: Buffer.from(init) });
  for (const m of modules) {
    const rel = `lib/modules/${version}/${m}`;
    dir(rel.slice(0, rel.lastIndexOf('/')));
    entries.push({ name: rel, mode: 0o100644, data: readFileSync(join(modulesDir, m)) });
  }
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, cpio(entries));
  renameSync(tmp, path);
  return path;
}

// ---------------------------------------------------------------------------------------------
// Kernel image: under TCG, SeaBIOS plus decompressing the xz bzImage takes longer than booting the
// kernel itself (about 15 s of a 19 s boot here). When the kernel has CONFIG_PVH, the uncompressed
// ELF (extracted once with xz, cached under /tmp) boots straight through qemu's PVH entry.

export function bootImage(kernel: string, version: string): string {
  if (process.env.ROAMD_VM_BZIMAGE === '1') return kernel;
  const config = `/boot/config-${version}`;
  if (!existsSync(config) || !/^CONFIG_PVH=y$/m.test(readFileSync(config, 'utf8'))) return kernel;
  const st = statSync(kernel);
  const path = `/tmp/roamd-vm-vmlinux-${version}-${createHash('sha256').update(`${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 12)}`;
  if (existsSync(path)) return path;
  const image = readFileSync(kernel);
  const off = image.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (off < 0) return kernel;
  const r = spawnSync('xz', ['-dc', '--single-stream'], { input: image.subarray(off), maxBuffer: 512 * 1024 * 1024 });
  if (r.status !== 0 || !r.stdout || r.stdout.subarray(0, 4).toString('latin1') !== '\x7fELF') return kernel;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, r.stdout);
  renameSync(tmp, path);
  return path;
}

let kvmChecked: boolean | undefined;
/**
 * KVM only if a guest actually runs under it: /dev/kvm can be present and KVM_CREATE_VM succeed
 * while vCPUs fail or hang (nested virtualisation). The probe boots the kernel with no root until it
 * panics (about 1 s under KVM) and is cached per kernel and qemu in /tmp. ROAMD_VM_ACCEL=tcg|kvm forces.
 */
export function kvmWorks(kernel: string): boolean {
  if (kvmChecked !== undefined) return kvmChecked;
  const forced = process.env.ROAMD_VM_ACCEL;
  if (forced === 'tcg' || forced === 'kvm') return (kvmChecked = forced === 'kvm');
  if (!existsSync('/dev/kvm')) return (kvmChecked = false);
  const key = createHash('sha256').update(`${kernel}:${statSync(kernel).mtimeMs}:${statSync(QEMU).mtimeMs}`).digest('hex').slice(0, 12);
  const cache = `/tmp/roamd-vm-kvm-${key}`;
  if (existsSync(cache)) return (kvmChecked = readFileSync(cache, 'utf8') === 'yes');
  const r = spawnSync(QEMU, ['-machine', 'q35,accel=kvm', '-cpu', 'host', '-m', '256', '-nodefaults', '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', kernel, '-append', 'console=ttyS0 panic=-1 loglevel=3'], { encoding: 'utf8', timeout: 8_000, killSignal: 'SIGKILL' });
  kvmChecked = /Kernel panic|Kernel Offset/.test(`${r.stdout ?? ''}${r.stderr ?? ''}`);
  writeFileSync(cache, kvmChecked ? 'yes' : 'no');
  return kvmChecked;
}

const running = new Set<ChildProcess>();
let exitHook = false;
function track(p: ChildProcess): void {
  running.add(p);
  p.once('exit', () => running.delete(p));
  if (!exitHook) {
    exitHook = true;
    const killAll = (): void => {
      for (const q of running) q.kill('SIGKILL');
    };
    process.once('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

function readShare(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const rel = String(f);
    if (rel === '.vm' || rel.startsWith('.vm/')) continue;
    const p = join(dir, rel);
    const st = statSync(p);
    if (st.isFile() && st.size <= 16 * 1024 * 1024) files[relative(dir, p)] = readFileSync(p, 'utf8');
  }
  return files;
}

/** Boots the guest, runs `opts.script` as root in it, returns what happened. Always kills qemu. */
export async function runInGuest(opts: GuestOptions): Promise<GuestResult> {
  const av = vmAvailable();
  if (!av.ok) throw new Error(`VM lane unavailable: ${av.why}`);
  const initrd = buildInitramfs(av.version, av.modules);
  const ownShare = !opts.shareDir;
  const share = opts.shareDir ?? mkdtempSync('/tmp/roamd-vm-share-');
  if (!share.startsWith('/') || /\s/.test(share)) throw new Error(`shareDir must be an absolute path without spaces: ${share}`);
  mkdirSync(join(share, '.vm'), { recursive: true });
  writeFileSync(join(share, '.vm', 'run.sh'), opts.script);
  writeFileSync(join(share, '.vm', 'stage2.sh'), stage2Script());
  writeFileSync(join(share, '.vm', 'env.sh'), Object.entries(opts.env ?? {}).map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'\n`).join(''));
  rmSync(join(share, '.vm', 'rc'), { force: true });
  const accel = kvmWorks(av.kernel) ? 'kvm' : 'tcg';
  const args = [
    '-machine', accel === 'kvm' ? 'q35,accel=kvm' : 'q35,accel=tcg',
    '-cpu', accel === 'kvm' ? 'host' : 'max',
    '-smp', String(opts.cpus ?? 2), '-m', String(opts.memoryMb ?? 1024),
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', bootImage(av.kernel, av.version), '-initrd', initrd,
    '-append', `console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off random.trust_cpu=on 8250.nr_uarts=1 roamd.share=${share}`,
    '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-fsdev', `local,id=share,path=${share},security_model=none,multidevs=remap`,
    '-device', 'virtio-9p-pci,fsdev=share,mount_tag=share',
    '-device', 'virtio-rng-pci',
  ];
  const verbose = opts.verbose ?? process.env.ROAMD_VM_VERBOSE === '1';
  const t0 = Date.now();
  let bootMs = -1;
  let consoleText = '';
  let timedOut = false;
  const q = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(q);
  const onData = (d: Buffer): void => {
    const s = d.toString('utf8');
    consoleText += s;
    if (verbose) process.stdout.write(s);
    if (bootMs < 0 && consoleText.includes(`${MARK} start`)) bootMs = Date.now() - t0;
  };
  q.stdout!.on('data', onData);
  q.stderr!.on('data', onData);
  const timer = setTimeout(() => {
    timedOut = true;
    q.kill('SIGKILL');
  }, opts.timeoutMs ?? 150_000);
  await new Promise<void>((resolve) => q.once('close', () => resolve()));
  clearTimeout(timer);
  const totalMs = Date.now() - t0;
  const rcPath = join(share, '.vm', 'rc');
  const exitCode = existsSync(rcPath) ? Number(readFileSync(rcPath, 'utf8').trim() || -1) : -1;
  const outPath = join(share, '.vm', 'output');
  const output = existsSync(outPath) ? readFileSync(outPath, 'utf8') : '';
  const files = readShare(share);
  if (ownShare) rmSync(share, { recursive: true, force: true });
  else rmSync(join(share, '.vm'), { recursive: true, force: true });
  return { exitCode, output, files, console: consoleText.replace(/\r\n/g, '\n'), bootMs, totalMs, accel, timedOut };
}
