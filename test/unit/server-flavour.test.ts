import { describe, expect, it } from 'vitest';
import { serverFlavour } from '../../lib/db.js';

describe('serverFlavour', () => {
  it.each([
    ['5.5.5-10.11.19-MariaDB-0+deb12u1', 'mariadb'],
    ['11.4.2-MariaDB', 'mariadb'],
    ['8.0.36', 'mysql'],
    ['8.0.mysql_aurora.3.05.2', 'unknown'],
    ['8.4.0-log', 'mysql'],
    ['5.7.8-log', 'mysql'],
    ['5.7.7', 'unknown'],
    ['5.6.51', 'unknown'],
    ['', 'unknown'],
    [undefined, 'unknown'],
  ])('reads %s as %s', (version, flavour) => {
    expect(serverFlavour(version)).toBe(flavour);
  });
});
