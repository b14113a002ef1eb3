// The PostgreSQL a bench may use: GATEHOUSE_TEST_POSTGRES_URL from the environment, else from
// build/test-services.env (written by scripts/test-services start); '' when neither names one.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function testPostgresUrl(root) {
  const file = join(root, 'build/test-services.env');
  if (process.env.GATEHOUSE_TEST_POSTGRES_URL || !existsSync(file)) return process.env.GATEHOUSE_TEST_POSTGRES_URL ?? '';
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('GATEHOUSE_TEST_POSTGRES_URL='));
  return line ? line.slice(line.indexOf('=') + 1).replace(/^['"]|['"]$/g, '') : '';
}
