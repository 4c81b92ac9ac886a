/**
 * config-watch.ts: kube-proxy watches its --config file and exits when it is written or renamed, so the
 * DaemonSet restarts it with the new configuration (options.go initWatcher/eventHandler). kpx does the same.
 * A ConfigMap volume updates by swapping a symlink, which removes the watched file: that counts as a change.
 */
import { watch, type FSWatcher } from 'node:fs';

export interface ConfigWatch {
  close(): void;
}

/** watchConfigFile: calls onChange once, on the first write, rename or removal of the file at path. */
export function watchConfigFile(path: string, onChange: (event: string) => void): ConfigWatch {
  let fired = false;
  const watcher: FSWatcher = watch(path, { persistent: false }, (event) => {
    if (fired) return;
    fired = true;
    watcher.close();
    onChange(event);
  });
  watcher.on('error', (err) => {
    if (fired) return;
    fired = true;
    watcher.close();
    onChange(`error: ${err.message}`);
  });
  return { close: () => watcher.close() };
}
