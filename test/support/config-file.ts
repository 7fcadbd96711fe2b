/**
 * The configuration file of a test server that is reloaded (`server.reload()` reads the file
 * again): data in ./data next to it, debug logging, client and server listeners on ports the
 * system picks, cheap SCRAM. `extraListeners` and `rest` are YAML lines added to it.
 */
export function reloadableConfig(rest: string, extraListeners = ''): string {
  return `
data_dir: ./data
log: { level: debug }
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["127.0.0.1"], port: 0 }
${extraListeners}c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
${rest}`;
}
