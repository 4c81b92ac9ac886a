/**
 * sandbox-command.ts: `kpx sandbox [--proxy-mode M] [--keep] [--debug]`. Builds a two-node cluster out of
 * network namespaces, runs kpx on both nodes from a manifests directory, sends traffic from a pod, a
 * node and an external client, prints who answered and whom they saw, and tears everything down.
 * Exits 0 only when every check got the expected answer.
 */
import { existsSync } from 'node:fs';
import { isProxyMode, PROXY_MODES, type ProxyMode } from '../backend.js';
import { buildSandbox, type Sandbox } from '../sandbox/builder.js';
import { DEMO_PODS, demoChecks, demoNotes, formatTable, runCheck, writeDemoServices, type DemoRow } from '../sandbox/demo.js';
import { startKpx } from '../sandbox/kpx-runner.js';
import { ManifestDir } from '../sandbox/manifests.js';

const USAGE = 'usage: kpx sandbox [--proxy-mode iptables|ipvs|userspace] [--keep] [--debug]';

interface SandboxArgs {
  mode: ProxyMode;
  keep: boolean;
  debug: boolean;
}

/** Parses the flags; a string is an error message for the user. */
export function parseSandboxArgs(argv: readonly string[]): SandboxArgs | string {
  const out: SandboxArgs = { mode: 'iptables', keep: false, debug: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '--proxy-mode') {
      const v = inline ?? argv[++i];
      if (!isProxyMode(v)) return `--proxy-mode must be one of ${PROXY_MODES.join(', ')} (got ${JSON.stringify(v ?? '')})`;
      out.mode = v;
    } else if (flag === '--keep' && inline === undefined) out.keep = true;
    else if ((flag === '--debug' || flag === '-v') && inline === undefined) out.debug = true;
    else if (flag === '-h' || flag === '--help') return USAGE;
    else return `unknown argument ${JSON.stringify(a)}\n${USAGE}`;
  }
  return out;
}

/** Why a mode cannot run on this kernel, or undefined. */
export function modeUnavailable(mode: ProxyMode): string | undefined {
  if (mode === 'nftables' && !(process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(`${d}/nft`))) {
    return 'kpx sandbox: the nftables mode needs the nft tool (Debian\'s nftables package; `bash scripts/setup.sh` installs it)';
  }
  if (mode === 'ipvs' && !existsSync('/proc/net/ip_vs')) {
    return 'kpx sandbox: this kernel has no IPVS (no /proc/net/ip_vs), so the ipvs mode cannot run here; run its real-kernel tests in the VM with `npm run test:ipvs`';
  }
  return undefined;
}

export async function runSandbox(argv: string[]): Promise<number> {
  const args = parseSandboxArgs(argv);
  if (typeof args === 'string') {
    (args === USAGE ? process.stdout : process.stderr).write(args + '\n');
    return args === USAGE ? 0 : 2;
  }
  const unavailable = modeUnavailable(args.mode);
  if (unavailable) {
    process.stderr.write(unavailable + '\n');
    return 1;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('kpx sandbox: needs root (it creates network namespaces)\n');
    return 1;
  }

  const say = (line: string) => process.stdout.write(line + '\n');
  let sb: Sandbox | undefined;
  try {
    const t0 = Date.now();
    sb = await buildSandbox({
      nodes: 2,
      externalClient: true,
      pods: DEMO_PODS,
      onLine: args.debug ? (src, line) => process.stderr.write(`[${src}] ${line}\n`) : undefined,
    });
    say(`sandbox ${sb.prefix}: 2 nodes (10.10.0.1, 10.10.0.2), pods ${sb.pods().map((p) => `${p.name}=${p.ip}`).join(' ')}, client 10.10.0.50/.51`);
    const dir = new ManifestDir(sb.tmpDir);
    dir.writeNodes(sb.nodes);
    writeDemoServices(dir, sb);
    say(`manifests in ${dir.dir}; starting kpx --proxy-mode ${args.mode} on node1 and node2`);
    await Promise.all(sb.nodes.map((n) => startKpx(sb!, n.name, { manifestsDir: dir.dir, mode: args.mode })));
    say(`kpx synced after ${((Date.now() - t0) / 1000).toFixed(1)} s; sending traffic`);

    const rows: DemoRow[] = [];
    for (const check of demoChecks(sb, args.mode)) rows.push(await runCheck(sb, check));
    say('');
    say(formatTable(rows));
    for (const note of demoNotes(args.mode)) say(note);
    say('');
    const failed = rows.filter((r) => !r.ok).length;
    say(failed === 0 ? `all ${rows.length} checks passed (${args.mode} mode)` : `${failed} of ${rows.length} checks FAILED (${args.mode} mode)`);

    if (args.keep) {
      say(`--keep: the sandbox stays up. Try: ip netns exec ${sb.ns('client')} curl -s http://${sb.node('node1').nodeIP}:30080/`);
      if (args.mode === 'iptables') say(`and: kpx trace --netns ${sb.ns('node1')} ${sb.pod('pod1').ip} 10.96.0.10:80`);
      say(`namespaces: ${sb.namespaces().join(' ')}. Press Ctrl-C to tear it down.`);
      // The sandbox's SIGINT/SIGTERM handlers remove everything and end the process.
      await new Promise<never>(() => { setInterval(() => { /* stay alive */ }, 1 << 30); });
    }
    return failed === 0 ? 0 : 1;
  } catch (e) {
    process.stderr.write(`kpx sandbox: ${(e as Error).message}\n`);
    return 1;
  } finally {
    if (sb) {
      await sb.destroy().catch((e: Error) => process.stderr.write(`kpx sandbox: ${e.message}\n`));
      say(`sandbox ${sb.prefix} removed`);
    }
  }
}
