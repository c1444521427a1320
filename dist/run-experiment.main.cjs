if (typeof require == 'function') require('./engine-loader.cjs').boot(__dirname, 'run-experiment');
else import('./engine-loader.cjs').then((m) => (m.boot ?? m.default.boot)(process.argv[1].replace(/[\\/][^\\/]*$/, ''), 'run-experiment'));
