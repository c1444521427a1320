if (typeof require == 'function') require('./engine-loader.cjs').boot(__dirname, 'status');
else import('./engine-loader.cjs').then((m) => (m.boot ?? m.default.boot)(process.argv[1].replace(/[\\/][^\\/]*$/, ''), 'status'));
