/**
 * profile-kpx.ts: where kpx's CPU goes while it carries ClusterIP load (the userspace mode copies every byte
 * itself): runs kpx with `node --cpu-prof` in the load benchmark's sandbox, sends keep-alive (or other) load
 * through the ClusterIP for a while, stops kpx (which writes the profile) and prints the summary.
 *
 *   node --import tsx perf/load/profile-kpx.ts [--mode userspace] [--kind keepalive] [--duration 8]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadMode } from '../../src/load/types.js';
import type { ProxyMode } from '../../src/backend.js';
import { startKpx } from '../../src/sandbox/index.js';
import { numberOption, option, rejectUnknown } from '../common/args.js';
import { summarize } from '../common/profile-summary.js';
import { BULK, WEB, buildLoadCluster } from './cluster.js';
import { measure } from './measure.js';

const argv = process.argv.slice(2);
rejectUnknown(argv, { options: ['mode', 'kind', 'duration'] });
const mode = (option(argv, 'mode') ?? 'userspace') as ProxyMode;
const kind = (option(argv, 'kind') ?? 'keepalive') as LoadMode;
const durationS = numberOption(argv, 'duration', 8);
const dir = mkdtempSync(join(tmpdir(), 'kpx-perf-cpuprof-'));
const lc = await buildLoadCluster(2);
try {
  // startKpx spawns before its first await: the profiling flags reach only the kpx process.
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ''} --cpu-prof --cpu-prof-dir=${dir}`.trim();
  const starting = startKpx(lc.sb, 'node1', { manifestsDir: lc.manifests.dir, mode, entry: 'dist' });
  if (saved === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = saved;
  const kpx = await starting;
  const svc = kind === 'bulk' ? BULK : WEB;
  const m = await measure({ sb: lc.sb, clientNs: lc.client.ns, kind, durationS, connections: 50, threads: 2 }, [`${svc.clusterIP}:${svc.ports[0].port}`]);
  console.log(`${mode} ${kind} through the ClusterIP: ${m.rate.toFixed(0)} ${m.unit}`);
  await kpx.stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  console.log(file ? summarize(JSON.parse(readFileSync(join(dir, file), 'utf8')), 20) : 'kpx wrote no profile (did it exit cleanly?)');
} finally {
  await lc.sb.destroy();
  rmSync(dir, { recursive: true, force: true });
}
