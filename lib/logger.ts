// The one structured logger (Powertools, JSON lines to stdout). Data goes in fields; events, rows,
// passwords and tokens are never logged.

import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: 'eclectyc' });
