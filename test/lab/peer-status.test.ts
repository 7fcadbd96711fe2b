/**
 * How the lab reads the peers' s2s state: Prosody's `s2s:show` table, ejabberd's and jabberd2's logs. The
 * samples are the peers' real output. Needs no namespace.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseS2sLog } from '../support/lab/ejabberd.ts';
import { parseS2sLog as parseJabberd2Log } from '../support/lab/jabberd2.ts';
import { parseS2sShow } from '../support/lab/prosody.ts';

describe('Prosody s2s:show', () => {
  it('reads direction, domains, TLS, the authentication used and stream management', () => {
    const output = [
      'Type         | Dir  | Host                   | Remote                 | Security  | SASL       | SM          |  SM Queue',
      's2sout       | -->  | pros.test              | ej.sec.test            | TLSv1.3   | Succeeded  | yes         |         3',
      's2sin        | <--  | pros.test              | ej.sec.test            | TLSv1.3   |            | no          |          ',
      's2sin_unauthed | <--  | pros.test            | other.test             | insecure  |            | no          |          ',
      'OK: 3 s2s connections shown',
    ].join('\n');
    assert.deepEqual(parseS2sShow(output), [
      { direction: 'outgoing', localDomain: 'pros.test', remoteDomain: 'ej.sec.test', encrypted: true, authentication: 'sasl-external', streamManagement: { unacknowledged: 3 } },
      { direction: 'incoming', localDomain: 'pros.test', remoteDomain: 'ej.sec.test', encrypted: true, authentication: 'dialback' },
      { direction: 'incoming', localDomain: 'pros.test', remoteDomain: 'other.test', encrypted: false, authentication: 'none' },
    ]);
  });
});

describe('ejabberd log', () => {
  it('turns accepted s2s authentications into connections', () => {
    const log = [
      '2026-11-22 02:58:26.565330+00:00 [info] <0.480.0>@ejabberd_s2s_out:init/1:289 Outbound s2s connection started: ej.sec.test -> pros.test',
      '2026-11-22 02:58:26.588535+00:00 [info] <0.481.0>@ejabberd_s2s_in:handle_auth_success/4:183 (tls|<0.481.0>) Accepted inbound s2s EXTERNAL authentication pros.test -> ej.sec.test (127.0.0.1)',
      '2026-11-22 02:58:26.652521+00:00 [info] <0.480.0>@ejabberd_s2s_out:handle_auth_success/2:223 (tls|<0.480.0>) Accepted outbound s2s dialback authentication ej.sec.test -> pros.test (127.0.0.10)',
    ].join('\n');
    assert.deepEqual(parseS2sLog(log), [
      { direction: 'incoming', localDomain: 'ej.sec.test', remoteDomain: 'pros.test', encrypted: true, authentication: 'sasl-external' },
      { direction: 'outgoing', localDomain: 'ej.sec.test', remoteDomain: 'pros.test', encrypted: true, authentication: 'dialback' },
    ]);
  });
});

describe('jabberd2 log', () => {
  it('turns routes made valid by dialback into connections', () => {
    const log = [
      'Thu Dec  3 06:17:47 2026 [notice] [7] [127.0.0.20, port=5269] outgoing connection for \'trself.test\'',
      'Thu Dec  3 06:17:47 2026 [notice] [7] [127.0.0.20, port=5269] sending dialback auth request for route \'jab.test/trself.test\'',
      'Thu Dec  3 06:17:47 2026 [notice] [7] [127.0.0.20, port=5269] outgoing route \'jab.test/trself.test\' is now valid TLS',
      'Thu Dec  3 06:17:47 2026 [notice] [8] [127.0.0.1, port=46208] received dialback auth request for route \'jab.test/trself.test\'',
      'Thu Dec  3 06:17:47 2026 [notice] [8] [127.0.0.1, port=46208] incoming route \'jab.test/trself.test\' is now valid TLS',
      'Thu Dec  3 06:17:48 2026 [notice] [9] [127.0.0.30, port=5269] outgoing route \'jab.test/plain.test\' is now valid ',
    ].join('\n');
    assert.deepEqual(parseJabberd2Log(log), [
      { direction: 'outgoing', localDomain: 'jab.test', remoteDomain: 'trself.test', encrypted: true, authentication: 'dialback' },
      { direction: 'incoming', localDomain: 'jab.test', remoteDomain: 'trself.test', encrypted: true, authentication: 'dialback' },
      { direction: 'outgoing', localDomain: 'jab.test', remoteDomain: 'plain.test', encrypted: false, authentication: 'dialback' },
    ]);
  });
});
