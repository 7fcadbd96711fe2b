/**
 * What contrib/ ships for installations (docs/install.md): the systemd unit passes
 * `systemd-analyze verify` without a warning (parsed and checked by hand where systemd is not
 * installed) and runs the server unprivileged with only CAP_NET_BIND_SERVICE; the example
 * configuration loads.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.ts';
import { selfSigned, writeCertificateFiles } from './support/lab/ca.ts';

const ROOT = join(import.meta.dirname, '..');
const TRELLIS = join(ROOT, 'bin', 'trellis');

function run(command: string, args: string[]): Promise<{ code: number | 'missing'; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, (error, _stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') resolve({ code: 'missing', stderr });
      else resolve({ code: error ? Number(error.code ?? 1) : 0, stderr });
    });
  });
}

/** The unit's [Service] settings; a key given more than once keeps every value. */
function serviceSettings(unit: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const equals = line.indexOf('=');
    assert.ok(equals > 0, `not a key=value line: ${line}`);
    if (section === 'Service') settings.set(line.slice(0, equals), [...(settings.get(line.slice(0, equals)) ?? []), line.slice(equals + 1)]);
  }
  return settings;
}

describe('contrib', () => {
  test('the systemd unit verifies and runs trellis unprivileged, binding low ports only', async () => {
    const unit = await readFile(join(ROOT, 'contrib', 'trellis.service'), 'utf8');
    const dir = await mkdtemp(join(tmpdir(), 'trellis-contrib-'));
    try {
      // verify checks that the commands exist: point them at this checkout's bin/trellis.
      const file = join(dir, 'trellis.service');
      await writeFile(file, unit.replaceAll('/opt/trellis/bin/trellis', TRELLIS));
      const verified = await run('systemd-analyze', ['verify', '--man=no', file]);
      if (verified.code !== 'missing') assert.deepEqual([verified.code, verified.stderr], [0, ''], 'systemd-analyze verify: no error and no warning');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const service = serviceSettings(unit);
    const one = (key: string): string | undefined => service.get(key)?.at(-1);
    assert.equal(one('User'), 'trellis');
    assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
    assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
    assert.equal(one('NoNewPrivileges'), 'true');
    assert.equal(one('StateDirectory'), 'trellis');
    assert.equal(one('ExecStart'), '/opt/trellis/bin/trellis start --config /etc/trellis/trellis.yaml');
    assert.equal(one('ExecReload'), '/opt/trellis/bin/trellis reload --config /etc/trellis/trellis.yaml');
    assert.equal(service.get('MemoryDenyWriteExecute'), undefined, 'V8 compiles code at run time');
  });

  test('the example configuration loads, with the data_dir the unit gives the server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-contrib-'));
    try {
      const certs = join(dir, 'certs', 'example.org');
      await mkdir(certs, { recursive: true });
      const { certFile, keyFile } = writeCertificateFiles(certs, 'example.org', await selfSigned('example.org'));
      const text = (await readFile(join(ROOT, 'contrib', 'trellis.yaml'), 'utf8'))
        .replace('/etc/trellis/certs/example.org/fullchain.pem', certFile)
        .replace('/etc/trellis/certs/example.org/privkey.pem', keyFile);
      await writeFile(join(dir, 'trellis.yaml'), text);
      const config = await loadConfig(join(dir, 'trellis.yaml'));
      assert.equal(config.data_dir, '/var/lib/trellis');
      assert.deepEqual([config.listeners.c2s.port, config.listeners.c2s_direct_tls.port, config.listeners.s2s.port, config.listeners.s2s_direct_tls.port], [5222, 5223, 5269, 5270]);
      assert.deepEqual(config.hosts.map((host) => host.domain), ['example.org']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
