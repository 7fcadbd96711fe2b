/**
 * `node self-signed-process.ts DOMAIN`: the child process of src/net/self-signed.ts. Builds one
 * self-signed certificate and prints `{"certificatePem", "keyPem"}` on standard output.
 */
import { generateSelfSigned } from './self-signed.ts';

const domain = process.argv[2];
if (domain === undefined) {
  process.stderr.write('usage: self-signed-process.ts DOMAIN\n');
  process.exit(2);
}
process.stdout.write(JSON.stringify(await generateSelfSigned(domain)));
