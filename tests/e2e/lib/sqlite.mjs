// Reads the embedded audit database with the sqlite3 command line tool (Debian package sqlite3).
import { execFileSync } from 'node:child_process';

export function sqliteQuery(dbPath, sql) {
  let out;
  try {
    out = execFileSync('sqlite3', ['-json', '-readonly', dbPath, sql], { encoding: 'utf8', timeout: 20000 });
  } catch (err) {
    if (err.code === 'ENOENT') {
      throw new Error('the sqlite3 command line tool is missing: apt-get install sqlite3 (scripts/deps installs it)');
    }
    throw new Error(`sqlite3 ${dbPath} "${sql}" failed: ${err.stderr || err.message}`);
  }
  out = out.trim();
  return out ? JSON.parse(out) : [];
}

export const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`;
