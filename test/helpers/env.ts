// Handler modules build their config from process.env at import (cold start). Tests pass their own
// config to the handler factories, so the module-level one only has to load: give it placeholders.

process.env.DB_NAME ??= 'placeholder_not_used_by_tests';
process.env.DB_USER ??= 'placeholder_not_used_by_tests';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
