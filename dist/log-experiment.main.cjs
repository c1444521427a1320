if (typeof require == 'function') require('./engine-loader.cjs').boot(__dirname, 'log-experiment');
else import('./engine-loader.cjs').then((m) => (m.boot ?? m.default.boot)(process.argv[1].replace(/[\\/][^\\/]*$/, ''), 'log-experiment'));
